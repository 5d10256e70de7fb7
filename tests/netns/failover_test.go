package netns

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/tests/cluster"
)

var publicAddrs = []string{"10.78.0.1/24", "10.78.0.2/24", "10.78.0.3/24", "10.78.0.4/24", "10.78.0.5/24", "10.78.0.6/24"}

// holders returns, per public address, the nodes whose eth0 carries it (all nodes, dead
// ones included: a dead daemon must not leave its addresses behind).
func holders(t *testing.T, c *cluster.Cluster) map[string][]int {
	out := map[string][]int{}
	for _, a := range publicAddrs {
		out[strings.Split(a, "/")[0]] = nil
	}
	for i := 0; i < c.N(); i++ {
		b, err := exec.Command("ip", "-n", c.NS(i), "-o", "-4", "addr", "show", "dev", "eth0").Output()
		if err != nil {
			continue // the namespace is being torn down
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 {
				addr := strings.Split(f[3], "/")[0]
				if _, ok := out[addr]; ok {
					out[addr] = append(out[addr], i)
				}
			}
		}
	}
	return out
}

// waitSpread waits until every public address is on exactly one node of up, and each of
// them has between lo and hi addresses. The limit only guards against a hang.
func waitSpread(t *testing.T, c *cluster.Cluster, what string, up []int, lo, hi int) {
	t.Helper()
	isUp := map[int]bool{}
	for _, i := range up {
		isUp[i] = true
	}
	var last map[string][]int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		h := holders(t, c)
		last = h
		count := map[int]int{}
		good := true
		for _, nodes := range h {
			if len(nodes) != 1 || !isUp[nodes[0]] {
				good = false
				break
			}
			count[nodes[0]]++
		}
		for _, i := range up {
			if count[i] < lo || count[i] > hi {
				good = false
			}
		}
		if good {
			return
		}
	}
	t.Fatalf("public addresses not spread %s: %v", what, last)
}

// TestPublicAddressFailover runs real ctdbd binaries with six public addresses: they
// spread two per node; when a daemon is killed (kill -9 of ctdbd alone) its address
// janitor removes its addresses and the survivors take them; a node whose link is cut
// releases its addresses (no leader) while the connected side serves them; after each
// return the layout is rebalanced. Throughout, no address is on two nodes at once.
func TestPublicAddressFailover(t *testing.T) {
	c := cluster.New(t, cluster.Ours, 3, cluster.Options{
		PublicAddresses: publicAddrs,
		Tunables:        []string{"KeepaliveInterval=1", "KeepaliveLimit=3", "MonitorInterval=1"},
		LogLevel:        "INFO",
	})
	c.Client("10.78.0.200/24")
	all := []int{0, 1, 2}
	for _, i := range all {
		c.Start(i)
	}
	c.WaitConverged("at start", all...)

	var mu sync.Mutex
	var twice []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		// The namespaces are read one after another, so a move between two reads can
		// look like an overlap; an overlap counts when two polls in a row see it.
		defer wg.Done()
		prev := map[string]string{}
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			cur := map[string]string{}
			for a, nodes := range holders(t, c) {
				if len(nodes) > 1 {
					cur[a] = fmt.Sprint(nodes)
					if prev[a] == cur[a] {
						mu.Lock()
						twice = append(twice, fmt.Sprintf("%s on %v", a, nodes))
						mu.Unlock()
					}
				}
			}
			prev = cur
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		if len(twice) > 0 {
			t.Errorf("addresses seen on two nodes at once: %v", twice)
		}
	}()

	waitSpread(t, c, "at start", all, 2, 2)
	victim := 1
	c.KillDaemon(victim)
	waitSpread(t, c, "after kill -9 of a daemon", without(all, victim), 3, 3)
	c.Start(victim)
	c.WaitConverged("after the restart", all...)
	waitSpread(t, c, "after the restart", all, 2, 2)

	cut := 2
	c.SetLink(cut, false)
	waitSpread(t, c, "with node 2's link cut", without(all, cut), 3, 3)
	c.SetLink(cut, true)
	c.WaitConverged("after the link came back", all...)
	waitSpread(t, c, "after the link came back", all, 2, 2)
}
