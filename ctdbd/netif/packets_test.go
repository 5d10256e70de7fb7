package netif

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var testMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x0a, 0x01}

func TestGratuitousARPFields(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	for _, reply := range []bool{false, true} {
		b, err := gratuitousARP(testMAC, ip, reply)
		if err != nil {
			t.Fatal(err)
		}
		checkGARP(t, b, testMAC, ip, reply)
	}
	if _, err := gratuitousARP(testMAC, netip.MustParseAddr("2001:db8::1"), false); err == nil {
		t.Error("gratuitousARP accepted an IPv6 address")
	}
}

// checkGARP checks an Ethernet frame holding CTDB's gratuitous ARP request or reply.
func checkGARP(t *testing.T, frame []byte, mac net.HardwareAddr, ip netip.Addr, reply bool) {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	arp, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if eth == nil || arp == nil {
		t.Fatalf("not an Ethernet ARP frame: %v", p)
	}
	if !bytes.Equal(eth.DstMAC, broadcastMAC) || !bytes.Equal(eth.SrcMAC, mac) {
		t.Errorf("Ethernet %v -> %v, want %v -> broadcast", eth.SrcMAC, eth.DstMAC, mac)
	}
	wantOp, wantTHA := uint16(layers.ARPRequest), net.HardwareAddr(make([]byte, 6))
	if reply {
		wantOp, wantTHA = layers.ARPReply, mac
	}
	if arp.Operation != wantOp {
		t.Errorf("opcode %d, want %d", arp.Operation, wantOp)
	}
	if !bytes.Equal(arp.SourceHwAddress, mac) || !bytes.Equal(arp.DstHwAddress, wantTHA) {
		t.Errorf("op %d: sha %v tha %v, want %v and %v", wantOp, net.HardwareAddr(arp.SourceHwAddress), net.HardwareAddr(arp.DstHwAddress), mac, wantTHA)
	}
	if !bytes.Equal(arp.SourceProtAddress, ip.AsSlice()) || !bytes.Equal(arp.DstProtAddress, ip.AsSlice()) {
		t.Errorf("op %d: spa %v tpa %v, want both %v", wantOp, net.IP(arp.SourceProtAddress), net.IP(arp.DstProtAddress), ip)
	}
}

func TestUnsolicitedNAFields(t *testing.T) {
	ip := netip.MustParseAddr("2001:db8::10")
	b, err := unsolicitedNA(testMAC, ip)
	if err != nil {
		t.Fatal(err)
	}
	checkNA(t, b, testMAC, ip)
	if _, err := unsolicitedNA(testMAC, netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("unsolicitedNA accepted an IPv4 address")
	}
}

// checkNA checks an Ethernet frame holding an unsolicited neighbour advertisement.
func checkNA(t *testing.T, frame []byte, mac net.HardwareAddr, ip netip.Addr) {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip6, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	icmp, _ := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	na, _ := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	if eth == nil || ip6 == nil || icmp == nil || na == nil {
		t.Fatalf("not a neighbour advertisement: %v", p)
	}
	if !bytes.Equal(eth.DstMAC, allNodesMAC) || !bytes.Equal(eth.SrcMAC, mac) {
		t.Errorf("Ethernet %v -> %v, want %v -> 33:33:00:00:00:01", eth.SrcMAC, eth.DstMAC, mac)
	}
	if !ip6.SrcIP.Equal(ip.AsSlice()) || !ip6.DstIP.Equal(allNodesIP6.AsSlice()) || ip6.HopLimit != 255 {
		t.Errorf("IPv6 %v -> %v hop limit %d, want %v -> ff02::1 hop limit 255", ip6.SrcIP, ip6.DstIP, ip6.HopLimit, ip)
	}
	if !na.Override() || na.Solicited() || na.Router() {
		t.Errorf("flags %#x, want Override only", na.Flags)
	}
	if !na.TargetAddress.Equal(ip.AsSlice()) {
		t.Errorf("target %v, want %v", na.TargetAddress, ip)
	}
	if len(na.Options) != 1 || na.Options[0].Type != layers.ICMPv6OptTargetAddress || !bytes.Equal(na.Options[0].Data, mac) {
		t.Errorf("options %v, want one target link-layer address %v", na.Options, mac)
	}
	if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
		t.Fatal(err)
	}
	if err, v := icmp.VerifyChecksum(); err != nil || !v.Valid {
		t.Errorf("ICMPv6 checksum not valid: %+v %v", v, err)
	}
}

