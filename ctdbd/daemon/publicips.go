package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/takeover"
)

// pubIP is one address of this node's public_addresses pool.
type pubIP struct {
	prefix netip.Prefix
	ifaces []string
	holder uint32 // the node this node believes holds it (UnknownPNN if none)
	iface  string // where this node put it, while it holds it
	// deletePending: DEL_PUBLIC_IP is releasing it; no takeover run may place it here.
	deletePending bool
}

// initPublicIPs loads the pool from the configuration. Addresses of the pool found on
// an interface at start are dropped: nobody assigned them yet (CTDB does the same).
func (d *Daemon) initPublicIPs() {
	d.pubips = map[netip.Addr]*pubIP{}
	for _, a := range d.cfg.PublicAddresses {
		d.pubips[a.Prefix.Addr()] = &pubIP{prefix: a.Prefix, ifaces: a.Interfaces, holder: protocol.UnknownPNN}
	}
	if d.opts.NetIf == nil || len(d.pubips) == 0 {
		return
	}
	for _, ip := range d.pubips {
		for _, ifc := range ip.ifaces {
			have, err := d.opts.NetIf.Addresses(ifc)
			if err != nil {
				continue
			}
			for _, p := range have {
				if p.Addr() == ip.prefix.Addr() {
					d.log.Warn("public address found on an interface at start: removing it until a takeover run assigns it", "address", p.String(), "iface", ifc)
					d.opts.NetIf.DelAddress(ifc, p)
				}
			}
		}
	}
}

// failoverEnabled reports whether this node handles public addresses at all.
func (d *Daemon) failoverEnabled() bool {
	return d.opts.NetIf != nil && !d.cfg.Failover.Disabled
}

// publicIPList answers GET_PUBLIC_IPS: the pool with the holders this node believes, or
// with ONLY_AVAILABLE the addresses this node can host now. Runs on the loop.
func (d *Daemon) publicIPList(onlyAvailable bool) *protocol.PublicIPList {
	l := &protocol.PublicIPList{}
	me := d.nodes[d.self]
	if onlyAvailable && (!d.failoverEnabled() || !takeover.MayHost(me.flags, d.runstate)) {
		return l
	}
	for addr, ip := range d.pubips {
		if onlyAvailable && (ip.deletePending || !d.anyIfaceUp(ip)) {
			continue
		}
		l.IPs = append(l.IPs, protocol.PublicIP{PNN: ip.holder, Addr: protocol.SockAddr{Addr: addr}})
	}
	sort.Slice(l.IPs, func(i, j int) bool { return l.IPs[i].Addr.Addr.Less(l.IPs[j].Addr.Addr) })
	return l
}

func (d *Daemon) anyIfaceUp(ip *pubIP) bool {
	for _, ifc := range ip.ifaces {
		if d.linkUp(ifc) {
			return true
		}
	}
	return false
}

// slowControl reports whether op runs event scripts or changes interfaces, and so is
// answered off the loop (runSlowControl).
func slowControl(op protocol.Opcode) bool {
	switch op {
	case protocol.ControlTakeoverIP, protocol.ControlReleaseIP, protocol.ControlIPReallocated:
		return true
	}
	return ipSlowControl(op)
}

// runSlowControl answers a slow control. It runs on its own goroutine (never the
// loop); takeovers and releases are serialised by ipMu.
func (d *Daemon) runSlowControl(req *protocol.ReqControl) *protocol.ReplyControl {
	ctx, cancel := context.WithTimeout(context.Background(), d.eventTimeout())
	defer cancel()
	if ipSlowControl(req.Opcode) {
		return d.runIPControl(ctx, req)
	}
	if req.Opcode == protocol.ControlIPReallocated {
		if err := d.event(ctx, "ipreallocated"); err != nil {
			return failed(err.Error())
		}
		return &protocol.ReplyControl{}
	}
	payload, err := req.DecodeRequest()
	if err != nil {
		return failed(err.Error())
	}
	p := payload.(*protocol.PublicIP)
	addr := p.Addr.Addr.Unmap()
	d.ipMu.Lock()
	defer d.ipMu.Unlock()
	if req.Opcode == protocol.ControlTakeoverIP {
		err = d.takeIP(ctx, addr, p.PNN)
	} else {
		err = d.releaseIP(ctx, addr, p.PNN)
	}
	if err != nil {
		d.log.Warn("public address change failed", "op", req.Opcode, "address", addr.String(), "err", err)
		return failed(err.Error())
	}
	return &protocol.ReplyControl{}
}

