// Package compat checks that our ctdb tool prints what Debian's real CTDB
// 4.17 tool prints: both run the same commands against a 3-node cluster of
// our ctdbd on loopback (127.0.7.1-3, so it does not clash with `make run`),
// and their standard output, standard error and exit status must agree, up
// to the parts that differ from one run to the next (times, durations,
// generations, statistics counters).
//
// The test is skipped when /usr/bin/ctdb (Debian package ctdb) is absent.
package compat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const realTool = "/usr/bin/ctdb"

type cluster struct {
	t     *testing.T
	bin   string // our binaries
	dir   string
	procs []*exec.Cmd
}

func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", bin+"/", "./ctdbd/cmd/ctdbd", "./ctdbd/cmd/ctdb", "./ctdbd/cmd/ctdb_mutex_fcntl_helper")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func nodeAddr(i int) string { return fmt.Sprintf("127.0.7.%d", i+1) }

func (c *cluster) base(i int) string   { return filepath.Join(c.dir, fmt.Sprintf("node%d", i)) }
func (c *cluster) socket(i int) string { return filepath.Join(c.base(i), "run", "ctdbd.socket") }

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, bin: buildBinaries(t), dir: t.TempDir(), procs: make([]*exec.Cmd, 3)}
	for i := 0; i < 3; i++ {
		b := c.base(i)
		for _, d := range []string{"etc/events/legacy", "etc/events.d", "var", "run"} {
			if err := os.MkdirAll(filepath.Join(b, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		nodes := nodeAddr(0) + "\n" + nodeAddr(1) + "\n" + nodeAddr(2) + "\n"
		conf := fmt.Sprintf("[logging]\n\tlocation = file:%s/log.ctdb\n\tlog level = NOTICE\n[cluster]\n\tnode address = %s\n\tcluster lock = %s/cluster.lock\n",
			b, nodeAddr(i), c.dir)
		if err := os.WriteFile(filepath.Join(b, "etc", "nodes"), []byte(nodes), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b, "etc", "ctdb.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for i := range c.procs {
			c.kill(i)
		}
	})
	for i := 0; i < 3; i++ {
		c.start(i)
	}
	c.waitHealthy()
	return c
}

func (c *cluster) env(i int) []string {
	b := c.base(i)
	return []string{
		"CTDB_BASE=" + filepath.Join(b, "etc"),
		"CTDB_SOCKET=" + c.socket(i),
		"CTDB_VARDIR=" + filepath.Join(b, "var"),
		"TZ=UTC",
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}
}

func (c *cluster) start(i int) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, "ctdbd"), "--sysconfig", "none")
	cmd.Env = c.env(i)
	out, err := os.OpenFile(filepath.Join(c.base(i), "ctdbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start ctdbd %d: %v", i, err)
	}
	c.procs[i] = cmd
}

// kill stops node i's process group (ctdbd and its lock helper) and reaps it.
func (c *cluster) kill(i int) {
	cmd := c.procs[i]
	if cmd == nil {
		return
	}
	c.procs[i] = nil
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// waitExited reaps node i after it shut itself down (ctdb shutdown).
func (c *cluster) waitExited(i int) {
	c.t.Helper()
	cmd := c.procs[i]
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		c.procs[i] = nil
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a lingering helper
	case <-time.After(30 * time.Second):
		c.t.Fatalf("ctdbd %d did not exit after ctdb shutdown", i)
	}
}

// waitHealthy waits until node 0 sees every node OK (our tool's nodestatus
// exits with the OR of all flags), the recovery mode NORMAL and a leader.
// The deadline only guards against a hang.
func (c *cluster) waitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _, code := c.run(filepath.Join(c.bin, "ctdb"), 0, "-X", "nodestatus", "all")
		if code == 0 {
			out, _, _ := c.run(filepath.Join(c.bin, "ctdb"), 0, "status")
			if strings.Contains(out, "Recovery mode:NORMAL (0)") && !strings.Contains(out, "Leader:UNKNOWN") {
				return
			}
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(filepath.Join(c.base(0), "log.ctdb"))
			c.t.Fatalf("cluster not healthy after 60s; node 0 log:\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run runs a ctdb tool against node i in its own session (the real tool's
// maximum-runtime alarm signals its whole process group) under timeout(1).
func (c *cluster) run(tool string, i int, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	return runTool(c.t, tool, c.env(i), args...)
}

func runTool(t *testing.T, tool string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	argv := append([]string{"-k", "5", "90", tool, "-T", "80"}, args...)
	cmd := exec.Command("timeout", argv...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", tool, err)
	}
	err := cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %v", tool, err)
		}
		code = ee.ExitCode()
	}
	if code == 124 || code == 137 {
		t.Fatalf("%s %s timed out; stderr:\n%s", tool, strings.Join(args, " "), errb.String())
	}
	return out.String(), errb.String(), code
}

