package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/server"
)

const sixAddresses = "10.1.0.1/24 eth1\n10.1.0.2/24 eth1\n10.1.0.3/24 eth1\n10.1.0.4/24 eth1\n10.1.0.5/24 eth1\n10.1.0.6/24 eth1\n"

// holders returns, per public address, the running nodes whose interfaces carry it.
func (c *testCluster) holders() map[string][]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]int{}
	for k := 1; k <= 6; k++ {
		a := netip.MustParseAddr(fmt.Sprintf("10.1.0.%d", k))
		out[a.String()] = nil
		for i, f := range c.nets {
			if c.cancel[i] != nil && f.Holds(a) {
				out[a.String()] = append(out[a.String()], i)
			}
		}
	}
	return out
}

// waitAddresses waits until every address is on exactly one running node, none on a
// node in not, and each running allowed node has between lo and hi addresses.
func (c *testCluster) waitAddresses(what string, not map[int]bool, lo, hi int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last map[string][]int
	for {
		h := c.holders()
		last = h
		count := map[int]int{}
		good := true
		for _, nodes := range h {
			if len(nodes) != 1 || not[nodes[0]] {
				good = false
				break
			}
			count[nodes[0]]++
		}
		for i := range c.nodes {
			if c.cancel[i] != nil && !not[i] && (count[i] < lo || count[i] > hi) {
				good = false
			}
		}
		if good {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("addresses not settled %s: %v", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPublicAddressFailover: six public addresses spread two per node; a stopped node's
// addresses move to the survivors and come back spread when it returns; an unhealthy
// (here: disabled) node gives its addresses up; an address is never on two nodes.
func TestPublicAddressFailover(t *testing.T) {
	c := newTestClusterWith(t, 3, &testCluster{publicIPs: sixAddresses})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // never an address on two running nodes
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for a, nodes := range c.holders() {
				if len(nodes) > 1 {
					t.Errorf("%s on nodes %v at once", a, nodes)
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	c.waitConverged("start")
	c.waitAddresses("at start", nil, 2, 2)
	for _, f := range c.nets {
		if len(f.Announced) == 0 {
			t.Errorf("no address announced by a node")
		}
	}

	c.stop(1)
	c.waitAddresses("after node 1 stopped", map[int]bool{1: true}, 3, 3)
	c.start(1)
	c.waitAddresses("after node 1 came back", nil, 2, 2)

	c.remote(0, 2, protocol.ControlDisableNode, nil)
	c.waitAddresses("with node 2 disabled", map[int]bool{2: true}, 3, 3)
	c.remote(0, 2, protocol.ControlEnableNode, nil)
	c.waitAddresses("after node 2 was enabled", nil, 2, 2)
}

// TestCutOffNodeReleasesAddresses: a node cut off from the others loses its leader and,
// after leaderlessRelease, its public addresses, which the connected side serves; when
// the cut heals it takes part again.
func TestCutOffNodeReleasesAddresses(t *testing.T) {
	c := newTestClusterWith(t, 3, &testCluster{publicIPs: sixAddresses})
	s := c.waitConverged("start")
	c.waitAddresses("at start", nil, 2, 2)
	cut := (int(s.Leader) + 1) % 3
	c.net.Isolate(uint32(cut))
	c.waitAddresses("after the cut", map[int]bool{cut: true}, 3, 3)
	c.net.Heal()
	c.waitConverged("after healing")
	c.waitAddresses("after healing", nil, 2, 2)
}

// TestTicklesFollowTheAddress: a client connection registered with TCP_CLIENT on the
// node holding an address is known to every node; when the address moves, its new
// holder sends the client a tickle ACK.
func TestTicklesFollowTheAddress(t *testing.T) {
	c := newTestClusterWith(t, 3, &testCluster{publicIPs: sixAddresses})
	c.waitConverged("start")
	c.waitAddresses("at start", nil, 2, 2)
	addr := netip.MustParseAddr("10.1.0.3")
	owner := c.holders()[addr.String()][0]
	conn := protocol.Connection{ // as smbd sends it: Src the client, Dst the public address
		Src: protocol.SockAddrOf(netip.MustParseAddrPort("192.168.9.9:51000")),
		Dst: protocol.SockAddrOf(netip.AddrPortFrom(addr, 445)),
	}
	smbd := &server.Client{} // what TCP_CLIENT from a local client does, minus the socket
	c.nodes[owner].call(func() { c.nodes[owner].tcpClient(smbd, conn) })
	// Every node learns it.
	deadline := time.Now().Add(10 * time.Second)
	for i := range c.nodes {
		for {
			var n int
			c.nodes[i].call(func() { n = len(c.nodes[i].tickleList(addr)) })
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d does not know the connection", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	c.remote(owner, owner, protocol.ControlDisableNode, nil)
	c.waitAddresses("after the owner was disabled", map[int]bool{owner: true}, 3, 3)
	newOwner := c.holders()[addr.String()][0]
	want := "10.1.0.3:445 192.168.9.9:51000"
	// The releasing node reset the connection (killtcp).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got := fmt.Sprint(c.nets[owner].Tickles()); strings.Contains(got, "RST "+want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("releasing node %d sent %v, want a reset of %q", owner, c.nets[owner].Tickles(), want)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c.mu.Lock()
		f := c.nets[newOwner]
		c.mu.Unlock()
		if got := fmt.Sprint(f.Tickles()); strings.Contains(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new owner %d tickled %v, want %q", newOwner, f.Tickles(), want)
		}
	}
}

// TestNoIPFailback: with NoIPFailback=1, addresses stay where they are when a node
// returns; without it they are spread again (TestPublicAddressFailover).
func TestNoIPFailback(t *testing.T) {
	c := newTestClusterWith(t, 3, &testCluster{publicIPs: sixAddresses, tunables: "NoIPFailback=1\n"})
	c.waitConverged("start")
	c.waitAddresses("at start", nil, 2, 2)
	c.stop(1)
	c.waitAddresses("after node 1 stopped", map[int]bool{1: true}, 3, 3)
	before := fmt.Sprint(c.holders())
	c.start(1)
	c.waitConverged("after node 1 came back")
	time.Sleep(500 * time.Millisecond) // several takeover-run opportunities
	if after := fmt.Sprint(c.holders()); after != before {
		t.Errorf("addresses moved back with NoIPFailback: before %s, after %s", before, after)
	}
}
