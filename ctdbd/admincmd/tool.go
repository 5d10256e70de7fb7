// Package admincmd holds the administration commands of the ctdb tool that
// talk to ctdbd over its Unix socket (status, ping, getvar, ban, recover
// ...), with the arguments, output and exit codes of CTDB 4.17's ctdb(1),
// including its -X/-Y machine-readable forms and -n PNN to address another
// node through the local daemon.
//
// Differences from 4.17, on purpose:
//   - `recmaster` is accepted as an alias of `leader` (4.17 dropped the old
//     name and answers "Unknown command 'recmaster'").
//   - `version` prints this implementation's version (Version), which names
//     the CTDB release it is compatible with.
//
// Each command runs in its own process (the ctdb binary), so the package
// keeps no state between invocations; a tool value belongs to one command
// run and is not shared between goroutines.
package admincmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/cli"
	"github.com/ctdb-go/ctdb/ctdbd/client"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// Version is what `ctdb version` prints: the CTDB release whose tool this
// one reproduces, and this implementation. Builds may override it with
// -ldflags "-X github.com/ctdb-go/ctdb/ctdbd/admincmd.Version=...".
var Version = "4.17.12-ctdb-go"

// Flag that the 4.17 tool adds for nodes whose flags it could not learn.
const nodeFlagsUnknown uint32 = 0x40

// Exit codes the real tool returns (errno values).
const (
	exitEINVAL    = 22
	exitETIMEDOUT = 110
)

// tool is the state of one command run against the daemon.
type tool struct {
	c      *cli.Context
	out    io.Writer
	errw   io.Writer
	conn   *client.Conn
	pnn    uint32 // the local node
	cmdPNN uint32 // the node the command addresses (-n, else the local node)

	timeout time.Duration // -t, per control
	nodemap *protocol.NodeMap

	leaderCh <-chan *protocol.ReqMessage
	leader   uint32
	srvid    uint64 // the tool's reply srvid base; nextSrvID adds to it
}

// daemonCommand is a command that needs the daemon.
type daemonCommand struct {
	// remote commands accept -n PNN. Others fail after connecting, as 4.17
	// does, with "Node cannot be specified for command NAME".
	remote bool
	run    func(t *tool, args []string) int
	// usage holds the argument counts and the usage text.
	usage cli.Command
}

// wrap turns a daemon command into a cli.Command runner: connect, learn the
// local PNN, check -n, register for leader broadcasts, run.
func wrap(name string, dc daemonCommand) func(c *cli.Context, args []string) int {
	return func(c *cli.Context, args []string) int {
		t, code := connect(c, name, dc.remote)
		if t == nil {
			return code
		}
		defer t.conn.Close()
		if u := dc.usage; len(args) < u.MinArgs || u.MaxArgs >= 0 && len(args) > u.MaxArgs {
			cli.CommandUsage(c.Stdout, u)
			return 1
		}
		return exitCode(dc.run(t, args))
	}
}

// exitCode maps a command result to the process exit status: negative
// results (a control's -1) exit with 1, as the real tool does.
func exitCode(r int) int {
	if r < 0 {
		return 1
	}
	return r
}

func connect(c *cli.Context, name string, remote bool) (*tool, int) {
	t := &tool{c: c, out: c.Stdout, errw: c.Stderr, timeout: time.Duration(c.Options.TimeLimit) * time.Second}
	if t.timeout <= 0 {
		t.timeout = 10 * time.Second
	}
	path := client.SocketPath(c.Getenv)
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	conn, err := client.Dial(ctx, path)
	cancel()
	if err != nil {
		var de *client.DialError
		errno := 0
		if errors.As(err, &de) {
			errno = int(de.Errno)
		}
		fmt.Fprintf(t.errw, "connect() failed, errno=%d\n", errno)
		fmt.Fprintf(t.errw, "Failed to connect to CTDB daemon (%s)\n", path)
		if _, err := readNodesFile(c.Getenv); err != nil {
			fmt.Fprintf(t.errw, "%v\n", err)
			fmt.Fprintf(t.errw, "Is this node part of CTDB cluster?\n")
		}
		return nil, 1
	}
	t.conn = conn
	fail := func(code int) (*tool, int) {
		conn.Close()
		return nil, code
	}
	pnn, err := t.status(protocol.CurrentNode, protocol.ControlGetPNN)
	if err != nil {
		fmt.Fprintf(t.errw, "Failed to get PNN of the local node: %v\n", err)
		return fail(1)
	}
	t.pnn, t.cmdPNN, t.leader = uint32(pnn), uint32(pnn), protocol.UnknownPNN
	conn.SetSourceNode(t.pnn)
	t.srvid = protocol.SrvIDCTDBTool | uint64(os.Getpid()&0xFFFF)<<16
	if c.Options.NodeSet {
		if !remote {
			fmt.Fprintf(t.errw, "Node cannot be specified for command %s\n", name)
			return fail(1)
		}
		if !t.verifyPNN(c.Options.Node) {
			return fail(1)
		}
		t.cmdPNN = uint32(c.Options.Node)
	}
	ctx, cancel = t.ctx()
	ch, err := conn.Register(ctx, t.pnn, protocol.SrvIDLeader)
	cancel()
	if err != nil {
		fmt.Fprintf(t.errw, "Failed to register for leader broadcasts: %v\n", err)
		return fail(1)
	}
	t.leaderCh = ch
	return t, 0
}

