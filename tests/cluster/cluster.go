// Package cluster runs a CTDB cluster of real processes for tests and benchmarks: one
// network namespace per node, joined by veth pairs to a bridge in a namespace of its own
// (addresses 10.77.0.1, 10.77.0.2, ...), either of our ctdbd (built from
// ctdbd/cmd/ctdbd) or of Debian's real CTDB 4.17 (/usr/sbin/ctdbd).
//
// A Cluster promises:
//   - everything it creates (namespaces, links, mounts, processes, files) is removed when
//     the test or benchmark ends, passed or failed (tb.Cleanup); it only ever signals
//     processes it started and their descendants, found by PID through /proc;
//   - Kill9 is a node crash: the node's ctdbd and every process below it are stopped
//     and killed with SIGKILL together, so nothing of the node (the real ctdbd's
//     lingering eventd, recoverd or cluster lock helper) survives to hold the cluster
//     lock or block a restart;
//   - the real ctdbd runs with its compiled-in paths (/etc/ctdb, /run/ctdb,
//     /var/lib/ctdb) bind-mounted, in the node's own mount namespace, onto the node's
//     directory; the host's directories are never written;
//   - a node's Unix socket is at Socket(i) on the host for both kinds, so tests can
//     speak the protocol to either daemon directly (View, Leader).
//
// It needs root, iproute2 and nsenter (util-linux), and for the real kind the ctdb
// package; Start skips the test (tb.Skip, with the reason) when something is missing.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// Kind selects which daemon a Cluster runs.
type Kind int

const (
	// Ours is our ctdbd, built from ctdbd/cmd/ctdbd.
	Ours Kind = iota
	// Real is Debian's CTDB 4.17: /usr/sbin/ctdbd from the ctdb package.
	Real
)

func (k Kind) String() string {
	if k == Real {
		return "real"
	}
	return "ours"
}

// Paths of the real CTDB (Debian's ctdb package).
const (
	RealCtdbd = "/usr/sbin/ctdbd"
	RealTool  = "/usr/bin/ctdb"
)

// Options tune a cluster; the zero value is a stock cluster.
type Options struct {
	// BinDir holds our ctdbd, ctdb_mutex_fcntl_helper and ctdb (BuildOurs); empty builds
	// them for this cluster (Ours only).
	BinDir string
	// Tool is the ctdb tool Ctdb runs; empty means the real one (RealTool).
	Tool string
	// Tunables ("Name=Value") for every node: ctdb.tunables for the real daemon,
	// CTDB_SET_Name=Value for ours. Empty means the daemons' defaults.
	Tunables []string
	// LogLevel of every node's log (Log(i)); default NOTICE.
	LogLevel string
	// PublicAddresses ("ADDR/BITS") for every node, hosted on eth0 (Ours only). A
	// client namespace on the same bridge can reach them (Client).
	PublicAddresses []string
}

// Cluster is a set of nodes in network namespaces. Its methods are meant for the test's
// goroutine; a failure to set up or control a node fails the test (tb.Fatal), while
// queries (View, Leader, Ctdb) return errors, because a node may be down on purpose.
type Cluster struct {
	tb     testing.TB
	kind   Kind
	opts   Options
	sw     string
	dir    string
	nodes  []*node
	client string // client namespace, if created
}

type node struct {
	ns    string
	dir   string
	cmd   *exec.Cmd
	stdin *os.File // held open: the real ctdbd -i exits when its stdin reaches EOF
	done  chan struct{}
}

var (
	seq        atomic.Int32
	reaperOnce sync.Once
)

// Start creates a cluster of n nodes of the given kind with default options, starts
// every node and returns without waiting for them (see WaitAllOK).
func Start(tb testing.TB, kind Kind, n int) *Cluster {
	tb.Helper()
	c := New(tb, kind, n, Options{})
	for i := 0; i < n; i++ {
		c.Start(i)
	}
	return c
}