// snapshotIP returns a copy of the pool entry for addr (nil if not in the pool).
func (d *Daemon) snapshotIP(addr netip.Addr) *pubIP {
	var out *pubIP
	d.call(func() {
		if ip := d.pubips[addr]; ip != nil {
			c := *ip
			out = &c
		}
	})
	return out
}

func (d *Daemon) setHolder(addr netip.Addr, holder uint32, iface string) {
	d.call(func() {
		if ip := d.pubips[addr]; ip != nil {
			ip.holder, ip.iface = holder, iface
		}
	})
}

// takeIP handles TAKEOVER_IP: pnn is the new holder. When it is this node: the address
// goes on the first interface of its list whose link is up, the takeip event runs, and
// the network is told (gratuitous ARP / neighbour advertisement, repeated).
func (d *Daemon) takeIP(ctx context.Context, addr netip.Addr, pnn uint32) error {
	ip := d.snapshotIP(addr)
	if ip == nil {
		return fmt.Errorf("%s is not a public address of node %d", addr, d.self)
	}
	if pnn != d.self {
		d.setHolder(addr, pnn, "")
		return nil
	}
	if !d.failoverEnabled() {
		return fmt.Errorf("node %d does not host public addresses (failover disabled or no network access)", d.self)
	}
	if ip.holder == d.self && ip.iface != "" {
		return nil // already ours
	}
	iface := d.bestIface(ip.ifaces)
	if iface == "" {
		return fmt.Errorf("no interface of %s (%v) is up", addr, ip.ifaces)
	}
	if err := d.opts.NetIf.AddAddress(iface, ip.prefix); err != nil {
		return err
	}
	d.setHolder(addr, d.self, iface)
	if err := d.event(ctx, "takeip", iface, addr.String(), strconv.Itoa(ip.prefix.Bits())); err != nil {
		return err
	}
	d.log.Info("took public address", "address", ip.prefix.String(), "iface", iface)
	go d.announce(iface, addr)
	return nil
}

// bestIface chooses where to put an address, as CTDB does: among its interfaces whose
// link is up, the one carrying the fewest of this node's addresses (the first on ties);
// "" when none is up. Runs off the loop.
func (d *Daemon) bestIface(ifaces []string) string {
	refs := map[string]uint32{}
	d.call(func() {
		for _, n := range ifaces {
			refs[n] = d.references(n)
		}
	})
	best := ""
	for _, n := range ifaces {
		if d.linkUp(n) && (best == "" || refs[n] < refs[best]) {
			best = n
		}
	}
	return best
}

// announce tells the network where addr lives now, and tickles its clients, in three
// rounds about a second apart as CTDB does.
func (d *Daemon) announce(iface string, addr netip.Addr) {
	for i := 0; i < 3; i++ {
		if err := d.opts.NetIf.Announce(iface, addr); err != nil {
			d.log.Warn("cannot announce public address", "address", addr.String(), "iface", iface, "err", err)
		}
		d.tickle(addr)
		select {
		case <-time.After(time.Second):
		case <-d.stopping:
			return
		}
	}
}

