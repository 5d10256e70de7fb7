package admincmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/cli"
	"github.com/ctdb-go/ctdb/ctdbd/netif"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// The public-address commands of 4.17's ctdb(1): ip, ipinfo, ifaces, setifacelink,
// moveip, addip, delip, reloadips, ipreallocate/sync, gratarp, tickle, gettickles,
// addtickle, deltickle. They send the same controls and messages as the real tool, in
// the same order, and print the same text. 4.17 has no killtcp command (the daemon's
// helper ctdb_killtcp is not part of the tool), so neither has this one.

// errnoETIME is what the real tool returns when a wait for replies times out.
const errnoETIME = 62

// parseIP parses an address as CTDB's ip_from_string does: IPv4 dotted quad, or IPv6
// (an IPv4-mapped one becomes IPv4, reparsed from the part after the last ':'); no
// zone.
func parseIP(s string) (netip.Addr, bool) {
	if !strings.Contains(s, ":") {
		a, err := netip.ParseAddr(s)
		return a, err == nil && a.Is4()
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || !a.Is6() {
		return netip.Addr{}, false
	}
	if a.Is4In6() {
		v4, err := netip.ParseAddr(s[strings.LastIndexByte(s, ':')+1:])
		return v4, err == nil && v4.Is4()
	}
	return a, true
}

// fullUint parses a whole string as an unsigned decimal number the way Samba's
// smb_strtoul with SMB_STR_FULL_STR_CONV does: leading blanks and '+' allowed, digits
// required, nothing after them, no '-', no overflow of 64 bits.
func fullUint(s string) (uint64, bool) {
	if strings.Contains(s, "-") {
		return 0, false
	}
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (^uint64(0)-uint64(c-'0'))/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseIPPort parses "ADDR:PORT" as CTDB's ctdb_sock_addr_from_string with a port:
// the port follows the last ':' (IPv6 without brackets), truncated to 16 bits.
func parseIPPort(s string) (netip.AddrPort, bool) {
	if len(s) >= 64 {
		return netip.AddrPort{}, false
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	port, ok := fullUint(s[i+1:])
	if !ok {
		return netip.AddrPort{}, false
	}
	a, ok := parseIP(s[:i])
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// cStrtoul is C's strtoul(s, NULL, 10): leading blanks, a sign, as many digits as
// there are (none: 0), saturating at the maximum; '-' negates modulo 2^64.
func cStrtoul(s string) uint64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var v uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if v > (^uint64(0)-d)/10 {
			return ^uint64(0)
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v
}

// sockString prints an address as ctdb_sock_addr_to_string does: the address, and
// ":port" when asked (no brackets around IPv6).
func sockString(a protocol.SockAddr, withPort bool) string {
	s := "0.0.0.0"
	if a.Addr.IsValid() {
		s = a.Addr.String()
	}
	if withPort {
		s += fmt.Sprintf(":%d", a.Port)
	}
	return s
}

// usage prints the usage of a command, as the real tool does on bad arguments.
func (t *tool) usage(name string) int {
	c, _ := cli.Lookup(name)
	cli.CommandUsage(t.out, c)
	return 1
}

// nodesWithout lists the PNNs of m's nodes that have none of the flags in mask (and
// are not deleted), except exclude.
func nodesWithout(m *protocol.NodeMap, mask uint32, exclude uint32) []uint32 {
	var out []uint32
	for _, n := range m.Nodes {
		if n.Flags&(mask|protocol.NodeFlagsDeleted) != 0 || n.PNN == exclude {
			continue
		}
		out = append(out, n.PNN)
	}
	return out
}

// publicIPs fetches a node's public address list (all it knows).
func (t *tool) publicIPs(pnn uint32) (*protocol.PublicIPList, int) {
	var l protocol.PublicIPList
	if r := t.data(pnn, protocol.ControlGetPublicIPs, nil, &l); r != 0 {
		return nil, r
	}
	return &l, 0
}

// allPublicIPs merges the lists of every active node as 4.17's `ip all` does: a
// node's claim to host an address wins; otherwise the holder is unknown.
func (t *tool) allPublicIPs() ([]protocol.PublicIP, int) {
	m := t.getNodemap(false)
	if m == nil {
		return nil, 1
	}
	pnns := nodesWithout(m, protocol.NodeFlagsInactive, protocol.UnknownPNN)
	if len(pnns) == 0 {
		return nil, 1
	}
	merged := map[netip.Addr]protocol.PublicIP{}
	for _, pnn := range pnns {
		l, r := t.publicIPs(pnn)
		if r != 0 {
			return nil, 1
		}
		for _, ip := range l.IPs {
			a := ip.Addr.Addr
			if ip.PNN == pnn {
				merged[a] = ip
			} else if _, ok := merged[a]; !ok {
				merged[a] = protocol.PublicIP{PNN: protocol.UnknownPNN, Addr: ip.Addr}
			}
		}
	}
	out := make([]protocol.PublicIP, 0, len(merged))
	for _, ip := range merged {
		out = append(out, ip)
	}
	return out, 0
}

func sortIPs(ips []protocol.PublicIP) {
	sort.SliceStable(ips, func(i, j int) bool {
		a, b := ips[i].Addr, ips[j].Addr
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c < 0
		}
		return a.Port < b.Port
	})
}

func cmdIP(t *tool, args []string) int {
	all := false
	if len(args) == 1 {
		if args[0] != "all" {
			return t.usage("ip")
		}
		all = true
	}
	var ips []protocol.PublicIP
	if all {
		var r int
		if ips, r = t.allPublicIPs(); r != 0 {
			return r
		}
	} else {
		l, r := t.publicIPs(t.cmdPNN)
		if r != 0 {
			return r
		}
		ips = l.IPs
	}
	sortIPs(ips)
	verbose := t.c.Options.Verbose
	infos := make([]*protocol.PublicIPInfo, len(ips))
	if verbose {
		for i := range ips {
			pnn := t.cmdPNN
			if all {
				pnn = ips[i].PNN
			}
			if pnn == protocol.UnknownPNN {
				continue
			}
			var info protocol.PublicIPInfo
			if r := t.data(pnn, protocol.ControlGetPublicIPInfo, &ips[i].Addr, &info); r != 0 {
				return r
			}
			infos[i] = &info
		}
	}
	var b strings.Builder
	sep := t.c.Options.Separator
	machine := t.c.Options.Machine
	switch {
	case machine && verbose:
		fmt.Fprintf(&b, "%sPublic IP%sNode%sActiveInterfaces%sAvailableInterfaces%sConfiguredInterfaces%s\n", sep, sep, sep, sep, sep, sep)
	case machine:
		fmt.Fprintf(&b, "%sPublic IP%sNode%s\n", sep, sep, sep)
	case all:
		b.WriteString("Public IPs on ALL nodes\n")
	default:
		fmt.Fprintf(&b, "Public IPs on node %d\n", t.cmdPNN)
	}
	for i, ip := range ips {
		addr, pnn := sockString(ip.Addr, false), int32(ip.PNN)
		if !verbose {
			if machine {
				fmt.Fprintf(&b, "%s%s%s%d%s\n", sep, addr, sep, pnn, sep)
			} else {
				fmt.Fprintf(&b, "%s %d\n", addr, pnn)
			}
			continue
		}
		var conf, avail []string
		active := ""
		if info := infos[i]; info != nil {
			for j, ifc := range info.Ifaces.Ifaces {
				conf = append(conf, ifc.Name)
				if info.ActiveIdx == uint32(j) {
					active = ifc.Name
				}
				if ifc.LinkState != 0 {
					avail = append(avail, ifc.Name)
				}
			}
		}
		if machine {
			fmt.Fprintf(&b, "%s%s%s%d%s%s%s%s%s%s%s\n", sep, addr, sep, pnn, sep,
				active, sep, strings.Join(avail, ","), sep, strings.Join(conf, ","), sep)
		} else {
			fmt.Fprintf(&b, "%s node[%d] active[%s] available[%s] configured[%s]\n",
				addr, pnn, active, strings.Join(avail, ","), strings.Join(conf, ","))
		}
	}
	fmt.Fprint(t.out, b.String())
	return 0
}

func cmdIPInfo(t *tool, args []string) int {
	a, ok := parseIP(args[0])
	if !ok {
		fmt.Fprintf(t.errw, "Invalid IP address %s\n", args[0])
		return 1
	}
	var info protocol.PublicIPInfo
	sa := protocol.SockAddr{Addr: a}
	if r := t.data(t.cmdPNN, protocol.ControlGetPublicIPInfo, &sa, &info); r != 0 {
		if r == -1 {
			fmt.Fprintf(t.out, "Node %d does not know about IP %s\n", t.cmdPNN, args[0])
		}
		return r
	}
	addr := sockString(info.IP.Addr, false)
	var b strings.Builder
	fmt.Fprintf(&b, "Public IP[%s] info on node %d\n", addr, t.cmdPNN)
	fmt.Fprintf(&b, "IP:%s\nCurrentNode:%d\nNumInterfaces:%d\n", addr, info.IP.PNN, len(info.Ifaces.Ifaces))
	for i, ifc := range info.Ifaces.Ifaces {
		link, active := "up", ""
		if ifc.LinkState == 0 {
			link = "down"
		}
		if uint32(i) == info.ActiveIdx {
			active = " (active)"
		}
		fmt.Fprintf(&b, "Interface[%d]: Name:%s Link:%s References:%d%s\n", i+1, ifc.Name, link, ifc.References, active)
	}
	fmt.Fprint(t.out, b.String())
	return 0
}

func cmdIfaces(t *tool, _ []string) int {
	var l protocol.IfaceList
	if r := t.data(t.cmdPNN, protocol.ControlGetIfaces, nil, &l); r != 0 {
		return r
	}
	if len(l.Ifaces) == 0 {
		fmt.Fprintf(t.out, "No interfaces configured on node %d\n", t.cmdPNN)
		return 0
	}
	var b strings.Builder
	sep := t.c.Options.Separator
	if t.c.Options.Machine {
		fmt.Fprintf(&b, "%sName%sLinkStatus%sReferences%s\n", sep, sep, sep, sep)
	} else {
		fmt.Fprintf(&b, "Interfaces on node %d\n", t.cmdPNN)
	}
	for _, i := range l.Ifaces {
		if t.c.Options.Machine {
			fmt.Fprintf(&b, "%s%s%s%d%s%d%s\n", sep, i.Name, sep, i.LinkState, sep, i.References, sep)
		} else {
			link := "down"
			if i.LinkState != 0 {
				link = "up"
			}
			fmt.Fprintf(&b, "name:%s link:%s references:%d\n", i.Name, link, i.References)
		}
	}
	fmt.Fprint(t.out, b.String())
	return 0
}

func cmdSetIfaceLink(t *tool, args []string) int {
	if len(args[0]) > protocol.IfaceNameSize-2 {
		fmt.Fprintf(t.errw, "Interface name '%s' too long\n", args[0])
		return 1
	}
	var l protocol.IfaceList
	if r := t.data(t.cmdPNN, protocol.ControlGetIfaces, nil, &l); r != 0 {
		fmt.Fprintf(t.errw, "Failed to get interface information from node %d\n", t.cmdPNN)
		return r
	}
	var iface *protocol.Iface
	for i := range l.Ifaces {
		if l.Ifaces[i].Name == args[0] {
			iface = &l.Ifaces[i]
			break
		}
	}
	if iface == nil {
		fmt.Fprintf(t.out, "Interface %s not configured on node %d\n", args[0], t.cmdPNN)
		return 1
	}
	switch args[1] {
	case "up":
		iface.LinkState = 1
	case "down":
		iface.LinkState = 0
	default:
		return t.usage("setifacelink")
	}
	iface.References = 0
	return t.control(t.cmdPNN, protocol.ControlSetIfaceLinkState, iface)
}

// moveIPOnce is one attempt of `ctdb moveip`, as 4.17 makes it: hold off the leader's
// IP checks, check that the target knows the address, release it on every other
// active node, take it on the target.
func (t *tool) moveIPOnce(addr netip.Addr, pnn uint32) int {
	timeout := protocol.Uint32(2 * t.timeout / time.Second)
	if err := t.conn.SendMessage(protocol.BroadcastConnected, protocol.SrvIDDisableIPCheck, &timeout); err != nil {
		fmt.Fprintf(t.errw, "Failed to disable IP check\n")
		return 1
	}
	l, r := t.publicIPs(pnn)
	if r != 0 {
		fmt.Fprintf(t.errw, "Failed to get Public IPs from node %d\n", pnn)
		return r
	}
	known := false
	for _, ip := range l.IPs {
		known = known || ip.Addr.Addr == addr
	}
	if !known {
		fmt.Fprintf(t.errw, "Node %d CANNOT host IP address %s\n", pnn, addr)
		return 1
	}
	m := t.getNodemap(false)
	if m == nil {
		return 1
	}
	others := nodesWithout(m, protocol.NodeFlagsInactive, pnn)
	if len(others) == 0 {
		fmt.Fprintf(t.errw, "Memory allocation error\n")
		return 1
	}
	ip := &protocol.PublicIP{PNN: pnn, Addr: protocol.SockAddr{Addr: addr}}
	for _, o := range others {
		if r := t.control(o, protocol.ControlReleaseIP, ip); r != 0 {
			fmt.Fprintf(t.errw, "Failed to release IP on nodes\n")
			return r
		}
	}
	if r := t.control(pnn, protocol.ControlTakeoverIP, ip); r != 0 {
		fmt.Fprintf(t.errw, "Failed to takeover IP on node %d\n", pnn)
		return r
	}
	return 0
}

// retries is how often 4.17 tries moveip and addip, with retryPause between tries.
const (
	retries    = 5
	retryPause = 3 * time.Second
)

func cmdMoveIP(t *tool, args []string) int {
	addr, ok := parseIP(args[0])
	if !ok {
		fmt.Fprintf(t.errw, "Invalid IP address %s\n", args[0])
		return 1
	}
	pnn := uint32(cStrtoul(args[1]))
	if pnn == protocol.UnknownPNN {
		fmt.Fprintf(t.errw, "Invalid PNN %s\n", args[1])
		return 1
	}
	r := 0
	for try := 0; try < retries; try++ {
		if r = t.moveIPOnce(addr, pnn); r == 0 {
			break
		}
		time.Sleep(retryPause)
	}
	if r != 0 {
		fmt.Fprintf(t.errw, "Failed to move IP %s to node %d\n", args[0], pnn)
	}
	return r
}

func cmdAddIP(t *tool, args []string) int {
	i := strings.LastIndexByte(args[0], '/')
	var addr netip.Addr
	var mask uint64
	ok := len(args[0]) < 64 && i >= 0
	if ok {
		mask, ok = fullUint(args[0][i+1:])
	}
	if ok {
		addr, ok = parseIP(args[0][:i])
	}
	if !ok {
		fmt.Fprintf(t.errw, "Invalid IP/Mask %s\n", args[0])
		return 1
	}
	l, r := t.publicIPs(t.cmdPNN)
	if r != 0 {
		fmt.Fprintf(t.errw, "Failed to get Public IPs from node %d\n", t.cmdPNN)
		return 1
	}
	for _, ip := range l.IPs {
		if ip.Addr.Addr == addr {
			fmt.Fprintf(t.errw, "Node already knows about IP %s\n", addr)
			return 0
		}
	}
	info := &protocol.AddrInfo{Addr: protocol.SockAddr{Addr: addr}, Mask: uint32(mask), Iface: args[1]}
	for try := 0; try < retries; try++ {
		if r = t.control(t.cmdPNN, protocol.ControlAddPublicIP, info); r == 0 {
			break
		}
		time.Sleep(retryPause)
	}
	if r != 0 {
		fmt.Fprintf(t.errw, "Failed to add public IP to node %d. Giving up\n", t.cmdPNN)
		return r
	}
	pnn := protocol.Uint32(t.cmdPNN)
	if err := t.conn.SendMessage(protocol.BroadcastConnected, protocol.SrvIDRebalanceNode, &pnn); err != nil {
		fmt.Fprintf(t.errw, "Failed to ask leader to distribute IPs\n")
		return 1
	}
	return 0
}

func cmdDelIP(t *tool, args []string) int {
	addr, ok := parseIP(args[0])
	if !ok {
		fmt.Fprintf(t.errw, "Invalid IP address %s\n", args[0])
		return 1
	}
	l, r := t.publicIPs(t.cmdPNN)
	if r != 0 {
		fmt.Fprintf(t.errw, "Failed to get Public IPs from node %d\n", t.cmdPNN)
		return 1
	}
	known := false
	for _, ip := range l.IPs {
		known = known || ip.Addr.Addr == addr
	}
	if !known {
		fmt.Fprintf(t.errw, "Node does not know about IP address %s\n", addr)
		return 0
	}
	if r := t.control(t.cmdPNN, protocol.ControlDelPublicIP, &protocol.AddrInfo{Addr: protocol.SockAddr{Addr: addr}}); r != 0 {
		fmt.Fprintf(t.errw, "Failed to delete public IP from node %d\n", t.cmdPNN)
		return r
	}
	return 0
}

// disableTakeoverRuns asks each node in pnns to hold off takeover runs for timeout
// seconds (0: allow them again) and waits for every answer.
func (t *tool) disableTakeoverRuns(pnns []uint32, timeout uint32) int {
	srvid := t.nextSrvID()
	ctx, cancel := t.ctx()
	ch, err := t.conn.Register(ctx, t.pnn, srvid)
	cancel()
	if err != nil {
		return t.reportErr(protocol.ControlRegisterSrvID, t.pnn, err)
	}
	defer func() {
		ctx, cancel := t.ctx()
		defer cancel()
		t.conn.Deregister(ctx, t.pnn, srvid)
	}()
	msg := &protocol.DisableMessage{PNN: t.pnn, SrvID: srvid, Timeout: timeout}
	for _, p := range pnns {
		if err := t.conn.SendMessage(p, protocol.SrvIDDisableTakeoverRuns, msg); err != nil {
			return 1
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	replied := map[uint32]bool{}
	for len(replied) < len(pnns) {
		select {
		case m := <-ch:
			var v protocol.Int32
			if protocol.UnmarshalPayload(m.Data, &v) != nil {
				continue
			}
			if v < 0 {
				return 1
			}
			replied[uint32(v)] = true
		case <-ctx.Done():
			fmt.Fprintf(t.errw, "Timed out waiting to disable takeover runs\n")
			return errnoETIME
		case <-t.conn.Done():
			return 1
		}
	}
	return 0
}

func cmdReloadIPs(t *tool, args []string) int {
	m := t.getNodemap(false)
	if m == nil {
		return 1
	}
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	sel, ok := t.selectNodes(m, arg, len(args) > 0)
	if !ok {
		return 1
	}
	connected := nodesWithout(m, protocol.NodeFlagsDisconnected, protocol.UnknownPNN)
	targets := nodesWithout(sel, protocol.NodeFlagsInactive, protocol.UnknownPNN)
	if len(connected) == 0 || len(targets) == 0 {
		fmt.Fprintf(t.errw, "Memory allocation error\n")
		return 1
	}
	if r := t.disableTakeoverRuns(connected, uint32(2*t.timeout/time.Second)); r != 0 {
		fmt.Fprintf(t.errw, "Failed to disable takeover runs\n")
		return r
	}
	failed := false
	for _, p := range targets {
		ctx, cancel := t.ctx()
		if _, err := t.conn.Control(ctx, p, protocol.ControlReloadPublicIPs, nil); err != nil {
			failed = true
		}
		cancel()
	}
	if failed {
		fmt.Fprintf(t.errw, "Failed to reload IPs on some nodes.\n")
	}
	if r := t.disableTakeoverRuns(connected, 0); r != 0 {
		fmt.Fprintf(t.errw, "Failed to enable takeover runs\n")
		return r
	}
	return t.ipreallocate()
}

func cmdIPReallocate(t *tool, _ []string) int {
	return t.ipreallocate()
}

func cmdGratARP(t *tool, args []string) int {
	addr, ok := parseIP(args[0])
	if !ok {
		fmt.Fprintf(t.errw, "Invalid IP address %s\n", args[0])
		return 1
	}
	info := &protocol.AddrInfo{Addr: protocol.SockAddr{Addr: addr}, Iface: args[1]}
	if r := t.control(t.cmdPNN, protocol.ControlSendGratuitousARP, info); r != 0 {
		fmt.Fprintf(t.errw, "Unable to send gratuitous arp from node %d\n", t.cmdPNN)
		return r
	}
	return 0
}

// readConnections reads connections from r as 4.17's tool does for tickle, addtickle
// and deltickle without arguments: one "SRC:PORT DST:PORT" per line (further words
// ignored), empty lines and lines starting with '#' skipped. A bad line fails the
// whole read with EINVAL.
func readConnections(r io.Reader) ([]protocol.Connection, int) {
	var out []protocol.Connection
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.FieldsFunc(line, func(c rune) bool { return c == ' ' || c == '\t' })
		if len(f) < 2 {
			return nil, exitEINVAL
		}
		src, ok1 := parseIPPort(f[0])
		dst, ok2 := parseIPPort(f[1])
		if !ok1 || !ok2 || src.Addr().Is4() != dst.Addr().Is4() {
			return nil, exitEINVAL
		}
		out = append(out, protocol.Connection{Src: protocol.SockAddrOf(src), Dst: protocol.SockAddrOf(dst)})
	}
	if sc.Err() != nil {
		return nil, exitEINVAL
	}
	return out, 0
}

// cmdTickle sends tickle ACKs from this host, without the daemon, as 4.17 does: the
// first address of a pair receives an ACK (seq 0, ack 0) that appears to come from the
// second. With no arguments the pairs are read from standard input.
func cmdTickle(c *cli.Context, args []string) int {
	if len(args) != 0 && len(args) != 2 {
		cmd, _ := cli.Lookup("tickle")
		cli.CommandUsage(c.Stdout, cmd)
		return 1
	}
	var conns []protocol.Connection
	if len(args) == 0 {
		var r int
		if conns, r = readConnections(os.Stdin); r != 0 {
			return r
		}
	} else {
		for _, a := range args {
			if _, ok := parseIPPort(a); !ok {
				fmt.Fprintf(c.Stderr, "Invalid IP address %s\n", a)
				return 1
			}
		}
		src, _ := parseIPPort(args[0])
		dst, _ := parseIPPort(args[1])
		conns = []protocol.Connection{{Src: protocol.SockAddrOf(src), Dst: protocol.SockAddrOf(dst)}}
	}
	var nif *netif.Linux
	failed := 0
	for _, conn := range conns {
		var err error
		if nif == nil {
			nif, err = netif.NewLinux(netif.LinuxConfig{})
		}
		if err == nil {
			err = nif.TickleACK(conn.Dst.AddrPort(), conn.Src.AddrPort(), false)
		}
		if err != nil {
			fmt.Fprintln(c.Stderr, err)
			failed++
		}
	}
	if nif != nil {
		nif.Close()
	}
	switch {
	case failed > 0 && len(args) == 0:
		fmt.Fprintf(c.Stderr, "Failed to send %d tickles\n", failed)
		return 1
	case failed > 0:
		fmt.Fprintf(c.Stderr, "Failed to send tickle ack\n")
		return 1
	}
	return 0
}

func cmdGetTickles(t *tool, args []string) int {
	port := uint64(0)
	if len(args) == 2 {
		port = cStrtoul(args[1])
	}
	a, ok := parseIP(args[0])
	if !ok {
		fmt.Fprintf(t.errw, "Invalid IP address %s\n", args[0])
		return 1
	}
	var l protocol.TickleList
	sa := protocol.SockAddr{Addr: a, Port: uint16(port)}
	if r := t.data(t.cmdPNN, protocol.ControlGetTCPTickleList, &sa, &l); r != 0 {
		fmt.Fprintf(t.errw, "Failed to get list of connections\n")
		return r
	}
	var b strings.Builder
	if t.c.Options.Machine {
		sep := t.c.Options.Separator
		// "Destiation" is 4.17's spelling; scripts parse this header.
		fmt.Fprintf(&b, "%sSource IP%sPort%sDestiation IP%sPort%s\n", sep, sep, sep, sep, sep)
		for _, c := range l.Conns {
			fmt.Fprintf(&b, "%s%s%s%d%s%s%s%d%s\n", sep, sockString(c.Src, false), sep, c.Src.Port, sep, sockString(c.Dst, false), sep, c.Dst.Port, sep)
		}
	} else {
		fmt.Fprintf(&b, "Connections for IP: %s\n", sockString(l.Addr, false))
		fmt.Fprintf(&b, "Num connections: %d\n", len(l.Conns))
		for _, c := range l.Conns {
			fmt.Fprintf(&b, "SRC: %s   DST: %s\n", sockString(c.Src, true), sockString(c.Dst, true))
		}
	}
	fmt.Fprint(t.out, b.String())
	return 0
}

// tickleEdit is addtickle (TCP_ADD_DELAYED_UPDATE) and deltickle (TCP_REMOVE).
func (t *tool) tickleEdit(name string, op protocol.Opcode, args []string, many, one string) int {
	if len(args) != 0 && len(args) != 2 {
		return t.usage(name)
	}
	if len(args) == 0 {
		conns, r := readConnections(os.Stdin)
		if r != 0 {
			return r
		}
		failed := 0
		for i := range conns {
			ctx, cancel := t.ctx()
			rep, err := t.conn.Control(ctx, t.cmdPNN, op, &conns[i])
			cancel()
			if err != nil || rep.Status != 0 {
				failed++
			}
		}
		if failed > 0 {
			fmt.Fprintf(t.errw, many+"\n", failed)
			return 1
		}
		return 0
	}
	var ap [2]netip.AddrPort
	for i, a := range args {
		v, ok := parseIPPort(a)
		if !ok {
			fmt.Fprintf(t.errw, "Invalid IP address %s\n", a)
			return 1
		}
		ap[i] = v
	}
	conn := &protocol.Connection{Src: protocol.SockAddrOf(ap[0]), Dst: protocol.SockAddrOf(ap[1])}
	if r := t.control(t.cmdPNN, op, conn); r != 0 {
		fmt.Fprintln(t.errw, one)
		return r
	}
	return 0
}

func cmdAddTickle(t *tool, args []string) int {
	return t.tickleEdit("addtickle", protocol.ControlTCPAddDelayedUpdate, args, "Failed to add %d tickles", "Failed to register connection")
}

func cmdDelTickle(t *tool, args []string) int {
	return t.tickleEdit("deltickle", protocol.ControlTCPRemove, args, "Failed to remove %d tickles", "Failed to unregister connection")
}
