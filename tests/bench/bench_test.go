package bench

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ctdb-go/ctdb/tests/cluster"
)

// settle is how long the cluster is left alone before each kill: the real leader refuses
// new recoveries for RerecoveryTimeout (10 s) after each one, which would measure that
// wait instead of the failover.
const settle = 12 * time.Second

// statusCalls is the number of `ctdb status` calls whose median is reported.
const statusCalls = 21

// result is what one cluster measured.
type result struct {
	startOK      time.Duration // start of all nodes to all OK
	killNode     time.Duration // kill -9 of a non-leader to recovered survivors
	killLeader   time.Duration // kill -9 of the leader to recovered survivors
	status       time.Duration // median latency of `ctdb status`
	rss          float64       // idle RSS per node (all its processes), MiB, mean of the nodes
	leaderStatus time.Duration // median latency of `ctdb status` on the leader
}

// BenchmarkCluster measures, for our cluster and a real ctdbd cluster of 3 nodes in one
// run: time from start to all nodes OK, time from kill -9 of a node and of the leader to
// a finished recovery (all survivors report the dead node DISCONNECTED, recovery mode
// NORMAL, and one new generation whose VNN map is the survivors), the median latency of
// Debian's `ctdb status` (the same tool against both), and the idle memory of a node. It
// prints the two side by side with ratios (ours / real; below 1 means ours is better).
// Each cluster runs once, whatever b.N. It needs root and the ctdb package; it skips
// otherwise.
func BenchmarkCluster(b *testing.B) {
	cluster.Skip(b, cluster.Ours)
	cluster.Skip(b, cluster.Real)
	results := map[cluster.Kind]*result{}
	for _, kind := range []cluster.Kind{cluster.Ours, cluster.Real} {
		b.Run(kind.String(), func(b *testing.B) {
			r := measure(b, kind)
			results[kind] = r
			b.ReportMetric(r.startOK.Seconds(), "s-start-to-ok")
			b.ReportMetric(r.killNode.Seconds(), "s-node-failover")
			b.ReportMetric(r.killLeader.Seconds(), "s-leader-failover")
			b.ReportMetric(float64(r.status.Microseconds())/1000, "ms-status")
			b.ReportMetric(r.rss, "MiB-rss/node")
		})
	}
	ours, real := results[cluster.Ours], results[cluster.Real]
	if ours == nil || real == nil {
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "3 nodes\tours\treal 4.17\tours/real\t")
	row := func(name string, o, r float64, unit string) {
		fmt.Fprintf(w, "%s\t%.3f %s\t%.3f %s\t%.2f\t\n", name, o, unit, r, unit, o/r)
	}
	row("start to all OK", ours.startOK.Seconds(), real.startOK.Seconds(), "s")
	row("kill -9 node to recovered", ours.killNode.Seconds(), real.killNode.Seconds(), "s")
	row("kill -9 leader to recovered", ours.killLeader.Seconds(), real.killLeader.Seconds(), "s")
	row("ctdb status (median)", float64(ours.status.Microseconds())/1000, float64(real.status.Microseconds())/1000, "ms")
	row("ctdb status on leader", float64(ours.leaderStatus.Microseconds())/1000, float64(real.leaderStatus.Microseconds())/1000, "ms")
	row("idle RSS per node", ours.rss, real.rss, "MiB")
	w.Flush()
}

func measure(b *testing.B, kind cluster.Kind) *result {
	// The timer runs: a run of over a second keeps b.N at 1 (one cluster per kind).
	var r result
	c := cluster.New(b, kind, 3, cluster.Options{})
	all := []int{0, 1, 2}
	t0 := time.Now()
	for _, i := range all {
		c.Start(i)
	}
	c.WaitAllOK()
	r.startOK = time.Since(t0)
	leader := c.WaitLeader("at start", all...)
	ready := time.Now()

	// Idle memory, once the first recovery is over and nothing happens.
	time.Sleep(time.Until(ready.Add(settle / 2)))
	var sum int64
	for _, i := range all {
		rss, err := c.RSS(i)
		if err != nil {
			b.Fatal(err)
		}
		sum += rss
	}
	r.rss = float64(sum) / 3 / (1 << 20)

	other := (leader + 1) % 3
	r.status = statusLatency(b, c, other)
	r.leaderStatus = statusLatency(b, c, leader)

	time.Sleep(time.Until(ready.Add(settle)))
	r.killNode = failover(c, other, all)
	c.Start(other)
	c.WaitAllOK()
	leader = c.WaitLeader("after the restart", all...)

	time.Sleep(settle)
	r.killLeader = failover(c, leader, all)
	c.StopAll()
	return &r
}

// failover kills node x with kill -9 and returns the time until the others recovered.
func failover(c *cluster.Cluster, x int, all []int) time.Duration {
	var up []int
	for _, i := range all {
		if i != x {
			up = append(up, i)
		}
	}
	t := time.Now()
	c.Kill9(x)
	c.WaitConverged(fmt.Sprintf("after kill -9 of node %d", x), up...)
	return time.Since(t)
}

// statusLatency is the median wall time of `ctdb status` on node i.
func statusLatency(b *testing.B, c *cluster.Cluster, i int) time.Duration {
	var d []time.Duration
	for range statusCalls {
		t := time.Now()
		out, err := c.Ctdb(i, "status")
		el := time.Since(t)
		if err != nil || !strings.Contains(out, "Leader:") {
			b.Fatalf("ctdb status on %s node %d: %v\n%s", c.Kind(), i, err, out)
		}
		d = append(d, el)
	}
	slices.Sort(d)
	return d[len(d)/2]
}