// releaseIP handles RELEASE_IP: pnn is the node the address moves to. If this node
// holds it, the releaseip event runs and the address is removed.
func (d *Daemon) releaseIP(ctx context.Context, addr netip.Addr, pnn uint32) error {
	ip := d.snapshotIP(addr)
	if ip == nil {
		return nil // not in our pool: nothing to release
	}
	if pnn == d.self {
		return nil
	}
	if ip.holder != d.self || ip.iface == "" {
		d.setHolder(addr, pnn, "")
		return nil
	}
	err := d.event(ctx, "releaseip", ip.iface, addr.String(), strconv.Itoa(ip.prefix.Bits()))
	if derr := d.opts.NetIf.DelAddress(ip.iface, ip.prefix); derr != nil && err == nil {
		err = derr
	}
	d.killConnections(addr)
	d.setHolder(addr, pnn, "")
	d.log.Info("released public address", "address", ip.prefix.String(), "iface", ip.iface, "to", int32(pnn))
	return err
}

// releaseAll drops every public address this node holds (no leader for too long:
// another partition may be serving them). Runs off the loop.
func (d *Daemon) releaseAll(why string) {
	d.ipMu.Lock()
	defer d.ipMu.Unlock()
	var held []netip.Addr
	d.call(func() {
		for addr, ip := range d.pubips {
			if ip.holder == d.self && ip.iface != "" {
				held = append(held, addr)
			}
		}
	})
	if len(held) == 0 {
		return
	}
	d.log.Warn("releasing every public address", "why", why, "count", len(held))
	ctx, cancel := context.WithTimeout(context.Background(), d.eventTimeout())
	defer cancel()
	for _, addr := range held {
		if err := d.releaseIP(ctx, addr, protocol.UnknownPNN); err != nil {
			d.log.Warn("release failed", "address", addr.String(), "err", err)
		}
	}
}

// watchLeaderless releases this node's addresses when it has had no leader for
// leaderlessRelease: it cannot know whether another part of the cluster, the one with
// the cluster lock, has taken them over (CTDB 4.17 keeps serving them, so both answer).
// Runs on the loop, from tick.
func (d *Daemon) watchLeaderless(now time.Time) {
	if d.election.Leader() != protocol.UnknownPNN {
		d.leaderlessSince = time.Time{}
		d.releasedLeaderless = false
		return
	}
	if d.leaderlessSince.IsZero() {
		d.leaderlessSince = now
	}
	if d.releasedLeaderless {
		return
	}
	switch {
	case d.isolated():
		// Cut off from every other node: the others are taking our addresses over.
		d.releasedLeaderless = true
		go d.releaseAll("cut off from every other node")
	case now.Sub(d.leaderlessSince) >= leaderlessRelease:
		d.releasedLeaderless = true
		go d.releaseAll(fmt.Sprintf("no leader for %v", leaderlessRelease))
	}
}

// isolated reports whether this node, in a cluster of more than one live node, is
// connected to none of the others. Runs on the loop.
func (d *Daemon) isolated() bool {
	if liveNodes(d.nodes) < 2 {
		return false
	}
	for _, n := range d.nodes {
		if n.pnn != d.self && n.connected {
			return false
		}
	}
	return true
}

// silentGrace is how long the leader leaves the public addresses of a node that went
// silent (as opposed to one whose connections closed) before moving them: long enough
// for that node, if it is alive but cut off, to notice it and release them, so that no
// address is ever served by two nodes. Runs on the loop.
func (d *Daemon) silentGrace() time.Duration {
	return 2 * time.Duration(max(d.tunables.KeepaliveInterval, 1)) * time.Second
}

// leaderlessRelease is how long a node keeps its public addresses without a leader.
const leaderlessRelease = 5 * time.Second