// Skip skips tb unless clusters of kind can run here (root, iproute2, nsenter, network
// namespaces, and the ctdb package for the real kind).
func Skip(tb testing.TB, kind Kind) {
	tb.Helper()
	if reason := cannotRun(kind); reason != "" {
		tb.Skip(reason)
	}
}

func cannotRun(kind Kind) string {
	if runtime.GOOS != "linux" {
		return "cluster: needs Linux network namespaces"
	}
	if os.Geteuid() != 0 {
		return "cluster: needs root for network namespaces"
	}
	for _, p := range []string{"ip", "nsenter", "mount"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Sprintf("cluster: needs %s (iproute2, util-linux)", p)
		}
	}
	if kind == Real {
		for _, p := range []string{RealCtdbd, RealTool} {
			if _, err := os.Stat(p); err != nil {
				return fmt.Sprintf("cluster: real CTDB not installed (%s missing: apt-get install ctdb)", p)
			}
		}
	}
	name := fmt.Sprintf("ctdbprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Sprintf("cluster: cannot create network namespaces here: %v: %s", err, bytes.TrimSpace(out))
	}
	exec.Command("ip", "netns", "del", name).Run()
	return ""
}

// BuildOurs builds our ctdbd, ctdb_mutex_fcntl_helper and ctdb into a directory that is
// removed when tb ends, and returns it (for Options.BinDir, to build once for several
// clusters).
func BuildOurs(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	const mod = "github.com/ctdb-go/ctdb/ctdbd/cmd/"
	cmd := exec.Command("go", "build", "-o", dir+"/", mod+"ctdbd", mod+"ctdb_mutex_fcntl_helper", mod+"ctdb")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("cluster: building our binaries: %v\n%s", err, out)
	}
	return dir
}

// New creates the namespaces, bridge and configuration of an n-node cluster without
// starting any node. It skips tb when clusters of kind cannot run here.
func New(tb testing.TB, kind Kind, n int, opts Options) *Cluster {
	tb.Helper()
	Skip(tb, kind)
	if kind == Ours && opts.BinDir == "" {
		opts.BinDir = BuildOurs(tb)
	}
	if opts.Tool == "" {
		opts.Tool = RealTool
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "NOTICE"
	}
	reaperOnce.Do(becomeSubreaper)
	id := fmt.Sprintf("%d%c", os.Getpid()%100000, 'a'+rune(seq.Add(1)%26))
	c := &Cluster{tb: tb, kind: kind, opts: opts, sw: "ctdbsw" + id, dir: tb.TempDir()}
	shared := filepath.Join(c.dir, "shared")
	must(tb, os.MkdirAll(shared, 0o755))
	tb.Cleanup(c.cleanup)
	c.run("ip", "netns", "add", c.sw)
	c.run("ip", "-n", c.sw, "link", "add", "br0", "type", "bridge")
	c.run("ip", "-n", c.sw, "link", "set", "br0", "up")
	var nodes strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&nodes, "%s\n", Addr(i))
	}
	for i := 0; i < n; i++ {
		nd := &node{ns: fmt.Sprintf("ctdbn%s-%d", id, i), dir: filepath.Join(c.dir, fmt.Sprintf("node%d", i))}
		c.nodes = append(c.nodes, nd)
		c.run("ip", "netns", "add", nd.ns)
		c.run("ip", "-n", nd.ns, "link", "add", "eth0", "type", "veth", "peer", "name", fmt.Sprintf("p%d", i), "netns", c.sw)
		c.run("ip", "-n", c.sw, "link", "set", fmt.Sprintf("p%d", i), "master", "br0", "up")
		c.run("ip", "-n", nd.ns, "addr", "add", Addr(i)+"/24", "dev", "eth0")
		c.run("ip", "-n", nd.ns, "link", "set", "eth0", "up")
		c.run("ip", "-n", nd.ns, "link", "set", "lo", "up")
		if kind == Real {
			c.configureReal(nd, nodes.String(), shared)
		} else {
			c.configureOurs(nd, nodes.String(), shared)
		}
	}
	return c
}