// normalizers replace what legitimately differs between two runs.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}`), "DATE"},
	{regexp.MustCompile(`\(\d{3} \d\d:\d\d:\d\d\)`), "(ELAPSED)"},
	{regexp.MustCompile(`Duration of last recovery/failover: -?[0-9.]+ seconds`), "Duration of last recovery/failover: D seconds"},
	{regexp.MustCompile(`time=[0-9.]+ sec`), "time=T sec"},
	{regexp.MustCompile(`Generation:\d+`), "Generation:G"},
}

// statistics counters move between runs: keep only the layout.
var digits = regexp.MustCompile(`\d+(\.\d+)?`)

func normalize(cmd, s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	if strings.Contains(cmd, "statistics") && !strings.Contains(cmd, "reset") {
		s = digits.ReplaceAllString(s, "N")
	}
	return s
}

type step struct {
	node int // the node whose socket the tool uses
	args []string
}

func steps(node int, cmds ...string) []step {
	var s []step
	for _, c := range cmds {
		s = append(s, step{node: node, args: strings.Fields(c)})
	}
	return s
}

type result struct {
	stdout, stderr string
	code           int
}

// compareSequence runs the steps with the real tool, then with ours (each
// sequence leaves the cluster as it found it), and compares step by step.
func compareSequence(t *testing.T, c *cluster, name string, seq []step) {
	t.Run(name, func(t *testing.T) {
		runAll := func(tool string) []result {
			var rs []result
			for _, s := range seq {
				o, e, code := runTool(t, tool, c.env(s.node), s.args...)
				rs = append(rs, result{o, e, code})
			}
			return rs
		}
		real := runAll(realTool)
		ours := runAll(filepath.Join(c.bin, "ctdb"))
		for i, s := range seq {
			cmd := strings.Join(s.args, " ")
			r, o := real[i], ours[i]
			if r.code != o.code {
				t.Errorf("ctdb %s (node %d): exit %d, real ctdb exits %d\nours stderr: %s\nreal stderr: %s", cmd, s.node, o.code, r.code, o.stderr, r.stderr)
			}
			if a, b := normalize(cmd, o.stdout), normalize(cmd, r.stdout); a != b {
				t.Errorf("ctdb %s (node %d): stdout differs\nours:\n%s\nreal:\n%s", cmd, s.node, o.stdout, r.stdout)
			}
			if a, b := normalize(cmd, o.stderr), normalize(cmd, r.stderr); a != b {
				t.Errorf("ctdb %s (node %d): stderr differs\nours:\n%s\nreal:\n%s", cmd, s.node, o.stderr, r.stderr)
			}
		}
	})
}

