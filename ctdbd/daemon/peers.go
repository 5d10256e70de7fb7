package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// peerHandler receives from the transport and posts everything to the loop.
type peerHandler struct{ d *Daemon }

func (h peerHandler) Receive(pnn uint32, pkt []byte) {
	hdr, p, err := protocol.Unmarshal(pkt)
	if err != nil {
		h.d.log.Info("dropping a bad packet from a node", "from", pnn, "err", err)
		return
	}
	// Replies to our controls are matched without the loop.
	if r, ok := p.(*protocol.ReplyControl); ok && hdr.DestNode == h.d.self {
		h.d.pmu.Lock()
		fn := h.d.pending[hdr.ReqID]
		delete(h.d.pending, hdr.ReqID)
		h.d.pmu.Unlock()
		if fn != nil {
			fn(r)
		}
		h.d.do(func() { h.d.heard(pnn) })
		return
	}
	h.d.do(func() { h.d.fromPeer(pnn, hdr, p) })
}

func (h peerHandler) PeerUp(pnn uint32)   { h.d.do(func() { h.d.peerUp(pnn) }) }
func (h peerHandler) PeerDown(pnn uint32) { h.d.do(func() { h.d.peerDown(pnn) }) }

func (d *Daemon) node(pnn uint32) *nodeState {
	if int(pnn) < len(d.nodes) {
		return d.nodes[pnn]
	}
	return nil
}

func (d *Daemon) heard(pnn uint32) {
	if n := d.node(pnn); n != nil {
		n.lastHeard = time.Now()
	}
}

func (d *Daemon) peerUp(pnn uint32) {
	n := d.node(pnn)
	if n == nil || pnn == d.self {
		return
	}
	n.connected = true
	n.lastHeard = time.Now()
	n.silentSince = time.Time{}
	n.flags &^= protocol.NodeFlagsDisconnected
	if n.pushed != nil {
		n.flags = *n.pushed &^ protocol.NodeFlagsDisconnected
		n.pushed = nil
	}
	d.log.Info("node connected", "pnn", pnn)
	// Tell the newcomer our flags; it tells us its own.
	d.pushFlags(pnn)
	d.apply(d.election.PeerUp(time.Now(), pnn))
	d.needRecover = true
}

func (d *Daemon) peerDown(pnn uint32) {
	n := d.node(pnn)
	if n == nil || pnn == d.self || !n.connected {
		return
	}
	n.connected = false
	n.pushed = nil
	// CTDB marks a dead node disconnected and unhealthy, keeping its other flags.
	n.flags |= protocol.NodeFlagsDisconnected | protocol.NodeFlagsUnhealthy
	d.log.Warn("node disconnected", "pnn", pnn)
	d.apply(d.election.PeerDown(time.Now(), pnn))
	d.needRecover = true
}

// keepalives sends keepalives to connected nodes and declares silent ones dead.
func (d *Daemon) keepalives(now time.Time) {
	interval := time.Duration(max(d.tunables.KeepaliveInterval, 1)) * time.Second
	limit := interval * time.Duration(max(d.tunables.KeepaliveLimit, 1))
	for _, n := range d.nodes {
		if n.pnn == d.self || !n.connected {
			continue
		}
		if now.Sub(n.lastHeard) > limit {
			d.log.Warn("no keepalive from node: declaring it disconnected", "pnn", n.pnn, "silent", now.Sub(n.lastHeard).Round(time.Millisecond))
			if r, ok := d.tr.(interface{ Reset(uint32) }); ok {
				r.Reset(n.pnn)
			}
			d.peerDown(n.pnn)
			n.silentSince = now
			continue
		}
	}
	if now.Sub(d.lastKeepalive) < interval {
		return
	}
	d.lastKeepalive = now
	uptime := uint32(now.Sub(d.startTime) / time.Second)
	for _, n := range d.nodes {
		if n.pnn != d.self && n.connected {
			d.sendPeer(n.pnn, &protocol.ReqKeepalive{Version: keepaliveVersion, Uptime: uptime}, 0)
		}
	}
}

// keepaliveVersion is (Samba major << 16) | minor of the version we speak: 4.17.
const keepaliveVersion = 4<<16 | 17

// sendPeer sends a packet to node pnn; failures are logged, not returned: the
// transport reports a lost node separately.
func (d *Daemon) sendPeer(pnn uint32, p protocol.Packet, reqid uint32) {
	h := protocol.Header{Generation: d.vnnmap.Generation, DestNode: pnn, SrcNode: d.self, ReqID: reqid}
	pkt, err := protocol.Marshal(h, p)
	if err != nil {
		d.log.Error("cannot encode packet", "op", p.Operation(), "err", err)
		return
	}
	if err := d.tr.Send(pnn, pkt); err != nil {
		d.log.Debug("send failed", "to", pnn, "op", p.Operation(), "err", err)
	}
}

// fromPeer handles a packet from another node.
func (d *Daemon) fromPeer(pnn uint32, hdr protocol.Header, p protocol.Packet) {
	d.heard(pnn)
	switch p := p.(type) {
	case *protocol.ReqKeepalive:
	case *protocol.ReqMessage:
		d.deliverMessage(pnn, p)
	case *protocol.ReqControl:
		p.ClientID = 0
		if slowControl(p.Opcode) {
			go func() {
				r := d.runSlowControl(p)
				if p.Flags&protocol.ControlFlagNoReply == 0 {
					d.do(func() { d.sendPeer(pnn, r, hdr.ReqID) })
				}
			}()
			return
		}
		var reply *protocol.ReplyControl
		if d.failControl != nil && d.failControl(p.Opcode) {
			reply = &protocol.ReplyControl{Status: -1, ErrMsg: "injected failure"}
		} else {
			reply = d.localControl(hdr, p)
		}
		if reply != nil && p.Flags&protocol.ControlFlagNoReply == 0 {
			d.sendPeer(pnn, reply, hdr.ReqID)
		}
	default:
		d.log.Debug("ignoring packet from node", "from", pnn, "op", hdr.Operation)
	}
}

