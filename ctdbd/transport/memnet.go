package transport

import (
	"errors"
	"sync"
	"time"
)

// Network is an in-memory network of nodes for tests: every pair of started nodes is
// connected unless the test cuts the link. Links can be cut and restored one by one,
// the nodes split into partitions, and every packet delayed. Packets on a link arrive in
// order; a cut link drops what is in flight. Safe for concurrent use.
type Network struct {
	mu    sync.Mutex
	nodes map[uint32]*memTransport
	cut   map[[2]uint32]bool
	delay time.Duration
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{nodes: map[uint32]*memTransport{}, cut: map[[2]uint32]bool{}}
}

// Transport returns node pnn's transport (a node can be restarted by calling Transport
// again after Close).
func (n *Network) Transport(pnn uint32) Transport {
	return &memTransport{net: n, pnn: pnn}
}

func pair(a, b uint32) [2]uint32 {
	if a > b {
		a, b = b, a
	}
	return [2]uint32{a, b}
}

// Disconnect cuts the link between a and b in both directions.
func (n *Network) Disconnect(a, b uint32) { n.update(func() { n.cut[pair(a, b)] = true }) }

// Connect restores the link between a and b.
func (n *Network) Connect(a, b uint32) { n.update(func() { delete(n.cut, pair(a, b)) }) }

// Isolate cuts every link of node pnn.
func (n *Network) Isolate(pnn uint32) {
	n.update(func() {
		for other := range n.nodes {
			if other != pnn {
				n.cut[pair(pnn, other)] = true
			}
		}
	})
}

// Partition splits the network: nodes in the same group stay connected, links between
// groups are cut, and nodes in no group are isolated. It replaces earlier cuts.
func (n *Network) Partition(groups ...[]uint32) {
	n.update(func() {
		group := map[uint32]int{}
		for i, g := range groups {
			for _, p := range g {
				group[p] = i + 1
			}
		}
		n.cut = map[[2]uint32]bool{}
		for a := range n.nodes {
			for b := range n.nodes {
				if a < b && (group[a] == 0 || group[a] != group[b]) {
					n.cut[pair(a, b)] = true
				}
			}
		}
		for _, g := range groups {
			for _, a := range g {
				for _, b := range g {
					delete(n.cut, pair(a, b))
				}
			}
		}
	})
}

// Heal restores every link.
func (n *Network) Heal() { n.update(func() { n.cut = map[[2]uint32]bool{} }) }

// SetDelay delays every packet sent from now on by d.
func (n *Network) SetDelay(d time.Duration) {
	n.mu.Lock()
	n.delay = d
	n.mu.Unlock()
}

// linkUp reports whether a and b can talk. Called with n.mu held.
func (n *Network) linkUp(a, b uint32) bool {
	if a == b || n.cut[pair(a, b)] {
		return false
	}
	na, nb := n.nodes[a], n.nodes[b]
	return na != nil && nb != nil
}

// update changes the topology and tells every node about links that went up or down.
func (n *Network) update(change func()) {
	n.mu.Lock()
	before := n.links()
	change()
	after := n.links()
	n.notify(before, after)
	n.mu.Unlock()
}

func (n *Network) links() map[[2]uint32]bool {
	up := map[[2]uint32]bool{}
	for a := range n.nodes {
		for b := range n.nodes {
			if a < b && n.linkUp(a, b) {
				up[[2]uint32{a, b}] = true
			}
		}
	}
	return up
}

// notify queues PeerUp/PeerDown events for changed links. Called with n.mu held.
func (n *Network) notify(before, after map[[2]uint32]bool) {
	for p := range before {
		if !after[p] {
			n.event(p[0], p[1], itemDown)
			n.event(p[1], p[0], itemDown)
		}
	}
	for p := range after {
		if !before[p] {
			n.event(p[0], p[1], itemUp)
			n.event(p[1], p[0], itemUp)
		}
	}
}

func (n *Network) event(to, from uint32, kind itemKind) {
	if t := n.nodes[to]; t != nil {
		d := t.peer(from)
		if kind == itemDown {
			d.dropPackets() // what was in flight on the link is lost
		}
		d.push(item{kind: kind})
	}
}

type memTransport struct {
	net   *Network
	pnn   uint32
	mu    sync.Mutex
	h     Handler
	peers map[uint32]*delivery
}

// peer returns the delivery queue for packets from pnn. Called with net.mu held.
func (t *memTransport) peer(pnn uint32) *delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.peers[pnn]
	if d == nil {
		d = newDelivery(t.h, pnn)
		t.peers[pnn] = d
	}
	return d
}

func (t *memTransport) Start(h Handler) error {
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nodes[t.pnn] != nil {
		return errors.New("transport: node already started on this network")
	}
	t.h = h
	t.peers = map[uint32]*delivery{}
	before := n.links()
	n.nodes[t.pnn] = t
	n.notify(before, n.links())
	return nil
}

func (t *memTransport) Send(pnn uint32, pkt []byte) error {
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nodes[t.pnn] != t || !n.linkUp(t.pnn, pnn) {
		return ErrNotConnected
	}
	p := Pad(append([]byte(nil), pkt...))
	it := item{kind: itemPacket, pkt: p}
	if n.delay > 0 {
		it.at = time.Now().Add(n.delay)
	}
	n.nodes[pnn].peer(t.pnn).push(it)
	return nil
}

func (t *memTransport) Close() error {
	n := t.net
	n.mu.Lock()
	if n.nodes[t.pnn] != t {
		n.mu.Unlock()
		return nil
	}
	before := n.links()
	delete(n.nodes, t.pnn)
	n.notify(before, n.links())
	n.mu.Unlock()
	t.mu.Lock()
	peers := t.peers
	t.peers = map[uint32]*delivery{}
	t.mu.Unlock()
	for _, d := range peers {
		d.stop()
	}
	return nil
}
