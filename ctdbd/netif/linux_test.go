//go:build linux

package netif

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// These tests build their own network: a bridge in a namespace of its own and, per
// member (client, node a, node b), a namespace joined to the bridge by a veth pair
// created directly in the namespaces (nothing is ever created in the host's namespace).
// Everything sent stays inside them. Namespaces are deleted by t.Cleanup, which also
// removes their links.

// hangGuard bounds every wait; the tests never assert on durations.
const hangGuard = 10 * time.Second

var nsSeq atomic.Int32

type member struct {
	name string // namespace name
	v4   netip.Addr
	v6   netip.Addr
	mac  net.HardwareAddr
	nif  *Linux // a Linux acting in the namespace
}

type topo struct {
	br      string
	members map[string]*member
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, raw sockets)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
}

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func nsPath(name string) string { return "/var/run/netns/" + name }

// newTopo builds the bridge and one namespace per name; member i gets 10.7.0.(i+1)/24
// and fd00:7::(i+1)/64 on eth0.
func newTopo(t *testing.T, names ...string) *topo {
	t.Helper()
	needRoot(t)
	prefix := fmt.Sprintf("nif%d-%d", os.Getpid(), nsSeq.Add(1))
	addNS := func(n string) {
		ipCmd(t, "netns", "add", n)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", n).CombinedOutput(); err != nil {
				t.Errorf("remove namespace %s: %v\n%s", n, err, out)
			}
		})
	}
	tp := &topo{br: prefix + "-br", members: map[string]*member{}}
	addNS(tp.br)
	ipCmd(t, "-n", tp.br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	ipCmd(t, "-n", tp.br, "link", "set", "br0", "up")
	for i, n := range names {
		m := &member{
			name: prefix + "-" + n,
			v4:   netip.AddrFrom4([4]byte{10, 7, 0, byte(i + 1)}),
			v6:   netip.MustParseAddr(fmt.Sprintf("fd00:7::%d", i+1)),
		}
		addNS(m.name)
		port := fmt.Sprintf("p%d", i)
		ipCmd(t, "-n", tp.br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", m.name)
		ipCmd(t, "-n", tp.br, "link", "set", port, "master", "br0", "up")
		ipCmd(t, "-n", m.name, "link", "set", "lo", "up")
		ipCmd(t, "-n", m.name, "link", "set", "eth0", "up")
		ipCmd(t, "-n", m.name, "addr", "add", m.v4.String()+"/24", "dev", "eth0")
		ipCmd(t, "-n", m.name, "addr", "add", m.v6.String()+"/64", "dev", "eth0", "nodad")
		l, err := NewLinux(LinuxConfig{NetNS: nsPath(m.name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		m.nif = l
		lk, err := l.h.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		m.mac = lk.Attrs().HardwareAddr
		tp.members[n] = m
	}
	return tp
}

// inNS runs f on a thread switched into namespace name. The thread is never switched
// back: the runtime discards it when the goroutine ends.
func inNS(t *testing.T, name string, f func()) {
	t.Helper()
	ns, err := netns.GetFromPath(nsPath(name))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			done <- err
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// sysctl reads a file under /proc/sys/net of namespace name, via ip netns exec so that
// it does not depend on the code under test.
func sysctl(t *testing.T, name, key string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", name, "cat", "/proc/sys/net/"+key).CombinedOutput()
	if err != nil {
		t.Fatalf("read %s in %s: %v\n%s", key, name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// ipAddrs lists eth0's addresses in namespace name as ip shows them.
func ipAddrs(t *testing.T, name string) []string {
	t.Helper()
	var as []string
	for _, line := range strings.Split(ipCmd(t, "-n", name, "-o", "addr", "show", "dev", "eth0"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 {
			as = append(as, f[3])
		}
	}
	return as
}

func TestLinuxAddresses(t *testing.T) {
	tp := newTopo(t, "a")
	a := tp.members["a"]
	l := a.nif
	// The namespace must start without promote_secondaries, or the test proves nothing.
	ipCmd(t, "netns", "exec", a.name, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/conf/eth0/promote_secondaries")
	if v := sysctl(t, a.name, "ipv4/conf/eth0/promote_secondaries"); v != "0" {
		t.Fatalf("promote_secondaries %s before the test, want 0", v)
	}

	p1, p2 := netip.MustParsePrefix("10.9.0.1/24"), netip.MustParsePrefix("10.9.0.2/24")
	for _, p := range []netip.Prefix{p1, p2, p1} { // the second add of p1 is a no-op
		if err := l.AddAddress("eth0", p); err != nil {
			t.Fatal(err)
		}
	}
	if v := sysctl(t, a.name, "ipv4/conf/eth0/promote_secondaries"); v != "1" {
		t.Errorf("promote_secondaries %s after AddAddress, want 1", v)
	}
	got := ipAddrs(t, a.name)
	for _, p := range []netip.Prefix{p1, p2} {
		if n := countOf(got, p.String()); n != 1 {
			t.Errorf("ip shows %s %d times (%v), want once", p, n, got)
		}
	}
	ours, err := l.Addresses("eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []netip.Prefix{p1, p2, netip.PrefixFrom(a.v4, 24), netip.PrefixFrom(a.v6, 64)} {
		if !slices.Contains(ours, p) {
			t.Errorf("Addresses = %v, missing %v", ours, p)
		}
	}

	err = l.AddAddress("eth0", netip.MustParsePrefix("10.9.0.1/25"))
	if err == nil || !strings.Contains(err.Error(), "eth0") || !strings.Contains(err.Error(), "10.9.0.1") {
		t.Errorf("adding 10.9.0.1/25 over 10.9.0.1/24: error %v, want one naming eth0 and the address", err)
	}
	err = l.AddAddress("nosuch0", p1)
	if err == nil || !strings.Contains(err.Error(), "nosuch0") || !strings.Contains(err.Error(), p1.String()) {
		t.Errorf("adding to a missing interface: error %v, want one naming it and the address", err)
	}
	err = l.DelAddress("nosuch0", p1)
	if err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("deleting from a missing interface: error %v, want one naming it", err)
	}

	// Deleting the subnet's first (primary) address keeps the second.
	for range 2 { // the second delete is a no-op
		if err := l.DelAddress("eth0", p1); err != nil {
			t.Fatal(err)
		}
	}
	got = ipAddrs(t, a.name)
	if countOf(got, p1.String()) != 0 || countOf(got, p2.String()) != 1 {
		t.Errorf("after deleting %s ip shows %v, want %s kept and %s gone", p1, got, p2, p1)
	}
	// A delete with another prefix length removes the address as it is.
	if err := l.DelAddress("eth0", netip.MustParsePrefix("10.9.0.2/32")); err != nil {
		t.Fatal(err)
	}
	if got := ipAddrs(t, a.name); countOf(got, p2.String()) != 0 {
		t.Errorf("after deleting 10.9.0.2/32 ip shows %v", got)
	}
}

func countOf(l []string, s string) int {
	n := 0
	for _, x := range l {
		if x == s {
			n++
		}
	}
	return n
}

func TestLinuxIPv6UsableAtOnce(t *testing.T) {
	tp := newTopo(t, "a")
	a := tp.members["a"]
	p := netip.MustParsePrefix("fd00:9::1/64")
	if err := a.nif.AddAddress("eth0", p); err != nil {
		t.Fatal(err)
	}
	if err := a.nif.AddAddress("eth0", p); err != nil {
		t.Fatalf("second add: %v", err)
	}
	// A tentative address (DAD running) cannot be bound: EADDRNOTAVAIL.
	var lerr error
	inNS(t, a.name, func() {
		var ln net.Listener
		ln, lerr = net.Listen("tcp", netip.AddrPortFrom(p.Addr(), 0).String())
		if lerr == nil {
			ln.Close()
		}
	})
	if lerr != nil {
		t.Errorf("bind right after AddAddress: %v", lerr)
	}
	if got := ipAddrs(t, a.name); countOf(got, p.String()) != 1 {
		t.Errorf("ip shows %v, want %s once", got, p)
	}
	if out := ipCmd(t, "-n", a.name, "addr", "show", "dev", "eth0", "to", p.String()); strings.Contains(out, "tentative") {
		t.Errorf("address tentative:\n%s", out)
	}
	if err := a.nif.DelAddress("eth0", p); err != nil {
		t.Fatal(err)
	}
	if got := ipAddrs(t, a.name); countOf(got, p.String()) != 0 {
		t.Errorf("after delete ip shows %v", got)
	}
}

func TestLinuxLinkUp(t *testing.T) {
	tp := newTopo(t, "a")
	a := tp.members["a"]
	check := func(iface string, want bool) {
		t.Helper()
		up, err := a.nif.LinkUp(iface)
		if err != nil || up != want {
			t.Errorf("LinkUp(%s) = %v, %v; want %v", iface, up, err, want)
		}
	}
	check("eth0", true)
	ipCmd(t, "-n", a.name, "link", "set", "eth0", "down")
	check("eth0", false)
	ipCmd(t, "-n", a.name, "link", "set", "eth0", "up")
	check("eth0", true)
	ipCmd(t, "-n", tp.br, "link", "set", "p0", "down") // carrier lost, admin still up
	check("eth0", false)
	check("nosuch0", false)
}

// capture is an AF_PACKET socket on eth0 of a namespace receiving one Ethernet type.
type capture struct {
	t  *testing.T
	fd int
}

func newCapture(t *testing.T, name string, ethType uint16) *capture {
	t.Helper()
	c := &capture{t: t, fd: -1}
	inNS(t, name, func() {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(ethType)))
		if err != nil {
			t.Error(err)
			return
		}
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(ethType), Ifindex: ifi.Index})
		}
		if err != nil {
			unix.Close(fd)
			t.Error(err)
			return
		}
		c.fd = fd
	})
	if c.fd < 0 {
		t.FailNow()
	}
	t.Cleanup(func() { unix.Close(c.fd) })
	return c
}

// until reads frames until f returns true, failing the test after hangGuard.
func (c *capture) until(what string, f func(frame []byte) bool) {
	c.t.Helper()
	deadline := time.Now().Add(hangGuard)
	buf := make([]byte, 2048)
	for time.Now().Before(deadline) {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}, 200)
		if err != nil && !errors.Is(err, unix.EINTR) {
			c.t.Fatal(err)
		}
		if n <= 0 {
			continue
		}
		m, _, err := unix.Recvfrom(c.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			continue
		}
		if f(buf[:m]) {
			return
		}
	}
	c.t.Fatalf("no %s captured", what)
}

// neighMAC returns the MAC the client namespace's neighbour table has for ip, or nil.
func neighMAC(t *testing.T, m *member, ip netip.Addr) net.HardwareAddr {
	t.Helper()
	fam := netlink.FAMILY_V4
	if ip.Is6() {
		fam = netlink.FAMILY_V6
	}
	lk, err := m.nif.h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := m.nif.h.NeighList(lk.Attrs().Index, fam)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Fatal(err)
	}
	for _, n := range ns {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip {
			return n.HardwareAddr
		}
	}
	return nil
}

// waitNeigh waits (at most hangGuard) until the client's neighbour table maps ip to mac.
func waitNeigh(t *testing.T, m *member, ip netip.Addr, mac net.HardwareAddr) {
	t.Helper()
	var got net.HardwareAddr
	for deadline := time.Now().Add(hangGuard); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = neighMAC(t, m, ip); bytes.Equal(got, mac) {
			return
		}
	}
	t.Fatalf("%s: neighbour %v is %v, want %v\n%s", m.name, ip, got, mac, ipCmd(t, "-n", m.name, "neigh"))
}

