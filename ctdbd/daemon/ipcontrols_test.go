package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/netif"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// ctl sends a control from node from to node pnn and returns the reply.
func (c *testCluster) ctl(from, pnn int, op protocol.Opcode, p protocol.Payload) *protocol.ReplyControl {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.nodes[from].remoteControl(ctx, uint32(pnn), op, p)
	if err != nil {
		c.t.Fatalf("%v to node %d: %v", op, pnn, err)
	}
	return r
}

func (c *testCluster) ifaces(pnn int) []protocol.Iface {
	c.t.Helper()
	r := c.ctl(pnn, pnn, protocol.ControlGetIfaces, nil)
	var l protocol.IfaceList
	if r.Status != 0 || protocol.UnmarshalPayload(r.Data, &l) != nil {
		c.t.Fatalf("GET_IFACES on node %d: %+v", pnn, r)
	}
	return l.Ifaces
}

func (c *testCluster) ipInfo(from, pnn int, addr string) (*protocol.PublicIPInfo, int32) {
	c.t.Helper()
	sa := protocol.SockAddr{Addr: netip.MustParseAddr(addr)}
	r := c.ctl(from, pnn, protocol.ControlGetPublicIPInfo, &sa)
	if r.Status != 0 {
		return nil, r.Status
	}
	var info protocol.PublicIPInfo
	if err := protocol.UnmarshalPayload(r.Data, &info); err != nil {
		c.t.Fatal(err)
	}
	return &info, 0
}

// holdersOf returns the running nodes whose interfaces carry addr.
func (c *testCluster) holdersOf(addr string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, f := range c.nets {
		if c.cancel[i] != nil && f.Holds(netip.MustParseAddr(addr)) {
			out = append(out, i)
		}
	}
	return out
}