// Addr is node i's address.
func Addr(i int) string { return fmt.Sprintf("10.77.0.%d", i+1) }

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("cluster: %v", err)
	}
}

func (c *Cluster) write(path, content string) {
	c.tb.Helper()
	must(c.tb, os.MkdirAll(filepath.Dir(path), 0o755))
	must(c.tb, os.WriteFile(path, []byte(content), 0o644))
}

// configureOurs: DIR/etc (CTDB_BASE: nodes, ctdb.conf, events.d), DIR/sysconfig,
// DIR/run (socket), DIR/var.
func (c *Cluster) configureOurs(nd *node, nodes, shared string) {
	etc := filepath.Join(nd.dir, "etc")
	for _, d := range []string{filepath.Join(etc, "events.d"), filepath.Join(nd.dir, "run"), filepath.Join(nd.dir, "var")} {
		must(c.tb, os.MkdirAll(d, 0o755))
	}
	c.write(filepath.Join(etc, "nodes"), nodes)
	// No node address: each node finds itself by the address it can bind.
	c.write(filepath.Join(etc, "ctdb.conf"), "[logging]\n\tlocation = file:"+filepath.Join(nd.dir, "log")+"\n\tlog level = "+c.opts.LogLevel+"\n")
	lines := []string{
		"CTDB_RECOVERY_LOCK=" + filepath.Join(shared, ".reclock"),
		"CTDB_SOCKET=" + filepath.Join(nd.dir, "run", "ctdbd.socket"),
		"CTDB_VARDIR=" + filepath.Join(nd.dir, "var"),
		"CTDB_EVENT_SCRIPT_DIR=" + filepath.Join(etc, "events.d"),
	}
	for _, t := range c.opts.Tunables {
		lines = append(lines, "CTDB_SET_"+t)
	}
	c.write(filepath.Join(nd.dir, "sysconfig"), strings.Join(lines, "\n")+"\n")
	if len(c.opts.PublicAddresses) > 0 {
		var pa strings.Builder
		for _, a := range c.opts.PublicAddresses {
			fmt.Fprintf(&pa, "%s eth0\n", a)
		}
		c.write(filepath.Join(etc, "public_addresses"), pa.String())
	}
}

// configureReal: DIR/etc is bind-mounted on /etc/ctdb, DIR/run on /run/ctdb, DIR/var on
// /var/lib/ctdb. No event script is enabled (as for ours); the notification script is
// Debian's own, copied.
func (c *Cluster) configureReal(nd *node, nodes, shared string) {
	etc := filepath.Join(nd.dir, "etc")
	for _, d := range []string{
		filepath.Join(etc, "events", "legacy"), filepath.Join(etc, "events", "notification"),
		filepath.Join(nd.dir, "run"),
		filepath.Join(nd.dir, "var", "volatile"), filepath.Join(nd.dir, "var", "persistent"), filepath.Join(nd.dir, "var", "state"),
	} {
		must(c.tb, os.MkdirAll(d, 0o755))
	}
	c.write(filepath.Join(etc, "nodes"), nodes)
	c.write(filepath.Join(etc, "ctdb.conf"), "[logging]\n\tlocation = file:"+filepath.Join(nd.dir, "log")+
		"\n\tlog level = "+c.opts.LogLevel+"\n[cluster]\n\tcluster lock = "+filepath.Join(shared, ".reclock")+"\n")
	c.write(filepath.Join(etc, "ctdb.tunables"), strings.Join(c.opts.Tunables, "\n")+"\n")
	for _, f := range []string{"notify.sh", "functions"} {
		if b, err := os.ReadFile(filepath.Join("/etc/ctdb", f)); err == nil {
			must(c.tb, os.WriteFile(filepath.Join(etc, f), b, 0o755))
		}
	}
}

