// Package netns runs our ctdbd binaries, one per network namespace, joined by veth
// pairs to a bridge in a namespace of its own (tests/cluster), and checks that the
// cluster converges after the faults admins meet: kill -9 of a node (the leader
// included), a cut link, a restart. It needs root and iproute2; it skips otherwise.
// Everything it creates (namespaces, links, processes, files) is removed when it ends,
// even on failure.
package netns

import (
	"testing"

	"github.com/ctdb-go/ctdb/tests/cluster"
)

func newCluster(t *testing.T, n int) *cluster.Cluster {
	return cluster.New(t, cluster.Ours, n, cluster.Options{
		Tunables: []string{"KeepaliveInterval=1", "KeepaliveLimit=3", "MonitorInterval=1"},
		LogLevel: "INFO",
	})
}

// waitConverged waits until every node in up agrees (cluster.WaitConverged) and on one
// leader among them, and returns the leader.
func waitConverged(c *cluster.Cluster, what string, up ...int) int {
	c.WaitConverged(what, up...)
	return c.WaitLeader(what, up...)
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
		c.Start(i)
	}
	leader := waitConverged(c, "at start", all...)

	c.Kill9(leader)
	newLeader := waitConverged(c, "after kill -9 of the leader", without(all, leader)...)
	if newLeader == leader {
		t.Fatalf("dead leader %d still leader", leader)
	}
	c.Start(leader)
	leader = waitConverged(c, "after the old leader restarted", all...)

	other := (leader + 1) % 3
	c.Kill9(other)
	waitConverged(c, "after kill -9 of a non-leader", without(all, other)...)
	c.Start(other)
	leader = waitConverged(c, "after it restarted", all...)

	cut := (leader + 2) % 3
	c.SetLink(cut, false)
	waitConverged(c, "on the connected side after a link cut", without(all, cut)...)
	c.SetLink(cut, true)
	leader = waitConverged(c, "after the link came back", all...)

	// The leader itself cut off: it hands the lock over, the others elect and recover.
	c.SetLink(leader, false)
	newLeader = waitConverged(c, "on the connected side after the leader's link was cut", without(all, leader)...)
	if newLeader == leader {
		t.Fatalf("cut-off leader %d still leads the connected side", leader)
	}
	c.SetLink(leader, true)
	waitConverged(c, "after the old leader's link came back", all...)

	c.StopAll()
}
