package onnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	o, err := Parse([]string{"-pq", "-fnodes2", "-c", "all", "echo", "hi there"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Parallel || !o.Quiet || !o.CurrentDir || o.Verbose || o.NodesFile != "nodes2" || o.Nodes != "all" || !slices.Equal(o.Command, []string{"echo", "hi there"}) {
		t.Errorf("Parse: %+v", o)
	}
	o, err = Parse([]string{"-f", "x", "-i", "-n", "-v", "-P", "--", "-1", "cmd"})
	if err != nil {
		t.Fatal(err)
	}
	if o.NodesFile != "x" || !o.Stdin || !o.Names || !o.Verbose || !o.Push || o.Nodes != "-1" {
		t.Errorf("Parse: %+v", o)
	}
	for _, bad := range [][]string{{"all"}, {}, {"-h", "all", "x"}, {"-x", "all", "x"}, {"-f"}} {
		var ue *UsageError
		if _, err := Parse(bad); !errors.As(err, &ue) {
			t.Errorf("Parse(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestExpand(t *testing.T) {
	for spec, want := range map[string]string{
		"0":          "0",
		"0,2-4,1":    "0 2 3 4 1",
		"3-1":        "",
		"all,ok,con": "all ok con",
		"1,1":        "1 1",
	} {
		got, err := expand(spec, false)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("expand(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
	for _, bad := range []string{"x", "1-x", "-1", "1-2-3"} {
		if _, err := expand(bad, false); err == nil {
			t.Errorf("expand(%q): no error", bad)
		}
	}
	if got, err := expand("host1,2", true); err != nil || strings.Join(got, " ") != "host1 2" {
		t.Errorf("expand with names: %q, %v", got, err)
	}
}

// The comparison fixture: 4 PNNs, PNN 2 deleted (empty line); PNN 1 disconnected,
// PNN 3 unhealthy; only PNN 3 answers `ctdb pnn`.
const nodesFile = "10.0.0.1\n10.0.0.2   # second\n\n10.0.0.4\n"

var states = []NodeState{{0, 0}, {1, 0x01 | 0x20 /* also stopped */}, {2, flagDeleted}, {3, 0x02}}

// fakeSSH records its arguments and runs the command locally with FAKESSH_HOST set.
const fakeSSH = `#!/bin/sh
printf '%s\n' "$*" >> "$SSHLOG"
if [ "$1" = "-n" ]; then shift; exec </dev/null; fi
FAKESSH_HOST=$1; export FAKESSH_HOST; shift
exec sh -c "$1"
`

// fakeCtdb answers the two questions the script asks: -X status (as Debian's ctdb
// prints it for the states above) and pnn (per host).
const fakeCtdb = `#!/bin/sh
case "$*" in
"-X status")
	echo '|Node|IP|Disconnected|Unknown|Banned|Disabled|Unhealthy|Stopped|Inactive|PartiallyOnline|ThisNode|'
	echo '|0|10.0.0.1|0|0|0|0|0|0|0|0|Y|'
	echo '|1|10.0.0.2|1|0|0|0|0|1|1|0|N|'
	echo '|3|10.0.0.4|0|0|0|0|1|0|0|0|N|'
	;;
pnn)
	case "$FAKESSH_HOST" in
	10.0.0.4) echo 3 ;;
	*) echo "connection to daemon failed" >&2; exit 1 ;;
	esac
	;;
*) echo "fake ctdb: $*" >&2; exit 2 ;;
esac
`

type outcome struct {
	stdout, stderr, ssh string
	code                int
}

func (o outcome) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s--- ssh calls:\n%s", o.code, o.stdout, o.stderr, o.ssh)
}

type fixture struct {
	dir, base, bin, log string
	env                 []string
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{dir: t.TempDir()}
	f.base = filepath.Join(f.dir, "etc")
	f.bin = filepath.Join(f.dir, "bin")
	f.log = filepath.Join(f.dir, "ssh.log")
	for _, d := range []string{f.base, f.bin, filepath.Join(f.dir, "work")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(f.base, "nodes"), nodesFile, 0o644)
	write(filepath.Join(f.base, "nodes.small"), "10.1.0.1\n", 0o644)
	write(filepath.Join(f.bin, "fakessh"), fakeSSH, 0o755)
	write(filepath.Join(f.bin, "ctdb"), fakeCtdb, 0o755)
	f.env = []string{
		"PATH=" + f.bin + ":" + os.Getenv("PATH"),
		"CTDB_BASE=" + f.base,
		"ONNODE_SSH=" + filepath.Join(f.bin, "fakessh"),
		"SSHLOG=" + f.log,
		"HOME=" + f.dir,
		"CTDB_SOCKET=" + filepath.Join(f.dir, "no-daemon.socket"),
	}
	return f
}

// sorted sorts lines, for outputs of parallel runs.
func sorted(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(l)
	return strings.Join(l, "\n") + "\n"
}

func (f *fixture) finish(o outcome, parallel bool) outcome {
	b, _ := os.ReadFile(f.log)
	os.Remove(f.log)
	o.ssh = string(b)
	if parallel {
		o.stdout, o.stderr, o.ssh = sorted(o.stdout), sorted(o.stderr), sorted(o.ssh)
	}
	return o
}

func (f *fixture) ours(args []string, stdin string, extraEnv []string) outcome {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{
		Environ: append(slices.Clone(f.env), extraEnv...),
		Stdin:   strings.NewReader(stdin),
		Stdout:  &out,
		Stderr:  &errb,
		Dir:     filepath.Join(f.dir, "work"),
		Status:  func(context.Context) ([]NodeState, error) { return states, nil },
	})
	return f.finish(outcome{stdout: out.String(), stderr: errb.String(), code: code}, isParallel(args))
}

func (f *fixture) script(t *testing.T, args []string, stdin string, extraEnv []string) outcome {
	cmd := exec.Command(realOnnode, args...)
	cmd.Env = append(slices.Clone(f.env), extraEnv...)
	cmd.Dir = filepath.Join(f.dir, "work")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return f.finish(outcome{stdout: out.String(), stderr: errb.String(), code: code}, isParallel(args))
}

func isParallel(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return false
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "-f") && strings.Contains(a, "p") {
			return true
		}
	}
	return false
}

const realOnnode = "/usr/bin/onnode"

// TestLikeTheScript runs our onnode and Debian's onnode script with the same arguments,
// environment, fake ssh and fake ctdb, and requires the same standard output, standard
// error, exit status and ssh calls (lines sorted for parallel runs).
func TestLikeTheScript(t *testing.T) {
	if _, err := os.Stat(realOnnode); err != nil {
		t.Skipf("Debian's onnode not installed (%s: apt-get install ctdb): %v", realOnnode, err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("the onnode script needs bash")
	}
	f := newFixture(t)
	cases := []struct {
		args  []string
		stdin string
		env   []string
	}{
		{args: []string{"all", "echo", "on", "$FAKESSH_HOST"}},
		{args: []string{"1", "echo", "one"}},
		{args: []string{"-v", "1", "echo", "one"}},
		{args: []string{"-q", "all", "echo", "x"}},
		{args: []string{"-qv", "0,3", "echo", "x"}},
		{args: []string{"0-1,1,3", "echo", "$FAKESSH_HOST"}},
		{args: []string{"3-1", "echo", "nothing"}},
		{args: []string{"ok", "echo", "$FAKESSH_HOST"}},
		{args: []string{"healthy", "echo", "$FAKESSH_HOST"}},
		{args: []string{"con", "echo", "$FAKESSH_HOST"}},
		{args: []string{"connected,0", "echo", "$FAKESSH_HOST"}},
		{args: []string{"any", "echo", "$FAKESSH_HOST"}},
		{args: []string{"2", "echo", "deleted"}},
		{args: []string{"7", "echo", "missing"}},
		{args: []string{"nodeX", "echo", "name"}},
		{args: []string{"-n", "nodeX,0", "echo", "$FAKESSH_HOST"}},
		{args: []string{"all", "exit 3"}},
		{args: []string{"all", "[ $FAKESSH_HOST = 10.0.0.2 ] && exit 4; echo fine"}},
		{args: []string{"-p", "all", "echo", "$FAKESSH_HOST;", "echo", "err >&2"}},
		{args: []string{"-pq", "all", "echo", "$FAKESSH_HOST"}},
		{args: []string{"-p", "all", "[ $FAKESSH_HOST = 10.0.0.4 ] && exit 5; true"}},
		{args: []string{"-c", "0", "pwd"}},
		{args: []string{"-i", "0", "cat"}, stdin: "from stdin\n"},
		{args: []string{"0", "cat"}, stdin: "not read\n"},
		{args: []string{"-f", "nodes.small", "all", "echo", "$FAKESSH_HOST"}},
		{args: []string{"-f", "/nonexistent/nodes", "all", "true"}},
		{args: []string{"all"}},
		{args: []string{"-h"}},
		{args: []string{"0", "echo", "x"}, env: []string{"ONNODE_SSH=" + filepath.Join(f.bin, "fakessh") + " -o Opt=1"}},
	}
	for _, c := range cases {
		name := strings.Join(c.args, " ")
		want := f.script(t, c.args, c.stdin, c.env)
		got := f.ours(c.args, c.stdin, c.env)
		if strings.Contains(c.args[0], "any") {
			// The nodes are asked in parallel.
			want.ssh, got.ssh = sorted(want.ssh), sorted(got.ssh)
		}
		if got != want {
			t.Errorf("onnode %s:\nscript:\n%v\nours:\n%v", name, want, got)
		}
	}

	// onnode.conf may set the ssh command (a shell fragment).
	conf := filepath.Join(f.base, "onnode.conf")
	if err := os.WriteFile(conf, []byte("ONNODE_SSH=\"$ONNODE_SSH -o FromConf=yes\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"0,3", "echo", "conf"}
	want, got := f.script(t, args, "", nil), f.ours(args, "", nil)
	if got != want || !strings.Contains(got.ssh, "FromConf=yes") {
		t.Errorf("with onnode.conf:\nscript:\n%v\nours:\n%v", want, got)
	}
}

// TestStatusFailure: ok without a daemon fails before running anything.
func TestStatusFailure(t *testing.T) {
	f := newFixture(t)
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"ok", "echo", "x"}, Env{
		Environ: f.env, Stdout: &out, Stderr: &errb, Dir: f.dir,
	})
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "onnode: unable to get status of CTDB nodes") || !strings.Contains(errb.String(), "no-daemon.socket") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	if _, err := os.Stat(f.log); err == nil {
		t.Error("ssh ran although the node list could not be made")
	}
}