// takeoverRun is the leader's IP allocation: ask every connected node for its pool and
// what it can host, compute the layout, release moving addresses, take them on their new
// nodes, then run ipreallocated everywhere. Runs on its own goroutine.
func (d *Daemon) takeoverRun(ctx context.Context, nodes []uint32, cfg takeover.Config, total int) error {
	timeout := 3 * time.Duration(max(d.tunablesSnapshot().TakeoverTimeout, 1)) * time.Second
	infos := make([]takeover.NodeIPs, total)
	var mu sync.Mutex
	var firstErr error
	each := func(pnns []uint32, fn func(pnn uint32) error) error {
		var wg sync.WaitGroup
		for _, pnn := range pnns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(pnn); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return firstErr
	}
	get := func(pnn uint32, flags uint32) ([]protocol.PublicIP, error) {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		r, err := d.remoteControlFlags(cctx, pnn, protocol.ControlGetPublicIPs, nil, flags)
		if err != nil {
			return nil, err
		}
		if r.Status != 0 {
			return nil, fmt.Errorf("node %d: GET_PUBLIC_IPS: %s", pnn, r.ErrMsg)
		}
		var l protocol.PublicIPList
		if err := protocol.UnmarshalPayload(r.Data, &l); err != nil {
			return nil, err
		}
		return l.IPs, nil
	}
	if err := each(nodes, func(pnn uint32) error {
		known, err := get(pnn, 0)
		if err != nil {
			return err
		}
		avail, err := get(pnn, protocol.PublicIPFlagsOnlyAvailable)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ip := range known {
			infos[pnn].Known = append(infos[pnn].Known, takeover.PublicIP{Addr: ip.Addr.Addr.Unmap(), PNN: ip.PNN})
		}
		for _, ip := range avail {
			infos[pnn].Available = append(infos[pnn].Available, ip.Addr.Addr.Unmap())
		}
		return nil
	}); err != nil {
		return err
	}
	if takeover.CanHostIPs(infos) {
		layout := takeover.Allocate(cfg, infos)
		holder := map[netip.Addr]uint32{}
		views := make([]map[netip.Addr]uint32, len(infos)) // each node's idea of the holders
		for pnn, n := range infos {
			views[pnn] = map[netip.Addr]uint32{}
			for _, ip := range n.Known {
				views[pnn][ip.Addr] = ip.PNN
				if ip.PNN == uint32(pnn) {
					holder[ip.Addr] = uint32(pnn)
				}
			}
		}
		send := func(op protocol.Opcode, pnn uint32, a takeover.Assignment) error {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r, err := d.remoteControl(cctx, pnn, op, &protocol.PublicIP{PNN: a.PNN, Addr: protocol.SockAddr{Addr: a.Addr}})
			if err == nil && r.Status != 0 {
				err = fmt.Errorf("node %d: %v %s: %s", pnn, op, a.Addr, r.ErrMsg)
			}
			return err
		}
		inRun := map[uint32]bool{}
		for _, p := range nodes {
			inRun[p] = true
		}
		// Release everything that moves, on every node that knows it.
		for _, a := range layout {
			if h, ok := holder[a.Addr]; ok && h == a.PNN {
				continue
			}
			var targets []uint32
			for _, k := range a.KnownOn {
				if inRun[k] && k != a.PNN {
					targets = append(targets, k)
				}
			}
			if err := each(targets, func(pnn uint32) error { return send(protocol.ControlReleaseIP, pnn, a) }); err != nil {
				return err
			}
		}
		// Then take them on their new nodes, and tell the others who holds them.
		for _, a := range layout {
			if a.PNN == protocol.UnknownPNN {
				continue
			}
			if h, ok := holder[a.Addr]; ok && h == a.PNN {
				continue
			}
			if err := each([]uint32{a.PNN}, func(pnn uint32) error { return send(protocol.ControlTakeoverIP, pnn, a) }); err != nil {
				return err
			}
			var others []uint32
			for _, k := range a.KnownOn {
				if inRun[k] && k != a.PNN {
					others = append(others, k)
				}
			}
			each(others, func(pnn uint32) error { return send(protocol.ControlTakeoverIP, pnn, a) })
		}
		// Addresses that stay where they are: tell the nodes whose view of the holder
		// is stale (a node that joined since, or missed a run) who holds them, as
		// CTDB's RELEASE_IP to every non-owner does, so that `ctdb ip` agrees
		// everywhere.
		for _, a := range layout {
			if h, ok := holder[a.Addr]; !ok || h != a.PNN {
				continue // moved: told above
			}
			var stale []uint32
			for _, k := range a.KnownOn {
				if inRun[k] && k != a.PNN && views[k][a.Addr] != a.PNN {
					stale = append(stale, k)
				}
			}
			each(stale, func(pnn uint32) error { return send(protocol.ControlReleaseIP, pnn, a) })
		}
	}
	return each(nodes, func(pnn uint32) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		r, err := d.remoteControl(cctx, pnn, protocol.ControlIPReallocated, nil)
		if err == nil && r.Status != 0 {
			err = fmt.Errorf("node %d: ipreallocated: %s", pnn, r.ErrMsg)
		}
		return err
	})
}

