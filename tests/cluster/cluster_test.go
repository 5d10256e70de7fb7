package cluster

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/onnode"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// TestReal: a real 3-node cluster comes up; the real tool reports it; kill -9 of the
// leader leaves no process of that node behind, the survivors converge without it, and
// it rejoins after a restart; Stop shuts nodes down through `ctdb shutdown`.
func TestReal(t *testing.T) {
	start := time.Now()
	c := Start(t, Real, 3)
	c.WaitAllOK()
	t.Logf("all OK after %v", time.Since(start))
	leader := c.WaitLeader("at start", 0, 1, 2)
	out, err := c.Ctdb(1, "status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pnn:1 10.77.0.2        OK (THIS NODE)", "Recovery mode:NORMAL (0)", "Leader:"} {
		if !strings.Contains(out, want) {
			t.Errorf("ctdb status on node 1 lacks %q:\n%s", want, out)
		}
	}
	procs := c.Processes(leader)
	if len(procs) < 2 {
		t.Errorf("real node %d: processes %v, want ctdbd and its helpers", leader, procs)
	}
	c.Kill9(leader)
	for _, p := range procs {
		if err := syscall.Kill(p, 0); err == nil {
			t.Errorf("process %d of killed node %d still exists", p, leader)
		}
	}
	up := without([]int{0, 1, 2}, leader)
	killed := time.Now()
	c.WaitConverged("after kill -9 of the leader", up...)
	t.Logf("recovered %v after kill -9 of the leader", time.Since(killed))
	// onnode's node states (ok, con) from the real daemon's socket.
	states, err := onnode.DaemonStatus(context.Background(), c.Socket(up[0]))
	if err != nil || len(states) != 3 || states[leader].Flags&protocol.NodeFlagsDisconnected == 0 || states[up[1]].Flags != 0 {
		t.Errorf("onnode.DaemonStatus on node %d: %+v, %v; want node %d disconnected, node %d OK", up[0], states, err, leader, up[1])
	}
	if l := c.WaitLeader("after kill -9 of the leader", up...); l == leader {
		t.Errorf("dead leader %d still leader", leader)
	}
	c.Start(leader)
	c.WaitAllOK()
	c.StopAll()
	for i := 0; i < 3; i++ {
		if c.Running(i) {
			t.Errorf("node %d still running after StopAll", i)
		}
	}
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