// realSetup runs in the node's fresh mount namespace (made by ip netns exec, a slave of
// the host's, so nothing propagates back): a private /run, and the node's directories
// on the real ctdbd's compiled-in paths. $1 is the node directory; the rest is the
// command to exec.
const realSetup = `set -e
d=$1; shift
mount -t tmpfs -o mode=0755,size=16m ctdbrun /run
mkdir -p /run/ctdb /run/lock
mount --bind "$d/run" /run/ctdb
mount --bind "$d/etc" /etc/ctdb
mount --bind "$d/var" /var/lib/ctdb
exec "$@"
`

func (c *Cluster) run(args ...string) {
	c.tb.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		c.tb.Fatalf("cluster: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// env is a clean environment for the daemons and tools: no CTDB_* of the caller.
func (c *Cluster) env(nd *node, extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CTDB_") {
			env = append(env, e)
		}
	}
	env = append(env, "CTDB_SOCKET="+filepath.Join(nd.dir, "run", "ctdbd.socket"))
	return append(env, extra...)
}

// Start starts node i (again); it must not be running.
func (c *Cluster) Start(i int) {
	c.tb.Helper()
	nd := c.nodes[i]
	if nd.cmd != nil {
		c.tb.Fatalf("cluster: node %d already running (pid %d)", i, nd.cmd.Process.Pid)
	}
	var cmd *exec.Cmd
	if c.kind == Real {
		// -i: no fork, so the PID is ctdbd's and it stays our child (reaped here, not by
		// a PID 1 that may not reap).
		cmd = exec.Command("ip", "netns", "exec", nd.ns, "sh", "-c", realSetup, "sh", nd.dir, RealCtdbd, "-i")
		cmd.Env = c.env(nd)
	} else {
		cmd = exec.Command("ip", "netns", "exec", nd.ns, filepath.Join(c.opts.BinDir, "ctdbd"), "--sysconfig", filepath.Join(nd.dir, "sysconfig"))
		cmd.Env = c.env(nd, "CTDB_BASE="+filepath.Join(nd.dir, "etc"))
	}
	log, err := os.OpenFile(filepath.Join(nd.dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	must(c.tb, err)
	r, w, err := os.Pipe()
	must(c.tb, err)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, log, log
	// If this process dies without its cleanups (killed, or a test timeout), the
	// daemon dies with it; the real one's helpers follow their ctdbd.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		log.Close()
		c.tb.Fatalf("cluster: starting node %d: %v", i, err)
	}
	r.Close()
	nd.cmd, nd.stdin, nd.done = cmd, w, make(chan struct{})
	done := nd.done
	go func() { cmd.Wait(); log.Close(); close(done) }()
}

// Running reports whether node i's daemon was started and not stopped or killed.
func (c *Cluster) Running(i int) bool { return c.nodes[i].cmd != nil }

// PID is the PID of node i's ctdbd, 0 when it is not running.
func (c *Cluster) PID(i int) int {
	if nd := c.nodes[i]; nd.cmd != nil {
		return nd.cmd.Process.Pid
	}
	return 0
}

// N is the number of nodes.
func (c *Cluster) N() int { return len(c.nodes) }

// Kind is the kind of daemon the cluster runs.
func (c *Cluster) Kind() Kind { return c.kind }

// Dir is node i's directory (configuration, logs, state).
func (c *Cluster) Dir(i int) string { return c.nodes[i].dir }

// Socket is node i's Unix socket path, valid on the host for both kinds.
func (c *Cluster) Socket(i int) string { return filepath.Join(c.nodes[i].dir, "run", "ctdbd.socket") }

// Log is node i's log file.
func (c *Cluster) Log(i int) string { return filepath.Join(c.nodes[i].dir, "log") }

// KillDaemon kills only node i's ctdbd with SIGKILL (a daemon crash, not a node crash):
// its helpers see their parent die and act on it (the lock helper releases the lock,
// the address janitor removes the public addresses). They are reaped here.
func (c *Cluster) KillDaemon(i int) {
	nd := c.nodes[i]
	if nd.cmd == nil {
		return
	}
	children := descendants(nd.cmd.Process.Pid, readPPIDs())
	nd.cmd.Process.Signal(syscall.SIGKILL)
	for _, p := range c.finish(i, children) {
		syscall.Kill(p, syscall.SIGKILL)
		reap([]int{p}, 5*time.Second)
	}
}

// NS is node i's network namespace.
func (c *Cluster) NS(i int) string { return c.nodes[i].ns }

// Client creates (once) a client namespace on the cluster's bridge with address addr
// ("A.B.C.D/BITS") and returns its name.
func (c *Cluster) Client(addr string) string {
	c.tb.Helper()
	name := c.sw + "-cl"
	if c.client == "" {
		c.run("ip", "netns", "add", name)
		c.client = name
		c.run("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "pcl", "netns", c.sw)
		c.run("ip", "-n", c.sw, "link", "set", "pcl", "master", "br0", "up")
		c.run("ip", "-n", name, "addr", "add", addr, "dev", "eth0")
		c.run("ip", "-n", name, "link", "set", "eth0", "up")
		c.run("ip", "-n", name, "link", "set", "lo", "up")
	}
	return name
}

// Kill9 crashes node i: its ctdbd and all processes below it are frozen (SIGSTOP) and
// killed with SIGKILL, and reaped. A node that is not running is left alone.
func (c *Cluster) Kill9(i int) {
	nd := c.nodes[i]
	if nd.cmd == nil {
		return
	}
	pids := freezeTree(nd.cmd.Process.Pid)
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	c.finish(i, pids[1:])
}

// finish waits for node i's ctdbd to exit and reaps the descendants it left; it returns
// those still alive after 10 s.
func (c *Cluster) finish(i int, rest []int) []int {
	nd := c.nodes[i]
	<-nd.done
	nd.stdin.Close()
	nd.cmd, nd.stdin = nil, nil
	return reap(rest, 10*time.Second)
}

// Stop stops node i cleanly, as admins do: `ctdb shutdown` for the real daemon (it has
// no SIGTERM handler), SIGTERM for ours; after 30 s it is killed (Kill9).
func (c *Cluster) Stop(i int) {
	nd := c.nodes[i]
	if nd.cmd == nil {
		return
	}
	// Children born during the shutdown are collected too: once ctdbd is gone, they are
	// reparented to this process and only their PIDs tell them apart.
	children := c.Processes(i)[1:]
	seen := map[int]bool{}
	for _, p := range children {
		seen[p] = true
	}
	if c.kind == Real {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := c.CtdbCmd(ctx, RealTool, i, "shutdown")
		if err := cmd.Start(); err == nil {
			go cmd.Wait()
		}
	} else {
		nd.cmd.Process.Signal(syscall.SIGTERM)
	}
	limit := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			for _, p := range descendants(nd.cmd.Process.Pid, readPPIDs()) {
				if !seen[p] {
					seen[p] = true
					children = append(children, p)
				}
			}
			continue
		case <-nd.done:
			for _, p := range c.finish(i, children) {
				syscall.Kill(p, syscall.SIGKILL)
				reap([]int{p}, 5*time.Second)
			}
		case <-limit:
			c.tb.Logf("cluster: node %d did not stop within 30 s; killing it", i)
			c.Kill9(i)
		}
		return
	}
}

