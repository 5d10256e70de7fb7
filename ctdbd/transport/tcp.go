package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// TCPConfig configures the TCP transport of one node.
type TCPConfig struct {
	// Self is this node's PNN; Nodes[Self] is the address it listens on and binds its
	// outgoing connections to.
	Self uint32
	// Nodes maps the PNN of every live node (deleted ones left out) to its private
	// address, as in the nodes file.
	Nodes map[uint32]netip.Addr
	// Port is the TCP port of every node (default 4379).
	Port int
	// ReconnectInterval is the pause between connection attempts (default 1 s).
	ReconnectInterval time.Duration
	// QueueLimit bounds the packets queued for one peer (default 10000); Send fails
	// beyond it rather than letting memory grow without bound.
	QueueLimit int
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// TCP is CTDB's TCP transport: each node listens on its own address and connects out to
// every other node, binding the outgoing socket to its own address. A node only sends on
// its outgoing connection and only reads its incoming ones; an incoming connection
// belongs to the node whose address is its source, and connections from unknown
// addresses are refused. A peer is connected (PeerUp) while both directions are up;
// when either breaks, both are closed (PeerDown) and the outgoing one is retried every
// ReconnectInterval.
type TCP struct {
	cfg  TCPConfig
	log  *slog.Logger
	self netip.Addr

	mu     sync.Mutex
	h      Handler
	ln     net.Listener
	peers  map[uint32]*tcpPeer
	byAddr map[netip.Addr]uint32
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

type tcpPeer struct {
	pnn  uint32
	addr netip.Addr
	del  *delivery

	// Guarded by TCP.mu.
	out  net.Conn
	outQ chan []byte
	in   net.Conn
	up   bool
	wake chan struct{} // kicks the connector to reconnect now

	ctx    context.Context // ends when the peer is removed or the transport closes
	cancel context.CancelFunc
}

// NewTCP returns a TCP transport for cfg; Start starts it.
func NewTCP(cfg TCPConfig) (*TCP, error) {
	self, ok := cfg.Nodes[cfg.Self]
	if !ok {
		return nil, fmt.Errorf("transport: node %d is not in the nodes list", cfg.Self)
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.ReconnectInterval == 0 {
		cfg.ReconnectInterval = time.Second
	}
	if cfg.QueueLimit == 0 {
		cfg.QueueLimit = 10000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &TCP{cfg: cfg, log: log, self: self, peers: map[uint32]*tcpPeer{}, byAddr: map[netip.Addr]uint32{}}
	for pnn, a := range cfg.Nodes {
		if _, dup := t.byAddr[a]; dup {
			return nil, fmt.Errorf("transport: address %s is listed for two nodes", a)
		}
		t.byAddr[a] = pnn
	}
	return t, nil
}

// Start listens on the node's own address and starts connecting to every other node.
func (t *TCP) Start(h Handler) error {
	addr := netip.AddrPortFrom(t.self, uint16(t.cfg.Port)).String()
	lc := net.ListenConfig{}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return fmt.Errorf("transport: cannot listen on %s: %w (is another ctdbd running, or is this not the node's address?)", addr, err)
	}
	t.mu.Lock()
	t.h = h
	t.ln = ln
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for pnn, a := range t.cfg.Nodes {
		if pnn != t.cfg.Self {
			t.addPeerLocked(pnn, a)
		}
	}
	t.mu.Unlock()
	t.wg.Add(1)
	go t.acceptLoop()
	t.log.Info("transport listening", "address", addr)
	return nil
}

// addPeerLocked starts connecting to a node. Called with t.mu held.
func (t *TCP) addPeerLocked(pnn uint32, a netip.Addr) {
	p := &tcpPeer{pnn: pnn, addr: a, del: newDelivery(t.h, pnn), wake: make(chan struct{}, 1)}
	p.ctx, p.cancel = context.WithCancel(t.ctx)
	t.peers[pnn] = p
	t.byAddr[a] = pnn
	t.wg.Add(1)
	go t.connector(p)
}

// SetNodes changes the set of nodes (ctdb reloadnodes): nodes not in nodes are
// disconnected and forgotten, new ones connected to. The node's own entry must not
// change.
func (t *TCP) SetNodes(nodes map[uint32]netip.Addr) error {
	if a, ok := nodes[t.cfg.Self]; !ok || a != t.self {
		return fmt.Errorf("transport: this node's own address cannot change (node %d)", t.cfg.Self)
	}
	t.mu.Lock()
	if t.closed || t.h == nil {
		t.mu.Unlock()
		return errors.New("transport: not running")
	}
	var gone []*tcpPeer
	for pnn, p := range t.peers {
		if a, ok := nodes[pnn]; !ok || a != p.addr {
			p.cancel()
			t.resetLocked(p)
			delete(t.peers, pnn)
			delete(t.byAddr, p.addr)
			gone = append(gone, p)
		}
	}
	for pnn, a := range nodes {
		if _, ok := t.peers[pnn]; !ok && pnn != t.cfg.Self {
			t.addPeerLocked(pnn, a)
		}
	}
	t.mu.Unlock()
	for _, p := range gone {
		p.del.stop()
	}
	return nil
}

func (t *TCP) acceptLoop() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.log.Warn("transport accept failed", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		src, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		t.mu.Lock()
		pnn, known := t.byAddr[src.Addr().Unmap()]
		if !known || pnn == t.cfg.Self {
			t.mu.Unlock()
			t.log.Warn("transport: refusing connection from an address that is not a node", "from", c.RemoteAddr().String())
			c.Close()
			continue
		}
		p := t.peers[pnn]
		if t.closed || p == nil {
			t.mu.Unlock()
			c.Close()
			continue
		}
		if p.in != nil {
			// The peer reconnected: its old connection is dead.
			old := p.in
			p.in = nil
			old.Close()
		}
		p.in = c
		t.updateLocked(p)
		t.mu.Unlock()
		t.wg.Add(1)
		go t.readLoop(p, c)
	}
}

// readLoop reads packets from an incoming connection until it fails.
func (t *TCP) readLoop(p *tcpPeer, c net.Conn) {
	defer t.wg.Done()
	for {
		pkt, err := ReadPacket(c)
		if err != nil {
			if t.ctx.Err() == nil {
				t.log.Info("transport: incoming connection lost", "pnn", p.pnn, "err", err)
			}
			t.mu.Lock()
			if p.in == c {
				p.in = nil
				t.resetLocked(p)
			}
			t.mu.Unlock()
			c.Close()
			return
		}
		p.del.push(item{kind: itemPacket, pkt: pkt})
	}
}

// connector keeps the outgoing connection to p up.
func (t *TCP) connector(p *tcpPeer) {
	defer t.wg.Done()
	local := &net.TCPAddr{IP: t.self.AsSlice()}
	remote := netip.AddrPortFrom(p.addr, uint16(t.cfg.Port)).String()
	for {
		t.mu.Lock()
		have := p.out != nil
		t.mu.Unlock()
		if !have {
			d := net.Dialer{LocalAddr: local, Timeout: t.cfg.ReconnectInterval}
			c, err := d.DialContext(p.ctx, "tcp", remote)
			if err == nil {
				t.attachOut(p, c)
			} else if p.ctx.Err() == nil {
				t.log.Debug("transport: connect failed", "pnn", p.pnn, "to", remote, "err", err)
			}
		}
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		case <-time.After(t.cfg.ReconnectInterval):
		}
	}
}

func (t *TCP) attachOut(p *tcpPeer, c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	q := make(chan []byte, t.cfg.QueueLimit)
	t.mu.Lock()
	if t.closed || p.ctx.Err() != nil {
		t.mu.Unlock()
		c.Close()
		return
	}
	p.out, p.outQ = c, q
	t.updateLocked(p)
	t.mu.Unlock()
	t.wg.Add(2)
	go t.writeLoop(p, c, q)
	go t.watchOut(p, c)
}

// writeLoop sends queued packets on the outgoing connection.
func (t *TCP) writeLoop(p *tcpPeer, c net.Conn, q chan []byte) {
	defer t.wg.Done()
	for pkt := range q {
		if _, err := c.Write(pkt); err != nil {
			t.dropOut(p, c, err)
			for range q { // drain until the queue is closed
			}
			return
		}
	}
}

// watchOut detects the end of the outgoing connection: the peer never sends on it, so a
// read returns only when it is closed or broken.
func (t *TCP) watchOut(p *tcpPeer, c net.Conn) {
	defer t.wg.Done()
	var b [64]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			t.dropOut(p, c, err)
			return
		}
	}
}