// serve listens on addr in namespace name and echoes every connection.
func serve(t *testing.T, name string, addr netip.AddrPort) {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	inNS(t, name, func() { ln, err = net.Listen("tcp", addr.String()) })
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(c, c)
		}
	}()
}

// dial connects from namespace name to addr and checks one echo.
func dial(t *testing.T, name string, addr netip.AddrPort) net.Conn {
	t.Helper()
	var (
		c   net.Conn
		err error
	)
	inNS(t, name, func() { c, err = net.DialTimeout("tcp", addr.String(), hangGuard) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	echo(t, c)
	return c
}

func echo(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(hangGuard))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("write: %v", err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
		t.Fatalf("echo: %q %v", b, err)
	}
}

// waitReset blocks (at most hangGuard) until the connection fails and checks it was a
// reset.
func waitReset(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(hangGuard))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read: %v, want connection reset", err)
	}
}

func localAddrPort(c net.Conn) netip.AddrPort {
	ap := c.LocalAddr().(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// TestLinuxFailover moves a public address from node a to node b with a client
// connected: after b's Announce the client's neighbour entry has b's MAC (the frames
// are captured and checked on the client's link), and after b's tickle ACK the client's
// connection is reset.
func TestLinuxFailover(t *testing.T) {
	for _, fam := range []string{"IPv4", "IPv6"} {
		t.Run(fam, func(t *testing.T) {
			tp := newTopo(t, "client", "a", "b")
			cl, a, b := tp.members["client"], tp.members["a"], tp.members["b"]
			pub := netip.MustParsePrefix("10.7.0.100/24")
			ethType := uint16(unix.ETH_P_ARP)
			if fam == "IPv6" {
				pub = netip.MustParsePrefix("fd00:7::100/64")
				ethType = unix.ETH_P_IPV6
			}
			srv := netip.AddrPortFrom(pub.Addr(), 4450)

			if err := a.nif.AddAddress("eth0", pub); err != nil {
				t.Fatal(err)
			}
			serve(t, a.name, srv)
			conn := dial(t, cl.name, srv)
			waitNeigh(t, cl, pub.Addr(), a.mac) // the entry b must replace

			if err := a.nif.DelAddress("eth0", pub); err != nil {
				t.Fatal(err)
			}
			if err := b.nif.AddAddress("eth0", pub); err != nil {
				t.Fatal(err)
			}
			capt := newCapture(t, cl.name, ethType)
			if err := b.nif.Announce("eth0", pub.Addr()); err != nil {
				t.Fatal(err)
			}
			if fam == "IPv4" {
				var seen [3]bool
				capt.until("gratuitous ARP request and reply", func(f []byte) bool {
					if len(f) < 22 || !bytes.Equal(f[6:12], b.mac) {
						return false
					}
					op := int(f[20])<<8 | int(f[21])
					if op != 1 && op != 2 {
						t.Fatalf("ARP opcode %d", op)
					}
					checkGARP(t, f, b.mac, pub.Addr(), op == 2)
					seen[op] = true
					return seen[1] && seen[2]
				})
			} else {
				capt.until("neighbour advertisement", func(f []byte) bool {
					// ICMPv6 (next header 58) type 136 from b
					if len(f) < 55 || !bytes.Equal(f[6:12], b.mac) || f[20] != 58 || f[54] != 136 {
						return false
					}
					checkNA(t, f, b.mac, pub.Addr())
					return true
				})
			}
			waitNeigh(t, cl, pub.Addr(), b.mac)

			if err := b.nif.TickleACK(srv, localAddrPort(conn), false); err != nil {
				t.Fatal(err)
			}
			waitReset(t, conn)
		})
	}
}

// TestLinuxKillTCP resets a live connection from the node that holds the address: a
// plain tickle ACK leaves it working (the node's kernel knows it), the reset kills it.
func TestLinuxKillTCP(t *testing.T) {
	for _, fam := range []string{"IPv4", "IPv6"} {
		t.Run(fam, func(t *testing.T) {
			tp := newTopo(t, "client", "a")
			cl, a := tp.members["client"], tp.members["a"]
			srv := netip.AddrPortFrom(a.v4, 4451)
			if fam == "IPv6" {
				srv = netip.AddrPortFrom(a.v6, 4451)
			}
			serve(t, a.name, srv)
			conn := dial(t, cl.name, srv)
			client := localAddrPort(conn)

			if err := a.nif.TickleACK(srv, client, false); err != nil {
				t.Fatal(err)
			}
			echo(t, conn) // still alive

			if err := a.nif.TickleACK(srv, client, true); err != nil {
				t.Fatal(err)
			}
			waitReset(t, conn)

			// The client no longer has the connection: it answers the tickle with a
			// reset, which is success.
			if err := a.nif.TickleACK(srv, client, true); err != nil {
				t.Errorf("reset of a connection the client dropped: %v", err)
			}
		})
	}
}

func TestLinuxKillTCPNoReply(t *testing.T) {
	tp := newTopo(t, "a")
	a := tp.members["a"]
	src := netip.AddrPortFrom(a.v4, 4452)
	dst := netip.MustParseAddrPort("10.7.0.200:40000") // nobody there
	err := a.nif.TickleACK(src, dst, true)
	if !errors.Is(err, ErrNoReply) || !strings.Contains(err.Error(), dst.String()) {
		t.Errorf("reset towards nobody: %v, want ErrNoReply naming %v", err, dst)
	}
}

func TestLinuxAnnounceLoopbackSkipped(t *testing.T) {
	tp := newTopo(t, "a")
	if err := tp.members["a"].nif.Announce("lo", netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("Announce on lo: %v, want it skipped", err)
	}
	if err := tp.members["a"].nif.Announce("nosuch0", netip.MustParseAddr("10.7.0.1")); err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("Announce on a missing interface: %v, want an error naming it", err)
	}
}

// TestLinuxCaptureFilter checks the kernel filter of the reset path: of segments sent
// to node a, only those from the expected client address and port to the expected
// local address and port reach the capture socket.
func TestLinuxCaptureFilter(t *testing.T) {
	for _, fam := range []string{"IPv4", "IPv6"} {
		t.Run(fam, func(t *testing.T) {
			tp := newTopo(t, "client", "a")
			cl, a := tp.members["client"], tp.members["a"]
			ca, aa := cl.v4, a.v4
			other := netip.MustParseAddr("10.7.0.9")
			if fam == "IPv6" {
				ca, aa, other = cl.v6, a.v6, netip.MustParseAddr("fd00:7::9")
			}
			// other is a second address of the client, so that the kernel sends from it.
			if err := cl.nif.AddAddress("eth0", netip.PrefixFrom(other, other.BitLen())); err != nil {
				t.Fatal(err)
			}
			from, to := netip.AddrPortFrom(ca, 40001), netip.AddrPortFrom(aa, 445)
			fd, err := a.nif.captureTCP(from, to)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(fd) })
			wrong := []struct{ s, d netip.AddrPort }{
				{netip.AddrPortFrom(ca, 40002), to},                          // client port
				{from, netip.AddrPortFrom(aa, 446)},                          // local port
				{netip.AddrPortFrom(other, 40001), to},                       // client address
				{netip.AddrPortFrom(ca, 445), netip.AddrPortFrom(aa, 40001)}, // ports swapped
			}
			for _, w := range wrong {
				if err := cl.nif.sendTCP(w.s, w.d, 7, 8, false); err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.nif.sendTCP(from, to, 7, 8, false); err != nil {
				t.Fatal(err)
			}
			// Segments on one path arrive in order: the first one captured must be the
			// matching one.
			c := &capture{t: t, fd: fd}
			c.until("matching segment", func(b []byte) bool {
				h, ok := parseTCP(b)
				if !ok || h.src != from || h.dst != to || h.seq != 7 {
					t.Fatalf("filter let through %v -> %v seq %d (parsed: %v)", h.src, h.dst, h.seq, ok)
				}
				return true
			})
		})
	}
}

// TestLinuxConcurrent uses one Linux from many goroutines (run with -race).
func TestLinuxConcurrent(t *testing.T) {
	tp := newTopo(t, "a")
	l := tp.members["a"].nif
	errs := make(chan error, 64)
	for i := range 16 {
		go func() {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 7, 1, byte(i + 1)}), 24)
			var err error
			for _, f := range []func() error{
				func() error { return l.AddAddress("eth0", p) },
				func() error { return l.Announce("eth0", p.Addr()) },
				func() error { _, err := l.Addresses("eth0"); return err },
				func() error { _, err := l.LinkUp("eth0"); return err },
				func() error { return l.DelAddress("eth0", p) },
			} {
				if err = f(); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	ps, err := l.Addresses("eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Addr().Is4() && p.Addr().As4()[2] == 1 {
			t.Errorf("%v left on eth0", p)
		}
	}
}
