//go:build linux

package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Announce implements NetIf: for IPv4 a gratuitous ARP request and then a gratuitous
// ARP reply, both broadcast; for IPv6 one unsolicited neighbour advertisement (Override)
// to ff02::1. Frames leave through an AF_PACKET socket bound to iface. An interface
// without an Ethernet address (loopback, tun) is skipped without error, as CTDB does.
func (l *Linux) Announce(iface string, addr netip.Addr) error {
	if err := l.announce(iface, addr.Unmap()); err != nil {
		return fmt.Errorf("netif: announce %v on %s: %w", addr, iface, err)
	}
	return nil
}

func (l *Linux) announce(iface string, addr netip.Addr) error {
	if !addr.IsValid() {
		return errors.New("invalid address")
	}
	idx, mac, ok, err := l.ethernet(iface)
	if err != nil || !ok {
		return err
	}
	var (
		frames [][]byte
		proto  uint16
	)
	if addr.Is4() {
		req, err := gratuitousARP(mac, addr, false)
		if err != nil {
			return err
		}
		rep, err := gratuitousARP(mac, addr, true)
		if err != nil {
			return err
		}
		frames, proto = [][]byte{req, rep}, unix.ETH_P_ARP
	} else {
		na, err := unsolicitedNA(mac, addr)
		if err != nil {
			return err
		}
		frames, proto = [][]byte{na}, unix.ETH_P_IPV6
	}
	fd, err := l.socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // protocol 0: send only
	if err != nil {
		return fmt.Errorf("open packet socket (CAP_NET_RAW needed): %w", err)
	}
	defer unix.Close(fd)
	for _, f := range frames {
		to := &unix.SockaddrLinklayer{Ifindex: idx, Protocol: htons(proto), Halen: 6}
		copy(to.Addr[:], f[0:6]) // the frame's destination
		if err := unix.Sendto(fd, f, 0, to); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return nil
}

// TickleACK implements NetIf. The segment is sent through a raw IP socket with the IP
// header included, so the kernel routes it by dst but does not need a socket for src.
// With rst it learns the client's sequence numbers first (see NetIf.TickleACK): it
// captures, on all interfaces of the namespace, the client's answer to up to three
// tickle ACKs sent 600 ms apart (Linux rate-limits answers to out-of-window segments to
// one per 500 ms) and returns ErrNoReply if none came, so one call blocks for at most
// about 1.8 s; reset many connections from several goroutines. Link-local (zoned) IPv6
// destinations are not supported: public addresses and their clients are routable.
func (l *Linux) TickleACK(src, dst netip.AddrPort, rst bool) error {
	var err error
	if rst {
		err = l.kill(src, dst)
	} else {
		err = l.sendTCP(src, dst, 0, 0, false)
	}
	if err != nil {
		what := "tickle ACK"
		if rst {
			what = "reset"
		}
		return fmt.Errorf("netif: %s from %v to %v: %w", what, src, dst, err)
	}
	return nil
}

func (l *Linux) sendTCP(src, dst netip.AddrPort, seq, ack uint32, rst bool) error {
	pkt, err := tcpSegment(src, dst, seq, ack, rst)
	if err != nil {
		return err
	}
	d := dst.Addr().Unmap()
	if d.Is4() {
		fd, err := l.socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return fmt.Errorf("open raw IPv4 socket (CAP_NET_RAW needed): %w", err)
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
			return fmt.Errorf("set IP_HDRINCL: %w", err)
		}
		if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: d.As4()}); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		return nil
	}
	fd, err := l.socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return fmt.Errorf("open raw IPv6 socket (CAP_NET_RAW needed): %w", err)
	}
	defer unix.Close(fd)
	// The port must be 0 (or a protocol number) for sendto on an IPv6 raw socket.
	if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet6{Addr: d.As16()}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

const (
	killAttempts = 3
	killWait     = 600 * time.Millisecond
)