// ctx returns a context bounded by the -t timeout, for one control, and its
// cancel function.
func (t *tool) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), t.timeout)
}

// reportErr prints a control failure the way CTDB's client library logs it.
func (t *tool) reportErr(op protocol.Opcode, dest uint32, err error) int {
	var ce *client.ControlError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(t.errw, "Control %v failed, ret=%d\n", op, ce.Status)
		return int(ce.Status)
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(t.errw, "Control %v failed to node %d, ret=%d\n", op, dest, exitETIMEDOUT)
		return exitETIMEDOUT
	default:
		fmt.Fprintf(t.errw, "Control %v failed to node %d: %v\n", op, dest, err)
		return 1
	}
}

// status sends a control whose answer is the reply status.
func (t *tool) status(dest uint32, op protocol.Opcode) (int32, error) {
	ctx, cancel := t.ctx()
	defer cancel()
	return t.conn.ControlStatus(ctx, dest, op)
}

// data sends a control and decodes its reply payload into out; failures are
// reported on stderr and returned as the exit code.
func (t *tool) data(dest uint32, op protocol.Opcode, p, out protocol.Payload) int {
	ctx, cancel := t.ctx()
	defer cancel()
	if err := t.conn.ControlData(ctx, dest, op, p, out); err != nil {
		return t.reportErr(op, dest, err)
	}
	return 0
}

// control sends a control without reply data.
func (t *tool) control(dest uint32, op protocol.Opcode, p protocol.Payload) int {
	ctx, cancel := t.ctx()
	defer cancel()
	if _, err := t.conn.Control(ctx, dest, op, p); err != nil {
		return t.reportErr(op, dest, err)
	}
	return 0
}

// getNodemap returns the node map, from the cache unless force. When the
// node asked is banned, another node's map is used, as 4.17 does (a banned
// node's view is stale).
func (t *tool) getNodemap(force bool) *protocol.NodeMap {
	if t.nodemap != nil && !force {
		return t.nodemap
	}
	cur := t.pnn
	for {
		var m protocol.NodeMap
		if t.data(cur, protocol.ControlGetNodeMap, nil, &m) != 0 {
			fmt.Fprintf(t.errw, "Failed to get nodemap from node %d\n", cur)
			return nil
		}
		n := nodeByPNN(&m, cur)
		if n == nil || n.Flags&protocol.NodeFlagsBanned == 0 || len(m.Nodes) == 0 {
			t.nodemap = &m
			return t.nodemap
		}
		next := cur
		for {
			next = (next + 1) % uint32(len(m.Nodes))
			if next == t.pnn {
				break
			}
			if nn := nodeByPNN(&m, next); nn != nil && nn.Flags&(protocol.NodeFlagsDeleted|protocol.NodeFlagsDisconnected) == 0 {
				break
			}
		}
		if next == t.pnn {
			fmt.Fprintf(t.errw, "Warning: All nodes are banned.\n")
			return nil
		}
		cur = next
	}
}

func nodeByPNN(m *protocol.NodeMap, pnn uint32) *protocol.NodeAndFlags {
	for i := range m.Nodes {
		if m.Nodes[i].PNN == pnn {
			return &m.Nodes[i]
		}
	}
	return nil
}

// verifyPNN checks that -n names a node that exists and is reachable.
func (t *tool) verifyPNN(pnn int) bool {
	if pnn < 0 {
		return false
	}
	m := t.getNodemap(false)
	if m == nil {
		return false
	}
	n := nodeByPNN(m, uint32(pnn))
	if n == nil {
		fmt.Fprintf(t.errw, "Node %d does not exist\n", pnn)
		return false
	}
	if n.Flags&(protocol.NodeFlagsDisconnected|protocol.NodeFlagsDeleted) != 0 {
		fmt.Fprintf(t.errw, "Node %d has status %s\n", pnn, prettyFlags(n.Flags))
		return false
	}
	return true
}

// getLeader waits for the leader broadcast (the daemon sends the current
// leader when the tool registers; CTDB's sends it within a second) for at
// most the -t timeout. It returns protocol.UnknownPNN when none came.
func (t *tool) getLeader() uint32 {
	if t.leader != protocol.UnknownPNN {
		return t.leader
	}
	timer := time.NewTimer(t.timeout)
	defer timer.Stop()
	for {
		select {
		case m := <-t.leaderCh:
			var v protocol.Uint32
			if protocol.UnmarshalPayload(m.Data, &v) == nil && uint32(v) != protocol.UnknownPNN {
				t.leader = uint32(v)
				return t.leader
			}
		case <-t.conn.Done():
			return protocol.UnknownPNN
		case <-timer.C:
			return protocol.UnknownPNN
		}
	}
}

// nextSrvID returns a fresh srvid of the tool's range for one reply.
func (t *tool) nextSrvID() uint64 {
	t.srvid++
	return t.srvid
}

// maxWait bounds the waits that the real tool makes without a bound of their
// own (a takeover run, a recovery): the -T maximum runtime, which ends the
// process anyway.
func (t *tool) maxWait() time.Duration {
	if t.c.Options.MaxRuntime > 0 {
		return time.Duration(t.c.Options.MaxRuntime) * time.Second
	}
	return 120 * time.Second
}