// tunablesSnapshot returns a copy of the tunables (from any goroutine).
func (d *Daemon) tunablesSnapshot() protocol.TunableList {
	var t protocol.TunableList
	d.call(func() { t = d.tunables })
	return t
}

// startTakeoverRun starts a takeover run if one is due and none runs. Runs on the loop.
func (d *Daemon) startTakeoverRun() {
	if !d.needTakeover || d.takeoverBusy || d.recovery != nil || d.takeoverRunsDisabled() {
		return
	}
	for _, n := range d.nodes {
		if !n.connected && !n.silentSince.IsZero() && time.Since(n.silentSince) < d.silentGrace() {
			return // wait until a cut-off node has surely let go of its addresses
		}
	}
	d.needTakeover = false
	d.takeoverBusy = true
	d.takeoverRunStarting()
	var nodes []uint32
	for _, n := range d.nodes {
		if n.flags&protocol.NodeFlagsDeleted == 0 && (n.pnn == d.self || n.connected) {
			nodes = append(nodes, n.pnn)
		}
	}
	cfg := takeover.Config{
		Algorithm:    takeover.AlgorithmFromTunable(d.tunables.IPAllocAlgorithm),
		NoIPTakeover: d.tunables.NoIPTakeover != 0,
		NoIPFailback: d.tunables.NoIPFailback != 0,
	}
	total := len(d.nodes)
	ctx, cancel := context.WithCancel(context.Background())
	d.takeoverCancel = cancel
	go func() {
		err := d.takeoverRun(ctx, nodes, cfg, total)
		cancel()
		d.do(func() {
			d.takeoverBusy = false
			d.takeoverCancel = nil
			d.takeoverRunDone(err)
			if err != nil {
				d.log.Warn("takeover run failed; will retry", "err", err)
				d.needTakeover = true
				return
			}
			d.log.Info("takeover run finished", "pnn", d.self)
		})
	}()
}

// releaseOnShutdown gives up every public address this node holds, with releaseip
// events, as CTDB does before its shutdown event. It runs after the loop has stopped,
// so it reads the pool directly; ipMu keeps it from overlapping a late takeover.
func (d *Daemon) releaseOnShutdown(ctx context.Context) {
	if !d.failoverEnabled() {
		return
	}
	d.ipMu.Lock()
	defer d.ipMu.Unlock()
	for addr, ip := range d.pubips {
		if ip.holder != d.self || ip.iface == "" {
			continue
		}
		if err := d.event(ctx, "releaseip", ip.iface, addr.String(), strconv.Itoa(ip.prefix.Bits())); err != nil {
			d.log.Warn("releaseip event failed at shutdown", "address", addr.String(), "err", err)
		}
		if err := d.opts.NetIf.DelAddress(ip.iface, ip.prefix); err != nil {
			d.log.Warn("cannot remove public address at shutdown", "address", addr.String(), "err", err)
		}
		ip.holder, ip.iface = protocol.UnknownPNN, ""
	}
}
