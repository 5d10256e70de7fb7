package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// The public-address controls of the ctdb tool's commands (ip, ipinfo, ifaces,
// setifacelink, addip, delip, reloadips, gratarp) and the takeover-run requests of
// ipreallocate, moveip and reloadips, with CTDB 4.17's semantics:
//
//   - Interfaces are those named by the pool, listed most recently added first (CTDB
//     prepends); an interface leaves the list when delip removes the last address that
//     names it. References count the addresses this node holds on it.
//   - The link state of an interface is the kernel's (NetIf.LinkUp; up when the node has
//     no NetIf, as CTDB starts every interface up) unless SET_IFACE_LINK_STATE set it:
//     that setting holds until the kernel's own state changes.
//   - An address being deleted while held (delete pending) is no longer offered to
//     takeover runs; it is released (releaseip event, address removed, connections
//     reset) before it leaves the pool.

// ipState is the public-address state that the pool entries do not hold. Safe for
// concurrent use (its own mutex); it never calls the loop while locked.
type ipState struct {
	mu     sync.Mutex
	seeded bool
	ifaces []string // in order of first use; GET_IFACES lists them in reverse
	links  map[string]linkSetting

	runsOffUntil time.Time   // takeover runs disabled (DISABLE_TAKEOVER_RUNS) until then
	runWaiters   []srvidPeer // takeover-run requests waiting for the next run
	inRun        []srvidPeer // those the running takeover run will answer
}

// linkSetting is a link state set with SET_IFACE_LINK_STATE, and the kernel's state
// when it was set.
type linkSetting struct{ up, kernel bool }

// srvidPeer is where a request wants its reply: a node and a srvid there.
type srvidPeer struct {
	pnn   uint32
	srvid uint64
}

// ipx returns the daemon's ipState (created in New).
func (d *Daemon) ipx() *ipState { return &d.ipstate }

// seedIfaces fills the interface list from the configured pool, once. Caller holds mu.
func (x *ipState) seedIfaces(pool []sysconfig.PublicAddress) {
	if x.seeded {
		return
	}
	x.seeded = true
	for _, a := range pool {
		x.addIfaces(a.Interfaces)
	}
}

func (x *ipState) addIfaces(names []string) {
	for _, n := range names {
		if !slices.Contains(x.ifaces, n) {
			x.ifaces = append(x.ifaces, n)
		}
	}
}

// ifaceNames returns the interfaces in GET_IFACES order.
func (d *Daemon) ifaceNames() []string {
	x := d.ipx()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.seedIfaces(d.cfg.PublicAddresses)
	out := slices.Clone(x.ifaces)
	slices.Reverse(out)
	return out
}

// kernelLinkUp is the link state the host reports (up when there is no NetIf).
func (d *Daemon) kernelLinkUp(iface string) bool {
	if d.opts.NetIf == nil {
		return true
	}
	up, err := d.opts.NetIf.LinkUp(iface)
	return err == nil && up
}

// linkUp is the effective link state of iface (see the top of this file). Safe from
// any goroutine.
func (d *Daemon) linkUp(iface string) bool {
	kernel := d.kernelLinkUp(iface)
	x := d.ipx()
	x.mu.Lock()
	defer x.mu.Unlock()
	if s, ok := x.links[iface]; ok {
		if s.kernel == kernel {
			return s.up
		}
		delete(x.links, iface) // the kernel changed its mind: it wins
	}
	return kernel
}

// references counts the addresses this node holds on iface. Runs on the loop.
func (d *Daemon) references(iface string) uint32 {
	n := uint32(0)
	for _, ip := range d.pubips {
		if ip.holder == d.self && ip.iface == iface {
			n++
		}
	}
	return n
}