// StopAll stops every running node (in parallel).
func (c *Cluster) StopAll() {
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); c.Stop(i) }()
	}
	wg.Wait()
}

// SetLink brings node i's link to the bridge up or down (a cut cable).
func (c *Cluster) SetLink(i int, up bool) {
	c.tb.Helper()
	state := "down"
	if up {
		state = "up"
	}
	c.run("ip", "-n", c.sw, "link", "set", fmt.Sprintf("p%d", i), state)
}

// Processes lists the PIDs of node i: its ctdbd first, then every descendant.
func (c *Cluster) Processes(i int) []int {
	if p := c.PID(i); p != 0 {
		return append([]int{p}, descendants(p, readPPIDs())...)
	}
	return nil
}

// RSS is the resident memory of all processes of node i together, in bytes.
func (c *Cluster) RSS(i int) (int64, error) {
	pids := c.Processes(i)
	if len(pids) == 0 {
		return 0, fmt.Errorf("cluster: node %d is not running", i)
	}
	var total int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue // exited meanwhile
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
				var kb int64
				fmt.Sscan(f[1], &kb)
				total += kb * 1024
			}
		}
	}
	return total, nil
}

// CtdbCmd is the command that runs tool (a ctdb binary) with args in node i's context:
// inside the daemon's network and mount namespaces (nsenter), or the node's network
// namespace when the daemon is down, with CTDB_SOCKET and CTDB_BASE of the node, in a
// session of its own (the real tool's alarm does kill(0, SIGTERM)).
func (c *Cluster) CtdbCmd(ctx context.Context, tool string, i int, args ...string) *exec.Cmd {
	nd := c.nodes[i]
	var argv []string
	base := filepath.Join(nd.dir, "etc")
	if pid := c.PID(i); pid != 0 {
		argv = []string{"nsenter", "-t", fmt.Sprint(pid), "-m", "-n", "--", tool}
	} else {
		argv = []string{"ip", "netns", "exec", nd.ns, tool}
	}
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...)
	cmd.Env = c.env(nd, "CTDB_BASE="+base)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd
}