func TestTCPSegment(t *testing.T) {
	for _, c := range []struct {
		src, dst string
		seq, ack uint32
		rst      bool
	}{
		{"192.0.2.10:445", "198.51.100.7:50000", 0, 0, false},
		{"192.0.2.10:445", "198.51.100.7:50000", 12345, 678, true},
		{"[2001:db8::10]:2049", "[2001:db8::7]:700", 0, 0, false},
		{"[2001:db8::10]:2049", "[2001:db8::7]:700", 1, 2, true},
	} {
		src, dst := netip.MustParseAddrPort(c.src), netip.MustParseAddrPort(c.dst)
		b, err := tcpSegment(src, dst, c.seq, c.ack, c.rst)
		if err != nil {
			t.Fatal(err)
		}
		checkTCP(t, b, src, dst, c.seq, c.ack, c.rst)
		h, ok := parseTCP(b)
		if !ok || h.src != src || h.dst != dst || h.seq != c.seq || h.ack != c.ack || !h.ackFlag || h.rstFlag != c.rst {
			t.Errorf("parseTCP(%s -> %s) = %+v %v", src, dst, h, ok)
		}
	}
	if _, err := tcpSegment(netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("[2001:db8::1]:1"), 0, 0, false); err == nil {
		t.Error("tcpSegment accepted mixed families")
	}
}

// checkTCP checks an IP packet holding CTDB's tickle ACK or reset.
func checkTCP(t *testing.T, pkt []byte, src, dst netip.AddrPort, seq, ack uint32, rst bool) {
	t.Helper()
	first := layers.LayerTypeIPv4
	if src.Addr().Is6() {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(pkt, first, gopacket.Default)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tcp == nil || p.NetworkLayer() == nil {
		t.Fatalf("no TCP in %v", p)
	}
	if ip4, ok := p.NetworkLayer().(*layers.IPv4); ok && ip4.TTL != 255 {
		t.Errorf("TTL %d, want 255", ip4.TTL)
	}
	if ip6, ok := p.NetworkLayer().(*layers.IPv6); ok && ip6.HopLimit != 64 {
		t.Errorf("hop limit %d, want 64", ip6.HopLimit)
	}
	fl := p.NetworkLayer().NetworkFlow()
	if fl.Src().String() != src.Addr().String() || fl.Dst().String() != dst.Addr().String() ||
		uint16(tcp.SrcPort) != src.Port() || uint16(tcp.DstPort) != dst.Port() {
		t.Errorf("%v:%d -> %v:%d, want %v -> %v", fl.Src(), tcp.SrcPort, fl.Dst(), tcp.DstPort, src, dst)
	}
	if tcp.Seq != seq || tcp.Ack != ack || !tcp.ACK || tcp.RST != rst || tcp.SYN || tcp.FIN || tcp.PSH || tcp.Window != 1234 || len(tcp.Payload) != 0 {
		t.Errorf("seq %d ack %d ACK %v RST %v SYN %v FIN %v PSH %v window %d payload %d; want seq %d ack %d ACK RST=%v window 1234 no payload",
			tcp.Seq, tcp.Ack, tcp.ACK, tcp.RST, tcp.SYN, tcp.FIN, tcp.PSH, tcp.Window, len(tcp.Payload), seq, ack, rst)
	}
	if err := tcp.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
		t.Fatal(err)
	}
	if err, v := tcp.VerifyChecksum(); err != nil || !v.Valid {
		t.Errorf("TCP checksum not valid: %+v %v", v, err)
	}
}