// broadcastLeader announces the leader to every connected node and to local clients.
func (d *Daemon) broadcastLeader(leader uint32) {
	v := protocol.Uint32(leader)
	data, _ := protocol.MarshalPayload(&v)
	d.broadcastMessage(protocol.SrvIDLeader, data)
}

// broadcastMessage sends a message to every connected node and delivers it locally.
func (d *Daemon) broadcastMessage(srvid uint64, data []byte) {
	m := &protocol.ReqMessage{SrvID: srvid, Data: data}
	for _, n := range d.nodes {
		if n.pnn != d.self && n.connected {
			d.sendPeer(n.pnn, m, 0)
		}
	}
	d.deliverMessage(d.self, m)
}

// deliverMessage hands a message to the daemon's own handlers and to the local clients
// registered for its srvid.
func (d *Daemon) deliverMessage(from uint32, m *protocol.ReqMessage) {
	switch m.SrvID {
	case protocol.SrvIDLeader:
		var v protocol.Uint32
		if err := protocol.UnmarshalPayload(m.Data, &v); err == nil && from != d.self {
			d.apply(d.election.LeaderMessage(time.Now(), from, uint32(v)))
		}
	case protocol.SrvIDPushNodeFlags:
		var c protocol.NodeFlagChange
		if err := protocol.UnmarshalPayload(m.Data, &c); err == nil && c.PNN != d.self {
			if n := d.node(c.PNN); n != nil && n.connected {
				if n.flags != c.NewFlags&^protocol.NodeFlagsDisconnected {
					d.needTakeover = true // e.g. a node became unhealthy: move its addresses
				}
				n.flags = c.NewFlags &^ protocol.NodeFlagsDisconnected
			} else if n != nil && from == c.PNN {
				f := c.NewFlags
				n.pushed = &f
			}
		}
	}
	d.toClients(m)
}

// pushFlags sends this node's flags to node pnn (or to all connected nodes when pnn is
// protocol.BroadcastConnected).
func (d *Daemon) pushFlags(pnn uint32) {
	me := d.nodes[d.self]
	c := &protocol.NodeFlagChange{PNN: d.self, NewFlags: me.flags, OldFlags: me.flags}
	data, _ := protocol.MarshalPayload(c)
	m := &protocol.ReqMessage{SrvID: protocol.SrvIDPushNodeFlags, Data: data}
	if pnn != protocol.BroadcastConnected {
		d.sendPeer(pnn, m, 0)
		return
	}
	for _, n := range d.nodes {
		if n.pnn != d.self && n.connected {
			d.sendPeer(n.pnn, m, 0)
		}
	}
	d.toClients(m)
}

// setFlags changes this node's own flags and tells everyone.
func (d *Daemon) setFlags(set, clear uint32) {
	me := d.nodes[d.self]
	old := me.flags
	me.flags = (me.flags | set) &^ clear
	if me.flags == old {
		return
	}
	d.log.Info("node flags changed", "pnn", d.self, "flags", flagNames(me.flags), "was", flagNames(old))
	d.pushFlags(protocol.BroadcastConnected)
	d.apply(d.election.SetEligible(time.Now(), d.eligible()))
	d.needRecover = true
}

// remoteControl sends a control to node pnn and waits for the reply. It may be called
// from any goroutine except the loop.
func (d *Daemon) remoteControl(ctx context.Context, pnn uint32, op protocol.Opcode, p protocol.Payload) (*protocol.ReplyControl, error) {
	return d.remoteControlFlags(ctx, pnn, op, p, 0)
}

// remoteControlFlags is remoteControl with control flags (e.g. ONLY_AVAILABLE).
func (d *Daemon) remoteControlFlags(ctx context.Context, pnn uint32, op protocol.Opcode, p protocol.Payload, flags uint32) (*protocol.ReplyControl, error) {
	req, err := protocol.NewReqControl(op, p)
	if err != nil {
		return nil, err
	}
	req.Flags = flags
	if pnn == d.self && slowControl(op) {
		return d.runSlowControl(req), nil
	}
	if pnn == d.self {
		var reply *protocol.ReplyControl
		if !d.call(func() {
			reply = d.localControl(protocol.Header{DestNode: d.self, SrcNode: d.self, Generation: d.vnnmap.Generation}, req)
		}) {
			return nil, fmt.Errorf("daemon stopping")
		}
		if reply == nil {
			return nil, fmt.Errorf("control %v: no reply", op)
		}
		return reply, nil
	}
	ch := make(chan *protocol.ReplyControl, 1)
	id := d.expectReply(func(r *protocol.ReplyControl) { ch <- r })
	defer d.forgetReply(id)
	d.do(func() { d.sendPeer(pnn, req, id) })
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("control %v to node %d: %w", op, pnn, ctx.Err())
	case <-d.stopping:
		return nil, fmt.Errorf("daemon stopping")
	}
}

// expectReply registers fn for the reply with a new reqid and returns the reqid. fn runs
// on a transport goroutine and must not block.
func (d *Daemon) expectReply(fn func(*protocol.ReplyControl)) uint32 {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	d.reqid++
	if d.reqid == 0 {
		d.reqid++
	}
	d.pending[d.reqid] = fn
	return d.reqid
}

func (d *Daemon) forgetReply(id uint32) {
	d.pmu.Lock()
	delete(d.pending, id)
	d.pmu.Unlock()
}
