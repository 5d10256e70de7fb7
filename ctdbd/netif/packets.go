package netif

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Packet builders for Linux, pure so that they can be checked without privileges.

// tickleWindow is the window of CTDB's tickle ACKs and resets ("easier to spot in a
// sniffer").
const tickleWindow = 1234

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodesMAC  = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	allNodesIP6  = netip.MustParseAddr("ff02::1")
)

func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, err
	}
	return append([]byte(nil), buf.Bytes()...), nil
}

// gratuitousARP builds the broadcast Ethernet frame of a gratuitous ARP for ip owned by
// mac: a request (target hardware address zero) or a reply (target hardware address
// mac); sender and target protocol addresses are both ip.
func gratuitousARP(mac net.HardwareAddr, ip netip.Addr, reply bool) ([]byte, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("gratuitous ARP needs an IPv4 address, not %v", ip)
	}
	op, tha := uint16(layers.ARPRequest), net.HardwareAddr(make([]byte, 6))
	if reply {
		op, tha = layers.ARPReply, mac
	}
	ip4 := ip.AsSlice()
	return serialize(
		&layers.Ethernet{SrcMAC: mac, DstMAC: broadcastMAC, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: op,
			SourceHwAddress: mac, SourceProtAddress: ip4,
			DstHwAddress: tha, DstProtAddress: ip4,
		})
}

// unsolicitedNA builds the Ethernet frame of an unsolicited neighbour advertisement for
// ip owned by mac, to all nodes (ff02::1), hop limit 255, Override set, Solicited and
// Router clear, with a target link-layer address option.
func unsolicitedNA(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	if !ip.Is6() || ip.Is4In6() {
		return nil, fmt.Errorf("neighbour advertisement needs an IPv6 address, not %v", ip)
	}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: ip.AsSlice(), DstIP: allNodesIP6.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
		return nil, err
	}
	return serialize(
		&layers.Ethernet{SrcMAC: mac, DstMAC: allNodesMAC, EthernetType: layers.EthernetTypeIPv6},
		ip6, icmp,
		&layers.ICMPv6NeighborAdvertisement{
			Flags:         0x20, // Override
			TargetAddress: ip.AsSlice(),
			Options:       layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: mac}},
		})
}

// tcpSegment builds an IP packet (header included) carrying a TCP segment without
// payload from src to dst with the given sequence and acknowledgement numbers, flags ACK
// or ACK|RST, window 1234, TTL 255 (IPv4) or hop limit 64 (IPv6), as CTDB sends them.
func tcpSegment(src, dst netip.AddrPort, seq, ack uint32, rst bool) ([]byte, error) {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if s.Is4() != d.Is4() {
		return nil, fmt.Errorf("source %v and destination %v are of different families", src, dst)
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: seq, Ack: ack, ACK: true, RST: rst, Window: tickleWindow,
	}
	var ip gopacket.SerializableLayer
	if s.Is4() {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 255, Protocol: layers.IPProtocolTCP, SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
		if err := tcp.SetNetworkLayerForChecksum(ip4); err != nil {
			return nil, err
		}
		ip = ip4
	} else {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
		if err := tcp.SetNetworkLayerForChecksum(ip6); err != nil {
			return nil, err
		}
		ip = ip6
	}
	return serialize(ip, tcp)
}

// tcpHeader is what a capture needs of a received TCP segment.
type tcpHeader struct {
	src, dst netip.AddrPort
	seq, ack uint32
	ackFlag  bool
	rstFlag  bool
}

// parseTCP decodes an IP packet (no link-layer header) carrying TCP.
func parseTCP(b []byte) (tcpHeader, bool) {
	if len(b) == 0 {
		return tcpHeader{}, false
	}
	first := layers.LayerTypeIPv4
	if b[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(b, first, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	nl, tl := p.NetworkLayer(), p.Layer(layers.LayerTypeTCP)
	if nl == nil || tl == nil {
		return tcpHeader{}, false
	}
	t := tl.(*layers.TCP)
	s, ok1 := netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
	d, ok2 := netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
	if !ok1 || !ok2 {
		return tcpHeader{}, false
	}
	return tcpHeader{
		src: netip.AddrPortFrom(s, uint16(t.SrcPort)), dst: netip.AddrPortFrom(d, uint16(t.DstPort)),
		seq: t.Seq, ack: t.Ack, ackFlag: t.ACK, rstFlag: t.RST,
	}, true
}