func (d *Daemon) ifaceInfo(name string) protocol.Iface {
	return protocol.Iface{Name: name, LinkState: uint16(b2u(d.linkUp(name))), References: d.references(name)}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// getIfaces answers GET_IFACES. Runs on the loop.
func (d *Daemon) getIfaces() *protocol.ReplyControl {
	l := &protocol.IfaceList{}
	for _, n := range d.ifaceNames() {
		l.Ifaces = append(l.Ifaces, d.ifaceInfo(n))
	}
	return ok(l)
}

// getPublicIPInfo answers GET_PUBLIC_IP_INFO: the address, who holds it, its
// interfaces and which one carries it here (0xFFFFFFFF: none). Runs on the loop.
func (d *Daemon) getPublicIPInfo(sa *protocol.SockAddr) *protocol.ReplyControl {
	addr := sa.Addr.Unmap()
	ip := d.pubips[addr]
	if ip == nil {
		return failed(fmt.Sprintf("%s is not a public address of node %d", addr, d.self))
	}
	info := &protocol.PublicIPInfo{IP: protocol.PublicIP{PNN: ip.holder, Addr: protocol.SockAddr{Addr: addr}}, ActiveIdx: 0xFFFFFFFF}
	for i, n := range ip.ifaces {
		if ip.holder == d.self && ip.iface == n {
			info.ActiveIdx = uint32(i)
		}
		info.Ifaces.Ifaces = append(info.Ifaces.Ifaces, d.ifaceInfo(n))
	}
	return ok(info)
}

// setIfaceLink answers SET_IFACE_LINK_STATE. A change of state asks the leader for a
// takeover run (CTDB's recovery daemon notices it in its next IP check). Runs on the
// loop.
func (d *Daemon) setIfaceLink(i *protocol.Iface) *protocol.ReplyControl {
	if i.LinkState > 1 {
		return failed(fmt.Sprintf("link state %d is invalid", i.LinkState))
	}
	if i.References != 0 {
		return failed("references must be 0")
	}
	if !slices.Contains(d.ifaceNames(), i.Name) {
		return failed(fmt.Sprintf("interface %q is not used by a public address", i.Name))
	}
	up := i.LinkState == 1
	if d.linkUp(i.Name) == up {
		return &protocol.ReplyControl{}
	}
	kernel := d.kernelLinkUp(i.Name)
	x := d.ipx()
	x.mu.Lock()
	if kernel == up {
		delete(x.links, i.Name)
	} else {
		x.links[i.Name] = linkSetting{up: up, kernel: kernel}
	}
	x.mu.Unlock()
	d.log.Warn("interface link state set", "iface", i.Name, "up", up)
	d.requestTakeoverRun()
	return &protocol.ReplyControl{}
}

// requestTakeoverRun makes the leader run a takeover run soon: at once when this node
// leads, else by a takeover-run request without reply. Runs on the loop.
func (d *Daemon) requestTakeoverRun() {
	if d.election.Acting() {
		d.needTakeover = true
		return
	}
	leader := d.election.Leader()
	if n := d.node(leader); n == nil || !n.connected || leader == d.self {
		return
	}
	data, err := protocol.MarshalPayload(&protocol.SrvIDMessage{PNN: d.self})
	if err != nil {
		return
	}
	d.sendPeer(leader, &protocol.ReqMessage{SrvID: protocol.SrvIDTakeoverRun, Data: data}, 0)
}

// replySrvID sends v (an i32: a PNN, or negative on failure) to a waiting requester.
// Runs on the loop.
func (d *Daemon) replySrvID(to srvidPeer, v int32) {
	if to.srvid == 0 {
		return
	}
	iv := protocol.Int32(v)
	data, _ := protocol.MarshalPayload(&iv)
	reply := &protocol.ReqMessage{SrvID: to.srvid, Data: data}
	if to.pnn == d.self {
		d.toClients(reply)
		return
	}
	d.sendPeer(to.pnn, reply, 0)
}

// takeoverRunRequested handles a takeover-run request to the leader (`ctdb
// ipreallocate` and the commands that end with it): the requester is answered with the
// leader's PNN once a takeover run started after the request has finished, or with -1
// at once while takeover runs are disabled. Runs on the loop.
func (d *Daemon) takeoverRunRequested(r protocol.SrvIDMessage) {
	d.needTakeover = true
	to := srvidPeer{r.PNN, r.SrvID}
	if d.takeoverRunsDisabled() {
		d.replySrvID(to, -1)
		return
	}
	if to.srvid == 0 {
		return
	}
	x := d.ipx()
	x.mu.Lock()
	x.runWaiters = append(x.runWaiters, to)
	x.mu.Unlock()
}

// takeoverRunsDisabled reports whether DISABLE_TAKEOVER_RUNS holds takeover runs off.
func (d *Daemon) takeoverRunsDisabled() bool {
	x := d.ipx()
	x.mu.Lock()
	defer x.mu.Unlock()
	return time.Now().Before(x.runsOffUntil)
}

// disableTakeoverRuns holds takeover runs off for timeout seconds (0 lifts the hold).
func (d *Daemon) disableTakeoverRuns(timeout uint32) {
	x := d.ipx()
	x.mu.Lock()
	defer x.mu.Unlock()
	if timeout == 0 {
		x.runsOffUntil = time.Time{}
	} else {
		x.runsOffUntil = time.Now().Add(time.Duration(timeout) * time.Second)
	}
}

// takeoverRunStarting moves the waiting requests to the run that starts now.
func (d *Daemon) takeoverRunStarting() {
	x := d.ipx()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.inRun, x.runWaiters = x.runWaiters, nil
}

// takeoverRunDone answers the requests the run served, or, if it failed, leaves them
// for the retry. Runs on the loop.
func (d *Daemon) takeoverRunDone(err error) {
	x := d.ipx()
	x.mu.Lock()
	served := x.inRun
	x.inRun = nil
	if err != nil {
		x.runWaiters = append(served, x.runWaiters...)
		served = nil
	}
	x.mu.Unlock()
	for _, to := range served {
		d.replySrvID(to, int32(d.self))
	}
}

// ipSlowControl reports whether op is one of this file's controls that change
// interfaces or run events, answered off the loop by runIPControl.
func ipSlowControl(op protocol.Opcode) bool {
	switch op {
	case protocol.ControlAddPublicIP, protocol.ControlDelPublicIP, protocol.ControlReloadPublicIPs,
		protocol.ControlSendGratuitousARP:
		return true
	}
	return false
}

// runIPControl answers ADD_PUBLIC_IP, DEL_PUBLIC_IP, RELOAD_PUBLIC_IPS and
// SEND_GRATUITOUS_ARP. It runs off the loop.
func (d *Daemon) runIPControl(ctx context.Context, req *protocol.ReqControl) *protocol.ReplyControl {
	var ai *protocol.AddrInfo
	if req.Opcode != protocol.ControlReloadPublicIPs {
		p, err := req.DecodeRequest()
		if err != nil {
			return failed(err.Error())
		}
		ai = p.(*protocol.AddrInfo)
		if !ai.Addr.Addr.IsValid() {
			return failed("no address")
		}
	}
	var err error
	switch req.Opcode {
	case protocol.ControlSendGratuitousARP:
		go d.gratuitousARP(ai.Iface, ai.Addr.Addr.Unmap())
		return &protocol.ReplyControl{}
	case protocol.ControlAddPublicIP:
		addr := ai.Addr.Addr.Unmap()
		if ai.Mask > uint32(addr.BitLen()) {
			return failed(fmt.Sprintf("mask %d is invalid for %s", ai.Mask, addr))
		}
		var ifaces []string
		for _, n := range strings.Split(ai.Iface, ",") {
			if n != "" {
				ifaces = append(ifaces, n)
			}
		}
		err = d.addPublicIP(netip.PrefixFrom(addr, int(ai.Mask)), ifaces)
	case protocol.ControlDelPublicIP:
		err = d.delPublicIP(ctx, ai.Addr.Addr.Unmap())
	case protocol.ControlReloadPublicIPs:
		err = d.reloadPublicIPs(ctx)
	}
	if err != nil {
		d.log.Warn("public address control failed", "op", req.Opcode, "err", err)
		return failed(err.Error())
	}
	return &protocol.ReplyControl{}
}

// gratuitousARP announces addr on iface three times, a second apart, as CTDB's
// SEND_GRATUITOUS_ARP does; failures are logged (the control has answered already).
func (d *Daemon) gratuitousARP(iface string, addr netip.Addr) {
	if d.opts.NetIf == nil {
		d.log.Warn("cannot send gratuitous ARP: this node has no network access for public addresses", "address", addr.String(), "iface", iface)
		return
	}
	for i := 0; i < 3; i++ {
		if err := d.opts.NetIf.Announce(iface, addr); err != nil {
			d.log.Warn("gratuitous ARP failed", "address", addr.String(), "iface", iface, "err", err)
		}
		if i < 2 {
			select {
			case <-time.After(time.Second):
			case <-d.stopping:
				return
			}
		}
	}
}

// addPublicIP adds an address to the pool (ADD_PUBLIC_IP, and reloads). It is
// unassigned until a takeover run places it; the leader is asked for one.
func (d *Daemon) addPublicIP(prefix netip.Prefix, ifaces []string) error {
	if len(ifaces) == 0 {
		return fmt.Errorf("no interface for %s", prefix)
	}
	for _, n := range ifaces {
		if len(n) > protocol.IfaceNameSize-2 {
			return fmt.Errorf("interface name %q is too long", n)
		}
	}
	var err error
	d.call(func() {
		if _, dup := d.pubips[prefix.Addr()]; dup {
			err = fmt.Errorf("%s is already a public address of node %d", prefix.Addr(), d.self)
			return
		}
		x := d.ipx()
		x.mu.Lock()
		x.seedIfaces(d.cfg.PublicAddresses)
		x.addIfaces(ifaces)
		x.mu.Unlock()
		d.pubips[prefix.Addr()] = &pubIP{prefix: prefix, ifaces: slices.Clone(ifaces), holder: protocol.UnknownPNN}
		d.log.Info("public address added", "address", prefix.String(), "ifaces", strings.Join(ifaces, ","))
		d.requestTakeoverRun()
	})
	return err
}

// delPublicIP removes an address from the pool (DEL_PUBLIC_IP, and reloads). If this
// node holds it, it is released first and the leader is asked for a takeover run, so
// that another node takes it.
func (d *Daemon) delPublicIP(ctx context.Context, addr netip.Addr) error {
	var held, known bool
	d.call(func() {
		ip := d.pubips[addr]
		if ip == nil {
			return
		}
		known = true
		held = ip.holder == d.self && ip.iface != ""
		if held {
			ip.deletePending = true
		}
	})
	if !known {
		return fmt.Errorf("%s is not a public address of node %d", addr, d.self)
	}
	var err error
	if held {
		d.ipMu.Lock()
		err = d.releaseIP(ctx, addr, protocol.UnknownPNN)
		d.ipMu.Unlock()
	}
	d.call(func() {
		ip := d.pubips[addr]
		if ip == nil {
			return
		}
		if err != nil {
			ip.deletePending = false
			return
		}
		delete(d.pubips, addr)
		delete(d.tickles, addr)
		x := d.ipx()
		x.mu.Lock()
		x.seedIfaces(d.cfg.PublicAddresses)
		for _, n := range ip.ifaces {
			used := false
			for _, o := range d.pubips {
				used = used || slices.Contains(o.ifaces, n)
			}
			if !used {
				x.ifaces = slices.DeleteFunc(x.ifaces, func(s string) bool { return s == n })
				delete(x.links, n)
			}
		}
		x.mu.Unlock()
		d.log.Info("public address deleted", "address", addr.String())
		if held {
			d.requestTakeoverRun()
		}
	})
	return err
}

// publicAddressesFile is where RELOAD_PUBLIC_IPS reads the pool: the configured file,
// else $CTDB_BASE/public_addresses.
func (d *Daemon) publicAddressesFile() string {
	if d.cfg.PublicAddressesFile != "" {
		return d.cfg.PublicAddressesFile
	}
	return filepath.Join(d.cfg.Base, "public_addresses")
}

// reloadPublicIPs answers RELOAD_PUBLIC_IPS: the public addresses file is read again;
// addresses no longer in it are deleted (released first if held), new ones added.
// Addresses in both keep their settings, as in CTDB. A missing file is an empty pool.
func (d *Daemon) reloadPublicIPs(ctx context.Context) error {
	path := d.publicAddressesFile()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reload public addresses: %w", err)
	}
	want, err := sysconfig.ParsePublicAddresses(path, data, d.cfg.PublicInterface)
	if err != nil {
		return fmt.Errorf("reload public addresses: %w", err)
	}
	inFile := map[netip.Addr]bool{}
	for _, a := range want {
		inFile[a.Prefix.Addr()] = true
	}
	var have []netip.Addr
	d.call(func() {
		for a := range d.pubips {
			have = append(have, a)
		}
	})
	var errs []error
	for _, a := range have {
		if !inFile[a] {
			d.log.Info("public address no longer configured, deleting it", "address", a.String())
			if err := d.delPublicIP(ctx, a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, a := range want {
		if !slices.Contains(have, a.Prefix.Addr()) {
			if err := d.addPublicIP(a.Prefix, a.Interfaces); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