func (t *TCP) dropOut(p *tcpPeer, c net.Conn, err error) {
	t.mu.Lock()
	if p.out == c {
		if t.ctx.Err() == nil {
			t.log.Info("transport: outgoing connection lost", "pnn", p.pnn, "err", err)
		}
		t.resetLocked(p)
	}
	t.mu.Unlock()
}

// resetLocked closes both directions of p (CTDB restarts both when either fails) and
// reports the peer down. Called with t.mu held.
func (t *TCP) resetLocked(p *tcpPeer) {
	p.closeLocked()
	t.updateLocked(p)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// closeLocked closes both connections of p. Called with TCP.mu held.
func (p *tcpPeer) closeLocked() {
	if p.out != nil {
		p.out.Close()
		close(p.outQ)
		p.out, p.outQ = nil, nil
	}
	if p.in != nil {
		p.in.Close()
		p.in = nil
	}
}

// updateLocked reports a change of p's connected state. Called with t.mu held.
func (t *TCP) updateLocked(p *tcpPeer) {
	up := p.out != nil && p.in != nil
	if up == p.up || t.closed {
		return
	}
	p.up = up
	if up {
		t.log.Info("transport: node connected", "pnn", p.pnn, "address", p.addr.String())
		p.del.push(item{kind: itemUp})
	} else {
		t.log.Info("transport: node disconnected", "pnn", p.pnn, "address", p.addr.String())
		p.del.push(item{kind: itemDown})
	}
}

// Reset drops both connections to node pnn (the daemon found it silent past the
// keepalive limit); the outgoing one is retried as usual.
func (t *TCP) Reset(pnn uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers[pnn]; p != nil && !t.closed {
		t.resetLocked(p)
	}
}

// Send queues pkt on the outgoing connection to pnn.
func (t *TCP) Send(pnn uint32, pkt []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[pnn]
	if p == nil || p.out == nil {
		return ErrNotConnected
	}
	select {
	case p.outQ <- Pad(append([]byte(nil), pkt...)):
		return nil
	default:
		return fmt.Errorf("transport: send queue to node %d is full (%d packets): the node is not reading", pnn, t.cfg.QueueLimit)
	}
}

// Close stops listening, closes every connection and waits for the transport's
// goroutines. It must not be called from a Handler method.
func (t *TCP) Close() error {
	t.mu.Lock()
	if t.closed || t.ln == nil {
		t.closed = true
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.cancel()
	t.ln.Close()
	for _, p := range t.peers {
		p.closeLocked()
	}
	peers := t.peers
	t.mu.Unlock()
	t.wg.Wait()
	for _, p := range peers {
		p.del.stop()
	}
	return nil
}
