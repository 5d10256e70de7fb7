package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// watchActing samples every running node until the test ends and fails if a node acts
// as leader without holding the cluster lock (the fake lock lets one node hold it at a
// time, so this is the never-two-leaders invariant, checked per node).
func (c *testCluster) watchActing() {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			c.mu.Lock()
			var running []*Daemon
			for i, d := range c.nodes {
				if c.cancel[i] != nil && d != nil {
					running = append(running, d)
				}
			}
			c.mu.Unlock()
			for _, d := range running {
				if s := d.Status(); s.Acting && !s.Holding {
					c.t.Errorf("node %d acts as leader without the cluster lock", s.PNN)
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	c.t.Cleanup(func() { stop.Store(true); <-done })
}

// waitFor waits until cond holds for the statuses of the running nodes (by PNN; stopped
// nodes have a zero Status). The limit guards against hangs only.
func (c *testCluster) waitFor(what string, cond func(st []Status) bool) []Status {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := make([]Status, len(c.nodes))
		for i, d := range c.nodes {
			if c.cancel[i] != nil {
				st[i] = d.Status()
			}
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			for i, s := range st {
				c.t.Logf("node %d: %+v", i, s)
			}
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// remote sends a control to node pnn through node from.
func (c *testCluster) remote(from, pnn int, op protocol.Opcode, p protocol.Payload) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.nodes[from].remoteControl(ctx, uint32(pnn), op, p)
	if err != nil || r.Status != 0 {
		c.t.Fatalf("%v to node %d: %v %+v", op, pnn, err, r)
	}
}

// flagsEverywhere reports whether every running node sees node pnn with flags want.
func flagsEverywhere(st []Status, pnn int, want uint32) bool {
	for _, s := range st {
		if s.Flags != nil && s.Flags[pnn] != want {
			return false
		}
	}
	return true
}

func vnnIs(st []Status, want ...uint32) bool {
	for _, s := range st {
		if s.Flags != nil && (fmt.Sprint(s.VNNMap) != fmt.Sprint(want) || s.RecMode != protocol.RecoveryNormal) {
			return false
		}
	}
	return true
}

// TestElectionsOneToSevenNodes: clusters of 1 to 7 nodes elect one leader and recover.
func TestElectionsOneToSevenNodes(t *testing.T) {
	for n := 1; n <= 7; n++ {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			c := newTestCluster(t, n)
			c.watchActing()
			c.waitConverged("start")
		})
	}
}

// TestPartitionWithoutLockNeverRecovers: of a 5-node cluster split 2|3, the side that
// does not hold the lock never elects a leader or starts a new generation.
func TestPartitionWithoutLockNeverRecovers(t *testing.T) {
	c := newTestCluster(t, 5)
	c.watchActing()
	s := c.waitConverged("start")
	leader := int(s.Leader)
	mate := (leader + 1) % 5
	var rest []uint32
	for i := 0; i < 5; i++ {
		if i != leader && i != mate {
			rest = append(rest, uint32(i))
		}
	}
	c.net.Partition([]uint32{uint32(leader), uint32(mate)}, rest)
	c.waitFor("the lock side recovered without the others", func(st []Status) bool {
		return fmt.Sprint(st[leader].VNNMap) == fmt.Sprint([]uint32{min(uint32(leader), uint32(mate)), max(uint32(leader), uint32(mate))}) &&
			st[mate].Generation == st[leader].Generation && st[leader].RecMode == protocol.RecoveryNormal
	})
	for k := 0; k < 100; k++ {
		for _, p := range rest {
			st := c.nodes[p].Status()
			if st.Acting || st.Generation != s.Generation || (st.Leader != protocol.UnknownPNN && st.Leader != uint32(leader)) {
				t.Fatalf("node %d on the side without the lock: %+v", p, st)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.net.Heal()
	c.waitConverged("after healing")
}

// TestFlappingLink: a link that goes down and up many times ends in a converged cluster
// and never two leaders.
func TestFlappingLink(t *testing.T) {
	c := newTestCluster(t, 3)
	c.watchActing()
	c.waitConverged("start")
	for k := 0; k < 30; k++ {
		c.net.Disconnect(0, 1)
		time.Sleep(time.Duration(k%5) * time.Millisecond)
		c.net.Connect(0, 1)
		time.Sleep(time.Duration(k%3) * time.Millisecond)
	}
	c.waitConverged("after flapping")
}

// TestStopContinueDisableEnable: a stopped node leaves the VNN map and comes back on
// continue; a disabled node stays in it; every node sees the flags.
func TestStopContinueDisableEnable(t *testing.T) {
	c := newTestCluster(t, 3)
	c.watchActing()
	c.waitConverged("start")
	c.remote(0, 1, protocol.ControlStopNode, nil)
	c.waitFor("node 1 STOPPED and out of the VNN map", func(st []Status) bool {
		return flagsEverywhere(st, 1, protocol.NodeFlagsStopped) && vnnIs(st, 0, 2)
	})
	c.remote(0, 1, protocol.ControlContinueNode, nil)
	c.waitConverged("after continue")
	c.remote(2, 2, protocol.ControlDisableNode, nil)
	c.waitFor("node 2 DISABLED everywhere, still in the VNN map", func(st []Status) bool {
		return flagsEverywhere(st, 2, protocol.NodeFlagsPermanentlyDisabled) && vnnIs(st, 0, 1, 2)
	})
	c.remote(2, 2, protocol.ControlEnableNode, nil)
	c.waitConverged("after enable")
}

// TestBanAndExpiry: a banned node leaves the cluster's active set and returns when its
// ban expires.
func TestBanAndExpiry(t *testing.T) {
	c := newTestCluster(t, 3)
	c.watchActing()
	c.waitConverged("start")
	c.remote(0, 2, protocol.ControlSetBanState, &protocol.BanState{PNN: 2, Time: 1})
	c.waitFor("node 2 BANNED and out of the VNN map", func(st []Status) bool {
		return flagsEverywhere(st, 2, protocol.NodeFlagsBanned) && vnnIs(st, 0, 1)
	})
	c.waitConverged("after the ban expired")
}

// TestCulpritBanned: a node that keeps failing recovery is banned by the leader, and
// the rest recover without it.
func TestCulpritBanned(t *testing.T) {
	c := newTestCluster(t, 3)
	c.watchActing()
	s := c.waitConverged("start")
	bad := (int(s.Leader) + 1) % 3
	c.nodes[bad].call(func() {
		c.nodes[bad].failControl = func(op protocol.Opcode) bool { return op == protocol.ControlSetVNNMap }
	})
	// Make the leader recover again: the bad node's flags change.
	c.remote(int(s.Leader), bad, protocol.ControlDisableNode, nil)
	var good []uint32
	for i := 0; i < 3; i++ {
		if i != bad {
			good = append(good, uint32(i))
		}
	}
	c.waitFor("the failing node banned and the others recovered", func(st []Status) bool {
		return st[bad].Flags[bad]&protocol.NodeFlagsBanned != 0 && vnnIs([]Status{st[good[0]], st[good[1]]}, good...)
	})
}

// TestInconsistentNodeRecovered: a node that falls into recovery mode without any
// membership change (a restart faster than anyone noticed, say) is found by the
// leader's periodic check and the cluster recovers.
func TestInconsistentNodeRecovered(t *testing.T) {
	c := newTestCluster(t, 3)
	c.watchActing()
	s := c.waitConverged("start")
	other := (int(s.Leader) + 1) % 3
	active := protocol.Uint32(protocol.RecoveryActive)
	c.remote(int(s.Leader), other, protocol.ControlSetRecMode, &active)
	c.waitFor("a new recovery", func(st []Status) bool {
		for _, x := range st {
			if x.RecMode != protocol.RecoveryNormal || x.Generation == s.Generation || x.Generation != st[0].Generation {
				return false
			}
		}
		return true
	})
}

// TestReloadNodesAddsNode: a node appended to every nodes file joins after `ctdb
// reloadnodes` (RELOAD_NODES_FILE on every node); an address change is refused.
func TestReloadNodesAddsNode(t *testing.T) {
	c := newTestCluster(t, 3)
	c.watchActing()
	c.waitConverged("start")
	c.mu.Lock()
	c.nodes = append(c.nodes, nil)
	c.cancel = append(c.cancel, nil)
	c.done = append(c.done, nil)
	c.mu.Unlock()
	for i := 0; i < 3; i++ {
		nodeConfig(t, c.base, 4, i) // rewrites node i's nodes file with 4 nodes
		c.remote(0, i, protocol.ControlReloadNodesFile, nil)
	}
	c.start(3)
	c.waitConverged("after adding node 3")

	// Node 1's address changes in node 0's file: refused, nothing changes.
	nodes := filepath.Join(c.base, "node0", "nodes")
	os.WriteFile(nodes, []byte("10.99.0.1\n10.99.0.42\n10.99.0.3\n10.99.0.4\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.nodes[0].remoteControl(ctx, 0, protocol.ControlReloadNodesFile, nil)
	if err != nil || r.Status == 0 || !strings.Contains(r.ErrMsg, "node 1 changed its address") {
		t.Errorf("address change: %v %+v", err, r)
	}
	c.waitConverged("after the refused reload")
}

// TestWithoutClusterLock: a cluster without a cluster lock (allowed, with a warning)
// still elects one leader, recovers, and re-elects when the leader goes.
func TestWithoutClusterLock(t *testing.T) {
	c := newTestClusterOpts(t, 3, true)
	s := c.waitConverged("start")
	c.stop(int(s.Leader))
	s2 := c.waitConverged("after the leader stopped")
	if s2.Leader == s.Leader {
		t.Fatalf("stopped leader %d still leader", s.Leader)
	}
	c.start(int(s.Leader))
	c.waitConverged("after it came back")
	acting := 0
	for _, d := range c.nodes {
		if d.Status().Acting {
			acting++
		}
	}
	if acting != 1 {
		t.Errorf("%d acting leaders", acting)
	}
}

// dbHook records the recoveries it is asked to do and can fail them.
type dbHook struct {
	mu    sync.Mutex
	calls [][]uint32
	fail  int // fail this many calls first
}

func (h *dbHook) RecoverDatabases(ctx context.Context, active []uint32, gen uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, append([]uint32(nil), active...))
	if h.fail > 0 {
		h.fail--
		return fmt.Errorf("database recovery failed on purpose")
	}
	return nil
}

// TestDatabaseRecoveryHook: the leader runs the database hook in every recovery, with the
// active nodes, and a failing hook makes the recovery retry.
func TestDatabaseRecoveryHook(t *testing.T) {
	hook := &dbHook{fail: 2}
	c := newTestClusterWith(t, 3, &testCluster{dbHook: hook})
	c.waitConverged("start")
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.calls) < 3 {
		t.Fatalf("hook called %d times, want the 2 failures and a success", len(hook.calls))
	}
	if last := hook.calls[len(hook.calls)-1]; fmt.Sprint(last) != "[0 1 2]" {
		t.Errorf("last recovery's active nodes %v", last)
	}
}