// waitHeldOnce waits until addr is on exactly one running node not in not, and
// returns it.
func (c *testCluster) waitHeldOnce(addr string, not ...int) int {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h := c.holdersOf(addr)
		if len(h) == 1 && !slices.Contains(not, h[0]) {
			return h[0]
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s held by %v, want one node other than %v", addr, h, not)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIfacesAndIPInfo: GET_IFACES lists the pool's interface with its link state and
// how many addresses the node holds on it; GET_PUBLIC_IP_INFO names the holder and,
// on the holder only, the active interface; unknown addresses fail.
func TestIfacesAndIPInfo(t *testing.T) {
	c := newTestClusterWith(t, 3, &testCluster{publicIPs: sixAddresses})
	c.waitConverged("start")
	c.waitAddresses("at start", nil, 2, 2)
	for i := range c.nodes {
		got := c.ifaces(i)
		if len(got) != 1 || got[0].Name != "eth1" || got[0].LinkState != 1 || got[0].References != 2 {
			t.Errorf("node %d: GET_IFACES = %+v, want eth1 up with 2 references", i, got)
		}
	}
	owner := c.holdersOf("10.1.0.4")[0]
	other := (owner + 1) % 3
	info, st := c.ipInfo(0, owner, "10.1.0.4")
	if st != 0 || info.IP.PNN != uint32(owner) || info.ActiveIdx != 0 || len(info.Ifaces.Ifaces) != 1 ||
		info.Ifaces.Ifaces[0] != (protocol.Iface{Name: "eth1", LinkState: 1, References: 2}) {
		t.Errorf("GET_PUBLIC_IP_INFO on the holder %d: %+v (status %d)", owner, info, st)
	}
	info, st = c.ipInfo(0, other, "10.1.0.4")
	if st != 0 || info.IP.PNN != uint32(owner) || info.ActiveIdx != 0xFFFFFFFF {
		t.Errorf("GET_PUBLIC_IP_INFO on node %d: %+v (status %d), want holder %d, no active interface", other, info, st, owner)
	}
	if _, st := c.ipInfo(0, 1, "10.1.0.99"); st != -1 {
		t.Errorf("GET_PUBLIC_IP_INFO of an unknown address: status %d, want -1", st)
	}
}

// TestSetIfaceLink: setting an interface down moves the node's addresses away and
// shows in GET_IFACES; setting it up brings addresses back; a change of the kernel's
// own link state overrides the setting; invalid requests fail.
func TestSetIfaceLink(t *testing.T) {
	c := newTestClusterWith(t, 3, &testCluster{publicIPs: sixAddresses})
	c.waitConverged("start")
	c.waitAddresses("at start", nil, 2, 2)
	for _, bad := range []protocol.Iface{{Name: "eth1", LinkState: 2}, {Name: "eth1", References: 1}, {Name: "eth9", LinkState: 1}} {
		if r := c.ctl(0, 0, protocol.ControlSetIfaceLinkState, &bad); r.Status != -1 {
			t.Errorf("SET_IFACE_LINK_STATE %+v: status %d, want -1", bad, r.Status)
		}
	}
	c.remote(1, 0, protocol.ControlSetIfaceLinkState, &protocol.Iface{Name: "eth1", LinkState: 0})
	c.waitAddresses("with node 0's eth1 set down", map[int]bool{0: true}, 3, 3)
	if got := c.ifaces(0); got[0].LinkState != 0 || got[0].References != 0 {
		t.Errorf("GET_IFACES after setting eth1 down: %+v", got)
	}
	c.remote(1, 0, protocol.ControlSetIfaceLinkState, &protocol.Iface{Name: "eth1", LinkState: 1})
	c.waitAddresses("with node 0's eth1 set up again", nil, 2, 2)

	// Set down by hand, then the kernel's link goes down and up: the kernel wins.
	c.remote(1, 0, protocol.ControlSetIfaceLinkState, &protocol.Iface{Name: "eth1", LinkState: 0})
	c.nets[0].SetLink("eth1", false)
	if got := c.ifaces(0); got[0].LinkState != 0 {
		t.Errorf("link after the kernel's went down: %+v", got)
	}
	c.nets[0].SetLink("eth1", true)
	if got := c.ifaces(0); got[0].LinkState != 1 {
		t.Errorf("link after the kernel's came back up: %+v, want up", got)
	}
}

// TestAddDelPublicIP: an address added to every node's pool gets a holder; adding it
// twice fails; deleting it on its holder releases it there and another node takes it;
// deleting an unknown address fails; the interface list follows the pool.
func TestAddDelPublicIP(t *testing.T) {
	c := newTestClusterWith(t, 3, &testCluster{publicIPs: sixAddresses})
	c.waitConverged("start")
	c.waitAddresses("at start", nil, 2, 2)
	add := &protocol.AddrInfo{Addr: protocol.SockAddr{Addr: netip.MustParseAddr("10.1.0.7")}, Mask: 24, Iface: "eth1"}
	for i := range c.nodes {
		c.remote(0, i, protocol.ControlAddPublicIP, add)
	}
	if r := c.ctl(0, 1, protocol.ControlAddPublicIP, add); r.Status != -1 {
		t.Errorf("adding a known address: status %d, want -1", r.Status)
	}
	owner := c.waitHeldOnce("10.1.0.7")
	c.remote(0, owner, protocol.ControlDelPublicIP, &protocol.AddrInfo{Addr: add.Addr})
	if slices.Contains(c.holdersOf("10.1.0.7"), owner) {
		t.Errorf("node %d still has 10.1.0.7 after deleting it", owner)
	}
	if _, st := c.ipInfo(0, owner, "10.1.0.7"); st != -1 {
		t.Errorf("node %d still knows 10.1.0.7 after deleting it", owner)
	}
	c.waitHeldOnce("10.1.0.7", owner)
	if r := c.ctl(0, owner, protocol.ControlDelPublicIP, &protocol.AddrInfo{Addr: add.Addr}); r.Status != -1 {
		t.Errorf("deleting an unknown address: status %d, want -1", r.Status)
	}

	// An address on a new interface: listed first; gone with its last address.
	add2 := &protocol.AddrInfo{Addr: protocol.SockAddr{Addr: netip.MustParseAddr("10.2.0.1")}, Mask: 16, Iface: "eth2,eth1"}
	c.remote(0, 2, protocol.ControlAddPublicIP, add2)
	var names []string
	for _, i := range c.ifaces(2) {
		names = append(names, i.Name)
	}
	if fmt.Sprint(names) != "[eth2 eth1]" {
		t.Errorf("interfaces after adding an address on eth2: %v", names)
	}
	c.remote(0, 2, protocol.ControlDelPublicIP, &protocol.AddrInfo{Addr: add2.Addr})
	if got := c.ifaces(2); len(got) != 1 || got[0].Name != "eth1" {
		t.Errorf("interfaces after deleting the address on eth2: %+v", got)
	}
}

// TestReloadPublicIPs: after the public_addresses files change, RELOAD_PUBLIC_IPS
// drops the removed address (released by its holder) and adds the new one, which a
// takeover run places.
func TestReloadPublicIPs(t *testing.T) {
	c := newTestClusterWith(t, 3, &testCluster{publicIPs: sixAddresses})
	c.waitConverged("start")
	c.waitAddresses("at start", nil, 2, 2)
	newFile := "10.1.0.1/24 eth1\n10.1.0.2/24 eth1\n10.1.0.3/24 eth1\n10.1.0.4/24 eth1\n10.1.0.5/24 eth1\n10.1.0.8/24 eth1\n"
	for i := range c.nodes {
		os.WriteFile(filepath.Join(c.base, fmt.Sprintf("node%d", i), "public_addresses"), []byte(newFile), 0o644)
	}
	for i := range c.nodes {
		c.remote(0, i, protocol.ControlReloadPublicIPs, nil)
	}
	if h := c.holdersOf("10.1.0.6"); len(h) != 0 {
		t.Errorf("10.1.0.6 still held by %v after the reload", h)
	}
	for i := range c.nodes {
		if _, st := c.ipInfo(0, i, "10.1.0.6"); st != -1 {
			t.Errorf("node %d still knows 10.1.0.6", i)
		}
	}
	c.waitHeldOnce("10.1.0.8")
}

// TestGratuitousARP: SEND_GRATUITOUS_ARP is answered at once; the announcement goes out
// on the interface three times.
func TestGratuitousARP(t *testing.T) {
	c := newTestClusterWith(t, 1, &testCluster{publicIPs: sixAddresses})
	c.waitConverged("start")
	c.remote(0, 0, protocol.ControlSendGratuitousARP, &protocol.AddrInfo{Addr: protocol.SockAddr{Addr: netip.MustParseAddr("10.3.0.1")}, Iface: "eth1"})

	f := netif.NewFake("eth1")
	d := &Daemon{opts: Options{NetIf: f}, log: slog.New(slog.DiscardHandler), stopping: make(chan struct{})}
	d.gratuitousARP("eth1", netip.MustParseAddr("10.3.0.1"))
	if got := fmt.Sprint(f.Announced); got != "[eth1 10.3.0.1 eth1 10.3.0.1 eth1 10.3.0.1]" {
		t.Errorf("announced %s", got)
	}
}
