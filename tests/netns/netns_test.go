// Package netns runs real ctdbd binaries, one per network namespace, joined by veth
// pairs to a bridge in a namespace of its own, and checks that the cluster converges
// after the faults admins meet: kill -9 of a node (the leader included), a cut link,
// a restart. It needs root and iproute2; it skips otherwise. Everything it creates
// (namespaces, links, processes, files) is removed when it ends, even on failure.
package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ctdb-netns-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	out, err := exec.Command("go", "build", "-o", dir+"/", "../../ctdbd/cmd/ctdbd", "../../ctdbd/cmd/ctdb_mutex_fcntl_helper").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type node struct {
	ns   string
	dir  string
	sock string
	cmd  *exec.Cmd
	done chan struct{}
}

type cluster struct {
	t     *testing.T
	sw    string
	nodes []*node
}

func canRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	name := fmt.Sprintf("ctdbprobe%d", os.Getpid())
	if err := exec.Command("ip", "netns", "add", name).Run(); err != nil {
		t.Skipf("cannot create network namespaces here: %v", err)
	}
	exec.Command("ip", "netns", "del", name).Run()
}

// newCluster creates n namespaces on a bridge and writes each node's configuration.
func newCluster(t *testing.T, n int) *cluster {
	canRun(t)
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	c := &cluster{t: t, sw: "ctdbsw" + id}
	base := t.TempDir()
	shared := filepath.Join(base, "shared")
	os.MkdirAll(shared, 0o755)
	t.Cleanup(c.cleanup)
	run(t, "ip", "netns", "add", c.sw)
	run(t, "ip", "-n", c.sw, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", c.sw, "link", "set", "br0", "up")
	var nodes strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&nodes, "10.77.0.%d\n", i+1)
	}
	for i := 0; i < n; i++ {
		nd := &node{ns: fmt.Sprintf("ctdbn%s-%d", id, i), dir: filepath.Join(base, fmt.Sprintf("node%d", i))}
		nd.sock = filepath.Join(nd.dir, "run", "ctdbd.socket")
		c.nodes = append(c.nodes, nd)
		run(t, "ip", "netns", "add", nd.ns)
		run(t, "ip", "-n", nd.ns, "link", "add", "eth0", "type", "veth", "peer", "name", fmt.Sprintf("p%d", i), "netns", c.sw)
		run(t, "ip", "-n", c.sw, "link", "set", fmt.Sprintf("p%d", i), "master", "br0", "up")
		run(t, "ip", "-n", nd.ns, "addr", "add", fmt.Sprintf("10.77.0.%d/24", i+1), "dev", "eth0")
		run(t, "ip", "-n", nd.ns, "link", "set", "eth0", "up")
		run(t, "ip", "-n", nd.ns, "link", "set", "lo", "up")
		etc := filepath.Join(nd.dir, "etc")
		for _, d := range []string{etc, filepath.Join(etc, "events.d"), filepath.Join(nd.dir, "run"), filepath.Join(nd.dir, "var")} {
			os.MkdirAll(d, 0o755)
		}
		os.WriteFile(filepath.Join(etc, "nodes"), []byte(nodes.String()), 0o644)
		// No node address: each node finds itself by the address it can bind.
		os.WriteFile(filepath.Join(etc, "ctdb.conf"), []byte("[logging]\n\tlocation = file:"+filepath.Join(nd.dir, "log")+"\n\tlog level = INFO\n"), 0o644)
		os.WriteFile(filepath.Join(nd.dir, "sysconfig"), []byte(strings.Join([]string{
			"CTDB_RECOVERY_LOCK=" + filepath.Join(shared, ".reclock"),
			"CTDB_SOCKET=" + nd.sock,
			"CTDB_VARDIR=" + filepath.Join(nd.dir, "var"),
			"CTDB_EVENT_SCRIPT_DIR=" + filepath.Join(etc, "events.d"),
			"CTDB_SET_KeepaliveInterval=1",
			"CTDB_SET_KeepaliveLimit=3",
			"CTDB_SET_MonitorInterval=1",
			"",
		}, "\n")), 0o644)
	}
	return c
}

func (c *cluster) start(i int) {
	nd := c.nodes[i]
	cmd := exec.Command("ip", "netns", "exec", nd.ns, binDir+"/ctdbd", "--sysconfig", filepath.Join(nd.dir, "sysconfig"))
	cmd.Env = append(os.Environ(), "CTDB_BASE="+filepath.Join(nd.dir, "etc"))
	log, _ := os.OpenFile(filepath.Join(nd.dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	nd.cmd, nd.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(nd.done) }()
}

// kill9 kills node i's ctdbd with SIGKILL (ip netns exec execs it, so the PID is ctdbd's).
func (c *cluster) kill9(i int) {
	nd := c.nodes[i]
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
	nd.cmd = nil
}

func (c *cluster) stop(i int) {
	nd := c.nodes[i]
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-nd.done:
	case <-time.After(20 * time.Second):
		nd.cmd.Process.Signal(syscall.SIGKILL)
		<-nd.done
	}
	nd.cmd = nil
}

