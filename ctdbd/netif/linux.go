//go:build linux

package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LinuxConfig configures a Linux. The zero value acts in the calling process's network
// namespace.
type LinuxConfig struct {
	// NetNS, if not empty, is the path of a network namespace (for example
	// /var/run/netns/NAME) in which every address, link, announcement and tickle is
	// handled. Used by tests and by daemons serving another namespace.
	NetNS string
}

// Linux is the NetIf of a Linux host: addresses and link state through netlink
// (github.com/vishvananda/netlink), announcements through AF_PACKET sockets, tickle ACKs
// and resets through raw IP sockets, all packets built with gopacket layers and without
// cgo. It needs CAP_NET_ADMIN and CAP_NET_RAW (root).
//
// Linux is safe for concurrent use: it keeps no mutable state besides one netlink
// handle (which serialises its own requests), and every Announce and TickleACK opens and
// closes its own sockets. Close releases the handle and the namespace.
type Linux struct {
	h  *netlink.Handle
	ns netns.NsHandle // -1: the calling process's namespace
}

var _ NetIf = (*Linux)(nil)

// NewLinux returns a Linux acting in cfg.NetNS, or in the process's namespace.
func NewLinux(cfg LinuxConfig) (*Linux, error) {
	l := &Linux{ns: netns.None()}
	if cfg.NetNS == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netif: open netlink: %w (is this Linux with netlink available?)", err)
		}
		l.h = h
		return l, nil
	}
	ns, err := netns.GetFromPath(cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("netif: open network namespace %s: %w", cfg.NetNS, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netif: open netlink in network namespace %s: %w (root needed)", cfg.NetNS, err)
	}
	l.h, l.ns = h, ns
	return l, nil
}

// Close releases the netlink handle and the namespace. The Linux must not be used
// afterwards.
func (l *Linux) Close() error {
	l.h.Close()
	if l.ns.IsOpen() {
		return l.ns.Close()
	}
	return nil
}

// inNS runs f in l's namespace. With a namespace configured, f runs on a goroutine of
// its own whose OS thread is switched into the namespace and never switched back: the
// runtime discards the thread when the goroutine ends, so no other goroutine ever runs
// in the wrong namespace.
func (l *Linux) inNS(f func() error) error {
	if !l.ns.IsOpen() {
		return f()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(l.ns); err != nil {
			done <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		done <- f()
	}()
	return <-done
}

// socket opens a close-on-exec socket in l's namespace.
func (l *Linux) socket(domain, typ, proto int) (int, error) {
	fd := -1
	err := l.inNS(func() error {
		var err error
		fd, err = unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
		return err
	})
	return fd, err
}

func (l *Linux) link(iface string) (netlink.Link, error) {
	lk, err := l.h.LinkByName(iface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("no interface %q", iface)
		}
		return nil, fmt.Errorf("look up interface %q: %w", iface, err)
	}
	return lk, nil
}

