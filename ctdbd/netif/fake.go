package netif

import (
	"fmt"
	"net/netip"
	"sync"
)

// Fake is an in-memory NetIf: a set of interfaces with addresses and link states, and a
// log of what was announced and tickled. Safe for concurrent use.
type Fake struct {
	mu        sync.Mutex
	addrs     map[string][]netip.Prefix
	down      map[string]bool
	Announced []string // "iface addr"
	Tickled   []string // "src dst" or "RST src dst"
}

// NewFake returns a Fake with the given interfaces, all up and without addresses.
func NewFake(ifaces ...string) *Fake {
	f := &Fake{addrs: map[string][]netip.Prefix{}, down: map[string]bool{}}
	for _, i := range ifaces {
		f.addrs[i] = nil
	}
	return f
}

// SetLink sets iface's link state.
func (f *Fake) SetLink(iface string, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[iface] = !up
}

func (f *Fake) has(iface string) error {
	if _, ok := f.addrs[iface]; !ok {
		return fmt.Errorf("netif: no interface %q", iface)
	}
	return nil
}

// AddAddress implements NetIf.
func (f *Fake) AddAddress(iface string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.has(iface); err != nil {
		return err
	}
	for _, a := range f.addrs[iface] {
		if a.Addr() == p.Addr() {
			return nil
		}
	}
	f.addrs[iface] = append(f.addrs[iface], p)
	return nil
}

// DelAddress implements NetIf.
func (f *Fake) DelAddress(iface string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.has(iface); err != nil {
		return err
	}
	l := f.addrs[iface]
	for i, a := range l {
		if a.Addr() == p.Addr() {
			f.addrs[iface] = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	return nil
}

// Addresses implements NetIf.
func (f *Fake) Addresses(iface string) ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.has(iface); err != nil {
		return nil, err
	}
	return append([]netip.Prefix(nil), f.addrs[iface]...), nil
}

// LinkUp implements NetIf.
func (f *Fake) LinkUp(iface string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.has(iface); err != nil {
		return false, nil
	}
	return !f.down[iface], nil
}

// Announce implements NetIf.
func (f *Fake) Announce(iface string, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.has(iface); err != nil {
		return err
	}
	f.Announced = append(f.Announced, iface+" "+addr.String())
	return nil
}

// TickleACK implements NetIf.
func (f *Fake) TickleACK(src, dst netip.AddrPort, rst bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := src.String() + " " + dst.String()
	if rst {
		s = "RST " + s
	}
	f.Tickled = append(f.Tickled, s)
	return nil
}

// Tickles returns what TickleACK was asked to send so far.
func (f *Fake) Tickles() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.Tickled...)
}

// Holds reports whether addr is on any of the fake's interfaces.
func (f *Fake) Holds(addr netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.addrs {
		for _, a := range l {
			if a.Addr() == addr {
				return true
			}
		}
	}
	return false
}
