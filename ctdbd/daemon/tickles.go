package daemon

import (
	"errors"
	"net/netip"
	"sort"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/netif"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/server"
)

// Connection tracking: the client connections of each public address, so that the node
// that takes an address over can tickle them (a TCP ACK with seq 0 makes the client
// resynchronise, get a reset from the new node's kernel and reconnect at once instead
// of waiting for TCP timeouts). Lists are kept per public address on every node. On the
// wire (TCP_ADD, tickle lists, `ctdb gettickles`) they use CTDB's orientation: Src is
// the client, Dst the public address (as smbd registers them and 10.interface reads
// them back); incoming connections are accepted either way round.

// connKey identifies a tracked connection.
type connKey struct{ server, client netip.AddrPort }

// normalize orients a connection reported by smbd or a node: whichever end is one of
// this node's public addresses is the server. ok is false when neither end is.
func (d *Daemon) normalize(c protocol.Connection) (connKey, bool) {
	src, dst := c.Src.AddrPort(), c.Dst.AddrPort()
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if _, ok := d.pubips[src.Addr()]; ok {
		return connKey{server: src, client: dst}, true
	}
	if _, ok := d.pubips[dst.Addr()]; ok {
		return connKey{server: dst, client: src}, true
	}
	return connKey{}, false
}

func (k connKey) conn() protocol.Connection {
	return protocol.Connection{Src: protocol.SockAddrOf(k.client), Dst: protocol.SockAddrOf(k.server)}
}

// addTickle records a connection. Runs on the loop.
func (d *Daemon) addTickle(k connKey) {
	m := d.tickles[k.server.Addr()]
	if m == nil {
		m = map[connKey]bool{}
		d.tickles[k.server.Addr()] = m
	}
	m[k] = true
}

func (d *Daemon) removeTickle(k connKey) {
	if m := d.tickles[k.server.Addr()]; m != nil {
		delete(m, k)
	}
}

// tickleList returns the connections of a public address, sorted. Runs on the loop.
func (d *Daemon) tickleList(addr netip.Addr) []connKey {
	var out []connKey
	for k := range d.tickles[addr] {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].server != out[j].server {
			return out[i].server.Compare(out[j].server) < 0
		}
		return out[i].client.Compare(out[j].client) < 0
	})
	return out
}

// broadcastTickle tells the other connected nodes about a connection added or removed.
func (d *Daemon) broadcastTickle(op protocol.Opcode, k connKey) {
	c := k.conn()
	req, err := protocol.NewReqControl(op, &c)
	if err != nil {
		return
	}
	req.Flags |= protocol.ControlFlagNoReply
	for _, n := range d.nodes {
		if n.pnn != d.self && n.connected {
			d.sendPeer(n.pnn, req, 0)
		}
	}
}

// tcpClient handles TCP_CLIENT from a local client (smbd registering a client
// connection): it is recorded, shared with the other nodes, and forgotten when the
// client disconnects. Runs on the loop.
func (d *Daemon) tcpClient(cl *server.Client, c protocol.Connection) *protocol.ReplyControl {
	k, ok := d.normalize(c)
	if !ok {
		// Not one of our public addresses: nothing to track (CTDB says the same).
		return &protocol.ReplyControl{}
	}
	d.addTickle(k)
	d.broadcastTickle(protocol.ControlTCPAdd, k)
	var mine []connKey
	if v, ok := cl.Value(tickleKey{}); ok {
		mine = v.([]connKey)
	}
	cl.SetValue(tickleKey{}, append(mine, k))
	return &protocol.ReplyControl{}
}

// tickleKey is the per-client key of its registered connections.
type tickleKey struct{}

// clientGoneTickles drops the connections a departed client registered. Runs on the
// loop.
func (d *Daemon) clientGoneTickles(cl *server.Client) {
	v, ok := cl.Value(tickleKey{})
	if !ok {
		return
	}
	for _, k := range v.([]connKey) {
		d.removeTickle(k)
		d.broadcastTickle(protocol.ControlTCPRemove, k)
	}
}