func (c *cluster) cleanup() {
	for i := range c.nodes {
		c.kill9(i)
	}
	if c.t.Failed() {
		for i, nd := range c.nodes {
			for _, f := range []string{"log", "stderr"} {
				if b, err := os.ReadFile(filepath.Join(nd.dir, f)); err == nil {
					c.t.Logf("node %d %s:\n%s", i, f, lastLines(string(b), 30))
				}
			}
		}
	}
	for _, nd := range c.nodes {
		exec.Command("ip", "netns", "del", nd.ns).Run()
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

func (c *cluster) setLink(i int, up bool) {
	state := "down"
	if up {
		state = "up"
	}
	run(c.t, "ip", "-n", c.sw, "link", "set", fmt.Sprintf("p%d", i), state)
}

// control sends one control to a node's daemon over its Unix socket.
func control(sock string, op protocol.Opcode) (*protocol.ReplyControl, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	req, _ := protocol.NewReqControl(op, nil)
	pkt, err := protocol.Marshal(protocol.Header{DestNode: protocol.CurrentNode, ReqID: 1}, req)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(pkt); err != nil {
		return nil, err
	}
	buf, err := transport.ReadFrame(conn, false)
	if err != nil {
		return nil, err
	}
	_, p, err := protocol.Unmarshal(buf)
	if err != nil {
		return nil, err
	}
	r, ok := p.(*protocol.ReplyControl)
	if !ok {
		return nil, fmt.Errorf("unexpected %T", p)
	}
	return r, nil
}

// view is what one node reports.
type view struct {
	flags  []uint32
	leader int32
	gen    uint32
	vnn    []uint32
}

func (nd *node) view() (view, error) {
	var v view
	r, err := control(nd.sock, protocol.ControlGetNodeMap)
	if err != nil {
		return v, err
	}
	p, err := r.DecodeReply(protocol.ControlGetNodeMap)
	if err != nil {
		return v, err
	}
	for _, n := range p.(*protocol.NodeMap).Nodes {
		v.flags = append(v.flags, n.Flags)
	}
	if r, err = control(nd.sock, protocol.ControlGetRecMaster); err != nil {
		return v, err
	}
	v.leader = r.Status
	if r, err = control(nd.sock, protocol.ControlGetVNNMap); err != nil {
		return v, err
	}
	p, err = r.DecodeReply(protocol.ControlGetVNNMap)
	if err != nil {
		return v, err
	}
	v.gen, v.vnn = p.(*protocol.VNNMap).Generation, p.(*protocol.VNNMap).Map
	return v, nil
}

// waitConverged waits until every node in up reports: the nodes in up OK, the others
// DISCONNECTED, one leader among up, one generation, the VNN map = up. It returns the
// leader. The limit guards against a hang; it is not a timing assertion.
func (c *cluster) waitConverged(what string, up ...int) int {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for {
		leader, ok := c.converged(up, &last)
		if ok {
			return leader
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no convergence %s: %s", what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *cluster) converged(up []int, last *string) (int, bool) {
	isUp := map[int]bool{}
	var vnn []uint32
	for _, i := range up {
		isUp[i] = true
		vnn = append(vnn, uint32(i))
	}
	var first *view
	for _, i := range up {
		v, err := c.nodes[i].view()
		if err != nil {
			*last = fmt.Sprintf("node %d: %v", i, err)
			return 0, false
		}
		*last = fmt.Sprintf("node %d sees flags %v leader %d generation %d vnnmap %v", i, v.flags, v.leader, v.gen, v.vnn)
		for j, f := range v.flags {
			want := uint32(0)
			if !isUp[j] {
				want = protocol.NodeFlagsDisconnected
			}
			if f != want {
				return 0, false
			}
		}
		if !isUp[int(v.leader)] || fmt.Sprint(v.vnn) != fmt.Sprint(vnn) {
			return 0, false
		}
		if first == nil {
			first = &v
		} else if v.leader != first.leader || v.gen != first.gen {
			return 0, false
		}
	}
	return int(first.leader), true
}

func without(all []int, x int) []int {
	var out []int
	for _, i := range all {
		if i != x {
			out = append(out, i)
		}
	}
	return out
}

// TestFaults: start, kill -9 the leader, restart it, kill -9 a non-leader, cut a node's
// link and restore it; after each, every node's view converges.
func TestFaults(t *testing.T) {
	c := newCluster(t, 3)
	all := []int{0, 1, 2}
	for i := range all {
		c.start(i)
	}
	leader := c.waitConverged("at start", all...)

	c.kill9(leader)
	newLeader := c.waitConverged("after kill -9 of the leader", without(all, leader)...)
	if newLeader == leader {
		t.Fatalf("dead leader %d still leader", leader)
	}
	c.start(leader)
	leader = c.waitConverged("after the old leader restarted", all...)

	other := (leader + 1) % 3
	c.kill9(other)
	c.waitConverged("after kill -9 of a non-leader", without(all, other)...)
	c.start(other)
	leader = c.waitConverged("after it restarted", all...)

	cut := (leader + 2) % 3
	c.setLink(cut, false)
	c.waitConverged("on the connected side after a link cut", without(all, cut)...)
	c.setLink(cut, true)
	leader = c.waitConverged("after the link came back", all...)

	// The leader itself cut off: it hands the lock over, the others elect and recover.
	c.setLink(leader, false)
	newLeader = c.waitConverged("on the connected side after the leader's link was cut", without(all, leader)...)
	if newLeader == leader {
		t.Fatalf("cut-off leader %d still leads the connected side", leader)
	}
	c.setLink(leader, true)
	c.waitConverged("after the old leader's link came back", all...)

	for i := range all {
		c.stop(i)
	}
}