// Ctdb runs the cluster's ctdb tool (Options.Tool) with args in node i's context (see
// CtdbCmd), for at most 30 s, and returns its standard output and, on failure, an error
// with its exit status and standard error.
func (c *Cluster) Ctdb(i int, args ...string) (string, error) {
	return c.CtdbWith(c.opts.Tool, i, args...)
}

// CtdbWith is Ctdb with another tool binary (e.g. ours from BuildOurs, or RealTool).
func (c *Cluster) CtdbWith(tool string, i int, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := c.CtdbCmd(ctx, tool, i, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("node %d: ctdb %s: %w: %s", i, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (c *Cluster) cleanup() {
	for i := range c.nodes {
		c.Kill9(i)
	}
	if c.tb.Failed() {
		for i, nd := range c.nodes {
			for _, f := range []string{"log", "stderr"} {
				if b, err := os.ReadFile(filepath.Join(nd.dir, f)); err == nil && len(b) > 0 {
					c.tb.Logf("%s node %d %s:\n%s", c.kind, i, f, lastLines(string(b), 30))
				}
			}
		}
	}
	for _, nd := range c.nodes {
		exec.Command("ip", "netns", "del", nd.ns).Run()
	}
	if c.client != "" {
		exec.Command("ip", "netns", "del", c.client).Run()
	}
	exec.Command("ip", "netns", "del", c.sw).Run()
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// View is what one node's daemon reports about the cluster.
type View struct {
	Flags      []uint32 // node flags by PNN (GET_NODEMAP)
	Generation uint32
	VNNMap     []uint32
	RecMode    int32 // 0 NORMAL, 1 RECOVERY
}

// View asks node i's daemon, over its socket, for its node map, VNN map and recovery
// mode.
func (c *Cluster) View(i int) (View, error) {
	var v View
	conn, err := dial(c.Socket(i), 3*time.Second)
	if err != nil {
		return v, err
	}
	defer conn.Close()
	p, err := conn.control(protocol.ControlGetNodeMap, 0)
	if err != nil {
		return v, err
	}
	for _, n := range p.(*protocol.NodeMap).Nodes {
		v.Flags = append(v.Flags, n.Flags)
	}
	if p, err = conn.control(protocol.ControlGetVNNMap, 0); err != nil {
		return v, err
	}
	v.Generation, v.VNNMap = p.(*protocol.VNNMap).Generation, p.(*protocol.VNNMap).Map
	r, err := conn.raw(protocol.ControlGetRecMode, 0)
	if err != nil {
		return v, err
	}
	v.RecMode = r.Status
	return v, nil
}

// Leader is the leader node i knows of, from the leader broadcast (CTDB_SRVID_LEADER)
// that its daemon delivers to registered clients; it waits up to timeout for one.
// protocol.UnknownPNN means an election is running.
func (c *Cluster) Leader(i int, timeout time.Duration) (uint32, error) {
	conn, err := dial(c.Socket(i), timeout)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.leader()
}

// converged reports whether every node in up sees: the nodes in up with no flags, the
// others DISCONNECTED (other flags allowed), recovery mode NORMAL, one generation, the VNN map = up.
func (c *Cluster) converged(up []int) (uint32, string, bool) {
	isUp := map[int]bool{}
	var vnn []uint32
	for _, i := range up {
		isUp[i] = true
		vnn = append(vnn, uint32(i))
	}
	var gen uint32
	for k, i := range up {
		v, err := c.View(i)
		if err != nil {
			return 0, fmt.Sprintf("node %d: %v", i, err), false
		}
		last := fmt.Sprintf("node %d sees flags %#x generation %d vnnmap %v recmode %d", i, v.Flags, v.Generation, v.VNNMap, v.RecMode)
		if len(v.Flags) != len(c.nodes) {
			return 0, last, false
		}
		for j, f := range v.Flags {
			// A dead node is DISCONNECTED; the real ctdbd marks it UNHEALTHY as well.
			if isUp[j] && f != 0 || !isUp[j] && f&protocol.NodeFlagsDisconnected == 0 {
				return 0, last, false
			}
		}
		if v.RecMode != 0 || fmt.Sprint(v.VNNMap) != fmt.Sprint(vnn) || (k > 0 && v.Generation != gen) {
			return 0, last, false
		}
		gen = v.Generation
	}
	return gen, "", true
}

// WaitConverged waits until the nodes in up agree (see View): the nodes in up OK, the
// others DISCONNECTED, recovery mode NORMAL, one generation, VNN map = up. It returns
// that generation. It fails the test after a minute (a guard against hangs, not a
// timing assertion); what names the situation in the failure.
func (c *Cluster) WaitConverged(what string, up ...int) uint32 {
	c.tb.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		gen, last, ok := c.converged(up)
		if ok {
			return gen
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("cluster (%s): no convergence %s: %s", c.kind, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitAllOK waits until every running node is OK in every running node's view and they
// agree on one generation (WaitConverged over the running nodes).
func (c *Cluster) WaitAllOK() uint32 {
	c.tb.Helper()
	var up []int
	for i := range c.nodes {
		if c.Running(i) {
			up = append(up, i)
		}
	}
	return c.WaitConverged("waiting for all nodes OK", up...)
}

// WaitLeader waits until every node in up names the same leader, one of up, and returns
// it (same hang guard as WaitConverged).
func (c *Cluster) WaitLeader(what string, up ...int) int {
	c.tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	isUp := map[int]bool{}
	for _, i := range up {
		isUp[i] = true
	}
	for {
		leaders := make([]uint32, len(up))
		errs := make([]error, len(up))
		var wg sync.WaitGroup
		for k, i := range up {
			wg.Add(1)
			go func() { defer wg.Done(); leaders[k], errs[k] = c.Leader(i, 3*time.Second) }()
		}
		wg.Wait()
		ok := true
		for k := range up {
			if errs[k] != nil || leaders[k] != leaders[0] || !isUp[int(leaders[k])] {
				ok = false
			}
		}
		if ok {
			return int(leaders[0])
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("cluster (%s): no agreed leader %s: leaders %v errors %v", c.kind, what, leaders, errs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