// addrList lists the addresses of lk, retrying dumps the kernel interrupted (frequent
// while IPv6 addresses change state) and using the last, possibly inconsistent, result
// if interruptions persist.
func (l *Linux) addrList(lk netlink.Link) ([]netlink.Addr, error) {
	var (
		as  []netlink.Addr
		err error
	)
	for range 5 {
		as, err = l.h.AddrList(lk, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if errors.Is(err, netlink.ErrDumpInterrupted) && as != nil {
		err = nil
	}
	return as, err
}

func toPrefix(a netlink.Addr) (netip.Prefix, bool) {
	if a.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

// find returns the address on lk whose IP is addr.
func (l *Linux) find(lk netlink.Link, addr netip.Addr) (netlink.Addr, netip.Prefix, bool, error) {
	as, err := l.addrList(lk)
	if err != nil {
		return netlink.Addr{}, netip.Prefix{}, false, err
	}
	for _, a := range as {
		if p, ok := toPrefix(a); ok && p.Addr() == addr {
			return a, p, true, nil
		}
	}
	return netlink.Addr{}, netip.Prefix{}, false, nil
}

func checkPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("invalid prefix %v", p)
	}
	if p.Addr().Zone() != "" {
		return fmt.Errorf("address %v has a zone; public addresses have none", p)
	}
	return nil
}

// AddAddress implements NetIf. Before the first IPv4 address it sets the interface's
// promote_secondaries to 1 (as CTDB does), so that deleting the first address of a
// subnet keeps the others. IPv6 addresses are added with IFA_F_NODAD and are usable at
// once. The address already there with the same prefix length is success; there with
// another length is an error (delete it first).
func (l *Linux) AddAddress(iface string, p netip.Prefix) error {
	if err := l.addAddress(iface, p); err != nil {
		return fmt.Errorf("netif: add %v to %s: %w", p, iface, err)
	}
	return nil
}

func (l *Linux) addAddress(iface string, p netip.Prefix) error {
	if err := checkPrefix(p); err != nil {
		return err
	}
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
	lk, err := l.link(iface)
	if err != nil {
		return err
	}
	if _, have, ok, err := l.find(lk, p.Addr()); err != nil {
		return fmt.Errorf("list addresses: %w", err)
	} else if ok {
		if have.Bits() == p.Bits() {
			return nil
		}
		return fmt.Errorf("%s already has %v with another prefix length; delete it first", iface, have)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is4() {
		if err := l.promoteSecondaries(iface); err != nil {
			return err
		}
	} else {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := l.h.AddrAdd(lk, a); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// promoteSecondaries sets net.ipv4.conf.IFACE.promote_secondaries to 1 unless it is.
func (l *Linux) promoteSecondaries(iface string) error {
	if strings.ContainsAny(iface, "/") || iface == "." || iface == ".." {
		return fmt.Errorf("bad interface name %q", iface)
	}
	path := "/proc/sys/net/ipv4/conf/" + iface + "/promote_secondaries"
	err := l.inNS(func() error {
		b, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(b)) == "1" {
			return nil
		}
		return os.WriteFile(path, []byte("1\n"), 0o644)
	})
	if err != nil {
		return fmt.Errorf("set promote_secondaries (else deleting the first address of a subnet would delete the others): %w", err)
	}
	return nil
}

// DelAddress implements NetIf. The address is removed whatever its prefix length on
// the interface; an address that is not there is success.
func (l *Linux) DelAddress(iface string, p netip.Prefix) error {
	if err := l.delAddress(iface, p); err != nil {
		return fmt.Errorf("netif: delete %v from %s: %w", p, iface, err)
	}
	return nil
}

func (l *Linux) delAddress(iface string, p netip.Prefix) error {
	if err := checkPrefix(p); err != nil {
		return err
	}
	lk, err := l.link(iface)
	if err != nil {
		return err
	}
	a, _, ok, err := l.find(lk, p.Addr().Unmap())
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	if !ok {
		return nil
	}
	if err := l.h.AddrDel(lk, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// Addresses implements NetIf: every IPv4 and IPv6 address on iface (link-local ones
// included), in the kernel's order.
func (l *Linux) Addresses(iface string) ([]netip.Prefix, error) {
	lk, err := l.link(iface)
	if err != nil {
		return nil, fmt.Errorf("netif: list addresses of %s: %w", iface, err)
	}
	as, err := l.addrList(lk)
	if err != nil {
		return nil, fmt.Errorf("netif: list addresses of %s: %w", iface, err)
	}
	var ps []netip.Prefix
	for _, a := range as {
		if p, ok := toPrefix(a); ok {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// LinkUp implements NetIf: up means administratively up with a carrier (IFF_UP and
// IFF_LOWER_UP). A missing interface is (false, nil).
func (l *Linux) LinkUp(iface string) (bool, error) {
	lk, err := l.h.LinkByName(iface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return false, nil
		}
		return false, fmt.Errorf("netif: link state of %s: %w", iface, err)
	}
	at := lk.Attrs()
	return at.Flags&net.FlagUp != 0 && at.RawFlags&unix.IFF_LOWER_UP != 0, nil
}

// ethernet returns the index and MAC of iface, or ok false for an interface without an
// Ethernet address (loopback, tun, ...), which Announce skips as CTDB does.
func (l *Linux) ethernet(iface string) (idx int, mac net.HardwareAddr, ok bool, err error) {
	lk, err := l.link(iface)
	if err != nil {
		return 0, nil, false, err
	}
	at := lk.Attrs()
	if at.Flags&net.FlagLoopback != 0 || len(at.HardwareAddr) != 6 || (at.EncapType != "" && at.EncapType != "ether") {
		return at.Index, nil, false, nil
	}
	return at.Index, at.HardwareAddr, true, nil
}