// kill resets the connection between the local src and the client dst: a tickle ACK
// makes the client answer with an ACK carrying its own sequence number and the one it
// expects from us, and a reset with exactly that expected number is accepted (RFC 5961).
func (l *Linux) kill(src, dst netip.AddrPort) error {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if src.Addr().Is4() != dst.Addr().Is4() {
		return fmt.Errorf("source %v and destination %v are of different families", src, dst)
	}
	fd, err := l.captureTCP(dst, src)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	buf := make([]byte, 1600)
	for range killAttempts {
		if err := l.sendTCP(src, dst, 0, 0, false); err != nil {
			return err
		}
		deadline := time.Now().Add(killWait)
		for {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("wait for the client's answer: %w", err)
			}
			if n <= 0 {
				continue
			}
			m, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
					continue
				}
				return fmt.Errorf("read the client's answer: %w", err)
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			h, ok := parseTCP(buf[:m])
			if !ok || h.src != dst || h.dst != src {
				continue
			}
			if h.rstFlag {
				return nil // the client had no such connection any more
			}
			if !h.ackFlag {
				continue
			}
			return l.sendTCP(src, dst, h.ack, h.seq, true)
		}
	}
	return ErrNoReply
}

// captureTCP opens an AF_PACKET socket in l's namespace receiving, on all interfaces,
// only the TCP segments from "from" to "to" (network header first).
func (l *Linux) captureTCP(from, to netip.AddrPort) (int, error) {
	// Protocol 0 receives nothing until bind, so nothing unfiltered is queued.
	fd, err := l.socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return -1, fmt.Errorf("open packet socket (CAP_NET_RAW needed): %w", err)
	}
	prog := tcpFilter(from, to)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("attach capture filter: %w", err)
	}
	proto := uint16(unix.ETH_P_IP)
	if from.Addr().Is6() {
		proto = unix.ETH_P_IPV6
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto)}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind packet socket: %w", err)
	}
	return fd, nil
}

// tcpFilter is a classic BPF program accepting IP packets (network header at offset 0)
// that carry TCP from "from" to "to". IPv6 extension headers are not followed.
func tcpFilter(from, to netip.AddrPort) []unix.SockFilter {
	const (
		ldb   = unix.BPF_LD | unix.BPF_B | unix.BPF_ABS
		ldh   = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
		ldw   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ldxIP = unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH
		ldhX  = unix.BPF_LD | unix.BPF_H | unix.BPF_IND
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	var p []unix.SockFilter
	// check loads a value and falls through only when it equals want; the jump to the
	// final "drop" is resolved below.
	check := func(code uint16, off, want uint32) {
		p = append(p, unix.SockFilter{Code: code, K: off}, unix.SockFilter{Code: jeq, K: want})
	}
	words := func(off uint32, a netip.Addr) {
		b := a.AsSlice()
		for i := 0; i < len(b); i += 4 {
			check(ldw, off+uint32(i), binary.BigEndian.Uint32(b[i:]))
		}
	}
	if from.Addr().Is4() {
		check(ldb, 9, unix.IPPROTO_TCP)
		words(12, from.Addr())
		words(16, to.Addr())
		p = append(p, unix.SockFilter{Code: ldxIP, K: 0})
		check(ldhX, 0, uint32(from.Port()))
		check(ldhX, 2, uint32(to.Port()))
	} else {
		check(ldb, 6, unix.IPPROTO_TCP)
		words(8, from.Addr())
		words(24, to.Addr())
		check(ldh, 40, uint32(from.Port()))
		check(ldh, 42, uint32(to.Port()))
	}
	p = append(p, unix.SockFilter{Code: ret, K: 0xffff}, unix.SockFilter{Code: ret, K: 0})
	drop := len(p) - 1
	for i := range p {
		if p[i].Code == jeq {
			p[i].Jf = uint8(drop - (i + 1))
		}
	}
	return p
}

// htons converts v to network byte order as the kernel reads it from a native field.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