// tickleControl answers the connection-tracking controls. Runs on the loop. As in
// CTDB, adding a connection to an address outside a non-empty pool fails (-1), and
// listing or setting the connections of one answers status 1.
func (d *Daemon) tickleControl(req *protocol.ReqControl, payload protocol.Payload) *protocol.ReplyControl {
	switch req.Opcode {
	case protocol.ControlTCPAdd, protocol.ControlTCPAddDelayedUpdate, protocol.ControlTCPRemove:
		k, ok := d.normalize(*payload.(*protocol.Connection))
		if !ok {
			if req.Opcode != protocol.ControlTCPRemove && len(d.pubips) > 0 {
				return failed("not a connection to a public address")
			}
			return &protocol.ReplyControl{}
		}
		if req.Opcode == protocol.ControlTCPRemove {
			d.removeTickle(k)
		} else {
			d.addTickle(k)
		}
		return &protocol.ReplyControl{}
	case protocol.ControlGetTCPTickleList:
		sa := payload.(*protocol.SockAddr)
		if _, known := d.pubips[sa.Addr.Unmap()]; !known {
			return &protocol.ReplyControl{Status: 1, ErrMsg: "not a public address"}
		}
		l := &protocol.TickleList{Addr: *sa}
		for _, k := range d.tickleList(sa.Addr.Unmap()) {
			if sa.Port == 0 || k.server.Port() == sa.Port {
				l.Conns = append(l.Conns, k.conn())
			}
		}
		return ok(l)
	case protocol.ControlSetTCPTickleList:
		l := payload.(*protocol.TickleList)
		addr := l.Addr.Addr.Unmap()
		if _, known := d.pubips[addr]; !known {
			return &protocol.ReplyControl{Status: 1, ErrMsg: "not a public address"}
		}
		m := map[connKey]bool{}
		for _, c := range l.Conns {
			if k, ok := d.normalize(c); ok && k.server.Addr() == addr {
				m[k] = true
			}
		}
		d.tickles[addr] = m
		return &protocol.ReplyControl{}
	}
	return nil
}

// pushTickles sends the full connection list of every address this node holds to the
// other nodes every TickleUpdateInterval, so that whoever takes an address over knows
// whom to tickle. Runs on the loop, from tick.
func (d *Daemon) pushTickles(now time.Time) {
	interval := time.Duration(max(d.tunables.TickleUpdateInterval, 1)) * time.Second
	if now.Sub(d.lastTicklePush) < interval {
		return
	}
	d.lastTicklePush = now
	for addr, ip := range d.pubips {
		if ip.holder != d.self {
			continue
		}
		l := &protocol.TickleList{Addr: protocol.SockAddr{Addr: addr}}
		for _, k := range d.tickleList(addr) {
			l.Conns = append(l.Conns, k.conn())
		}
		req, err := protocol.NewReqControl(protocol.ControlSetTCPTickleList, l)
		if err != nil {
			continue
		}
		req.Flags |= protocol.ControlFlagNoReply
		for _, n := range d.nodes {
			if n.pnn != d.self && n.connected {
				d.sendPeer(n.pnn, req, 0)
			}
		}
	}
}

// tickle sends a tickle ACK to every tracked client of addr (after this node took it).
// Runs off the loop.
func (d *Daemon) tickle(addr netip.Addr) {
	var conns []connKey
	d.call(func() { conns = d.tickleList(addr) })
	for _, k := range conns {
		if err := d.opts.NetIf.TickleACK(k.server, k.client, false); err != nil {
			d.log.Warn("tickle ACK failed", "server", k.server.String(), "client", k.client.String(), "err", err)
		}
	}
}

// killConnections resets the tracked client connections of an address this node just
// released (CTDB's killtcp), in parallel: each reset may wait for the client's answer.
// A client that does not answer (netif.ErrNoReply) is already gone.
func (d *Daemon) killConnections(addr netip.Addr) {
	var conns []connKey
	d.call(func() { conns = d.tickleList(addr) })
	for _, k := range conns {
		go func() {
			if err := d.opts.NetIf.TickleACK(k.server, k.client, true); err != nil && !errors.Is(err, netif.ErrNoReply) {
				d.log.Info("could not reset a connection of a released address", "server", k.server.String(), "client", k.client.String(), "err", err)
			}
		}()
	}
}