func TestOurToolMatchesRealTool(t *testing.T) {
	if _, err := os.Stat(realTool); err != nil {
		t.Skipf("%s not installed (apt-get install ctdb): %v", realTool, err)
	}
	if _, err := exec.LookPath("timeout"); err != nil {
		t.Skipf("timeout(1) not found: %v", err)
	}
	c := newCluster(t)

	compareSequence(t, c, "readonly", steps(0,
		"status", "-X status", "-Y status", "-x : -Y status", "status x",
		"nodestatus", "nodestatus all", "-X nodestatus all", "nodestatus 0,2", "nodestatus 5",
		"nodestatus x", "nodestatus 1 2", "-n 2 nodestatus all", "-n 1 nodestatus",
		"listnodes", "-X listnodes", "-n 1 listnodes",
		"leader", "-n 1 leader", "pnn", "pnn x", "-n 1 pnn",
		"ping", "-n 1 ping", "-n 7 ping", "-n x ping",
		"uptime", "-n 2 uptime", "getpid", "-n 1 getpid",
		"runstate", "runstate foo", "runstate startup", "runstate startup running", "-n 2 runstate",
		"getcapabilities", "-X getcapabilities", "-n 1 getcapabilities",
		"getreclock", "-n 2 getreclock",
		"getvar MonitorInterval", "getvar monitorINTERVAL", "getvar nosuch", "getvar VacuumLimit", "getvar",
		"listvars", "-n 2 listvars", "-X listvars",
		"getdebug", "-n 1 getdebug", "setdebug FOO", "setdebug",
		"setvar MonitorInterval x", "setvar nosuch 1", "setvar MonitorInterval",
		"statistics", "-X statistics", "-n 1 statistics", "statisticsreset", "-n 2 statisticsreset",
		"ban x", "ban 0", "ban", "unban", "-n 1 unban",
		"enable", "continue",
		"reloadnodes", "-n 1 reloadnodes",
		"-n 1 version", "foo",
	))
	compareSequence(t, c, "tunables", steps(1,
		"setvar MonitorInterval 20", "getvar MonitorInterval", "-n 0 setvar monitorinterval 0x10",
		"-n 0 getvar MonitorInterval", "setvar MonitorInterval 0", "-n 0 setvar MonitorInterval 15",
		"setvar MonitorInterval 15", "getvar MonitorInterval",
	))
	compareSequence(t, c, "debug", steps(2,
		"setdebug DEBUG", "getdebug", "setdebug 7", "getdebug", "setdebug 2", "getdebug",
		"-n 0 setdebug in", "-n 0 getdebug", "-n 0 setdebug NOTICE", "setdebug NOTICE", "getdebug",
	))
	compareSequence(t, c, "disable", steps(0,
		"disable", "disable", "nodestatus", "-X status", "enable", "enable", "nodestatus",
		"-n 1 disable", "nodestatus all", "-n 1 enable",
	))
	compareSequence(t, c, "stop", steps(1,
		"-n 2 stop", "-n 2 stop", "nodestatus all", "-n 2 continue", "-n 2 continue",
	))
	compareSequence(t, c, "ban", steps(0,
		"-n 2 ban 100", "-n 2 ban 100", "-X nodestatus all", "-n 2 unban", "-n 2 unban",
	))
	compareSequence(t, c, "recover", steps(0, "recover", "-n 1 recover", "status"))
	c.waitHealthy()

	// Without a daemon: the socket is missing, with and without a nodes file.
	t.Run("nodaemon", func(t *testing.T) {
		for _, env := range [][]string{
			{"CTDB_SOCKET=" + filepath.Join(c.dir, "nosuch.socket"), "CTDB_BASE=" + filepath.Join(c.base(0), "etc"), "TZ=UTC"},
			{"CTDB_SOCKET=" + filepath.Join(c.dir, "nosuch.socket"), "CTDB_BASE=" + c.dir, "TZ=UTC"},
		} {
			for _, args := range [][]string{{"pnn"}, {"-n", "1", "status"}, {"listnodes"}, {"version"}} {
				ro, re, rc := runTool(t, realTool, env, args...)
				oo, oe, oc := runTool(t, filepath.Join(c.bin, "ctdb"), env, args...)
				if args[0] == "version" {
					ro, oo = version.ReplaceAllString(ro, "V"), version.ReplaceAllString(oo, "V")
				}
				if ro != oo || re != oe || rc != oc {
					t.Errorf("ctdb %v with %v:\nours: exit %d\n%s%s\nreal: exit %d\n%s%s", args, env, oc, oo, oe, rc, ro, re)
				}
			}
		}
	})

	// shutdown, local and through another node: each tool shuts node 2 down,
	// which is then started again.
	t.Run("shutdown", func(t *testing.T) {
		for _, s := range []step{{node: 2, args: []string{"shutdown"}}, {node: 0, args: []string{"-n", "2", "shutdown"}}} {
			var res []result
			for _, tool := range []string{realTool, filepath.Join(c.bin, "ctdb")} {
				o, e, code := runTool(t, tool, c.env(s.node), s.args...)
				res = append(res, result{o, e, code})
				c.waitExited(2)
				c.start(2)
				c.waitHealthy()
			}
			if res[0] != res[1] {
				t.Errorf("ctdb %v on node %d: ours %+v, real %+v", s.args, s.node, res[1], res[0])
			}
		}
	})
}

var version = regexp.MustCompile(`^4\.17\.\d+-\S+\n$`)
