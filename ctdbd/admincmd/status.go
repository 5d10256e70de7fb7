package admincmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// statusNodemap returns the node map for status and nodestatus: the
// consistent node map, with the flags of the other nodes marked UNKNOWN
// while the addressed node has not finished its first recovery (until then
// it has not heard their flags).
func (t *tool) statusNodemap() (*protocol.NodeMap, int) {
	m := t.getNodemap(false)
	if m == nil {
		return nil, 1
	}
	var rs protocol.Uint32
	if r := t.data(t.cmdPNN, protocol.ControlGetRunstate, nil, &rs); r != 0 {
		return nil, r
	}
	out := &protocol.NodeMap{Nodes: append([]protocol.NodeAndFlags(nil), m.Nodes...)}
	if protocol.Runstate(rs) < protocol.RunstateFirstRecovery {
		for i := range out.Nodes {
			n := &out.Nodes[i]
			if n.PNN != t.cmdPNN && n.Flags&(protocol.NodeFlagsDisconnected|protocol.NodeFlagsDeleted) == 0 {
				n.Flags |= nodeFlagsUnknown
			}
		}
	}
	return out, 0
}

// partiallyOnline reports whether a node without flags has an interface
// whose link is down. A failure to ask counts as no.
func (t *tool) partiallyOnline(n *protocol.NodeAndFlags) bool {
	if n.Flags != 0 {
		return false
	}
	var l protocol.IfaceList
	if t.data(n.PNN, protocol.ControlGetIfaces, nil, &l) != 0 {
		return false
	}
	for _, i := range l.Ifaces {
		if i.LinkState == 0 {
			return true
		}
	}
	return false
}

// nodeLines renders the node lines of status / nodestatus (deleted nodes
// left out), machine-readable or not. Interfaces are asked for before
// anything is printed, so that errors come before the table.
func (t *tool) nodeLines(m *protocol.NodeMap, header bool) string {
	var b strings.Builder
	sep := t.c.Options.Separator
	machine := t.c.Options.Machine
	if machine {
		fmt.Fprintf(&b, "%sNode%sIP%sDisconnected%sUnknown%sBanned%sDisabled%sUnhealthy%sStopped%sInactive%sPartiallyOnline%sThisNode%s\n",
			sep, sep, sep, sep, sep, sep, sep, sep, sep, sep, sep, sep)
	} else if header {
		deleted := 0
		for _, n := range m.Nodes {
			if n.Flags&protocol.NodeFlagsDeleted != 0 {
				deleted++
			}
		}
		if deleted == 0 {
			fmt.Fprintf(&b, "Number of nodes:%d\n", len(m.Nodes))
		} else {
			fmt.Fprintf(&b, "Number of nodes:%d (including %d deleted nodes)\n", len(m.Nodes), deleted)
		}
	}
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if n.Flags&protocol.NodeFlagsDeleted != 0 {
			continue
		}
		po := t.partiallyOnline(n)
		if machine {
			this := 'N'
			if n.PNN == t.cmdPNN {
				this = 'Y'
			}
			f := n.Flags
			fmt.Fprintf(&b, "%s%d%s%s%s%d%s%d%s%d%s%d%s%d%s%d%s%d%s%d%s%c%s\n",
				sep, n.PNN, sep, addrString(n.Addr), sep,
				b2i(f&protocol.NodeFlagsDisconnected != 0), sep,
				b2i(f&nodeFlagsUnknown != 0), sep,
				b2i(f&protocol.NodeFlagsBanned != 0), sep,
				b2i(f&protocol.NodeFlagsPermanentlyDisabled != 0), sep,
				b2i(f&protocol.NodeFlagsUnhealthy != 0), sep,
				b2i(f&protocol.NodeFlagsStopped != 0), sep,
				b2i(f&protocol.NodeFlagsInactive != 0), sep,
				b2i(po), sep, this, sep)
			continue
		}
		flags := prettyFlags(n.Flags)
		if po {
			flags = "PARTIALLYONLINE"
		}
		this := ""
		if n.PNN == t.cmdPNN {
			this = " (THIS NODE)"
		}
		fmt.Fprintf(&b, "pnn:%d %-16s %s%s\n", n.PNN, addrString(n.Addr), flags, this)
	}
	return b.String()
}

func cmdStatus(t *tool, _ []string) int {
	m, r := t.statusNodemap()
	if r != 0 {
		return r
	}
	if t.c.Options.Machine {
		fmt.Fprint(t.out, t.nodeLines(m, true))
		return 0
	}
	var vnn protocol.VNNMap
	if r := t.data(t.cmdPNN, protocol.ControlGetVNNMap, nil, &vnn); r != 0 {
		return r
	}
	recmode, err := t.status(t.cmdPNN, protocol.ControlGetRecMode)
	if err != nil {
		return t.reportErr(protocol.ControlGetRecMode, t.cmdPNN, err)
	}
	nodes := t.nodeLines(m, true)
	leader := t.getLeader()
	var b strings.Builder
	b.WriteString(nodes)
	if vnn.Generation == protocol.InvalidGeneration {
		b.WriteString("Generation:INVALID\n")
	} else {
		fmt.Fprintf(&b, "Generation:%d\n", vnn.Generation)
	}
	fmt.Fprintf(&b, "Size:%d\n", len(vnn.Map))
	for i, p := range vnn.Map {
		fmt.Fprintf(&b, "hash:%d lmaster:%d\n", i, p)
	}
	mode := "RECOVERY"
	if uint32(recmode) == protocol.RecoveryNormal {
		mode = "NORMAL"
	}
	fmt.Fprintf(&b, "Recovery mode:%s (%d)\n", mode, recmode)
	if leader == protocol.UnknownPNN {
		b.WriteString("Leader:UNKNOWN\n")
	} else {
		fmt.Fprintf(&b, "Leader:%d\n", leader)
	}
	fmt.Fprint(t.out, b.String())
	return 0
}

// selectNodes parses nodestatus's argument: none (the addressed node), "all",
// or a comma-separated list of PNNs (numbers in C's strtoul base 0).
func (t *tool) selectNodes(m *protocol.NodeMap, arg string, given bool) (*protocol.NodeMap, bool) {
	out := &protocol.NodeMap{}
	switch {
	case !given:
		if n := nodeByPNN(m, t.cmdPNN); n != nil {
			out.Nodes = append(out.Nodes, *n)
		}
	case arg == "all":
		out.Nodes = append(out.Nodes, m.Nodes...)
	default:
		for _, tok := range strings.Split(arg, ",") {
			if tok == "" {
				continue // strtok skips empty tokens
			}
			v, errno := strtoul(tok)
			if errno == exitEINVAL && !strings.Contains(tok, "-") {
				fmt.Fprintf(t.errw, "Invalid node %s\n", tok)
				return nil, false
			}
			pnn := uint32(v)
			if errno != 0 {
				if p, err := strconv.ParseInt(tok, 0, 64); err == nil {
					pnn = uint32(p)
				}
			}
			n := nodeByPNN(m, pnn)
			if n == nil {
				fmt.Fprintf(t.errw, "Node %d does not exist\n", pnn)
				return nil, false
			}
			out.Nodes = append(out.Nodes, *n)
		}
	}
	return out, true
}

func cmdNodestatus(t *tool, args []string) int {
	m, r := t.statusNodemap()
	if r != 0 {
		return r
	}
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	sel, ok := t.selectNodes(m, arg, len(args) > 0)
	if !ok {
		return 1
	}
	fmt.Fprint(t.out, t.nodeLines(sel, arg == "all"))
	code := 0
	for _, n := range sel.Nodes {
		code |= int(n.Flags)
	}
	return code
}

// statistics fields in the order `ctdb statistics` prints them.
func statsFields(s *protocol.Statistics) []struct {
	name string
	v    uint32
} {
	return []struct {
		name string
		v    uint32
	}{
		{"num_clients", s.NumClients}, {"frozen", s.Frozen}, {"recovering", s.Recovering},
		{"num_recoveries", s.NumRecoveries}, {"client_packets_sent", s.ClientPacketsSent},
		{"client_packets_recv", s.ClientPacketsRecv}, {"node_packets_sent", s.NodePacketsSent},
		{"node_packets_recv", s.NodePacketsRecv}, {"keepalive_packets_sent", s.KeepalivePacketsSent},
		{"keepalive_packets_recv", s.KeepalivePacketsRecv},
		{"node.req_call", s.Node.ReqCall}, {"node.reply_call", s.Node.ReplyCall},
		{"node.req_dmaster", s.Node.ReqDMaster}, {"node.reply_dmaster", s.Node.ReplyDMaster},
		{"node.reply_error", s.Node.ReplyError}, {"node.req_message", s.Node.ReqMessage},
		{"node.req_control", s.Node.ReqControl}, {"node.reply_control", s.Node.ReplyControl},
		{"node.req_tunnel", s.Node.ReqTunnel},
		{"client.req_call", s.Client.ReqCall}, {"client.req_message", s.Client.ReqMessage},
		{"client.req_control", s.Client.ReqControl}, {"client.req_tunnel", s.Client.ReqTunnel},
		{"timeouts.call", s.Timeouts.Call}, {"timeouts.control", s.Timeouts.Control},
		{"timeouts.traverse", s.Timeouts.Traverse},
		{"locks.num_calls", s.Locks.NumCalls}, {"locks.num_current", s.Locks.NumCurrent},
		{"locks.num_pending", s.Locks.NumPending}, {"locks.num_failed", s.Locks.NumFailed},
		{"total_calls", s.TotalCalls}, {"pending_calls", s.PendingCalls},
		{"childwrite_calls", s.ChildwriteCalls}, {"pending_childwrite_calls", s.PendingChildwriteCalls},
		{"memory_used", s.MemoryUsed}, {"max_hop_count", s.MaxHopCount},
		{"total_ro_delegations", s.TotalRODelegations}, {"total_ro_revokes", s.TotalRORevokes},
	}
}

func latAvg(l protocol.LatencyCounter) float64 {
	if l.Num == 0 {
		return 0
	}
	return l.Total / float64(l.Num)
}

func cmdStatistics(t *tool, _ []string) int {
	var s protocol.Statistics
	if r := t.data(t.cmdPNN, protocol.ControlStatistics, nil, &s); r != 0 {
		return r
	}
	var b strings.Builder
	if t.c.Options.Machine {
		printStatisticsMachine(&b, &s, t.c.Options.Separator)
	} else {
		printStatistics(&b, &s)
	}
	fmt.Fprint(t.out, b.String())
	return 0
}

func printStatisticsMachine(b *strings.Builder, s *protocol.Statistics, sep string) {
	fields := statsFields(s)
	b.WriteString("CTDB version" + sep + "Current time of statistics" + sep + "Statistics collected since" + sep)
	for _, f := range fields {
		b.WriteString(f.name + sep)
	}
	for _, l := range []string{"reclock_ctdbd", "reclock_recd", "call", "lockwait", "childwrite"} {
		for _, k := range []string{"num", "min", "avg", "max"} {
			fmt.Fprintf(b, "%s_%s_latency%s", k, l, sep)
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "%d%s%d%s%d%s", 1, sep, uint32(s.StatisticsCurrentTime.Sec), sep, uint32(s.StatisticsStartTime.Sec), sep)
	for _, f := range fields {
		fmt.Fprintf(b, "%d%s", f.v, sep)
	}
	for _, l := range []protocol.LatencyCounter{s.Reclock.Ctdbd, s.Reclock.Recd, s.CallLatency, s.Locks.Latency, s.ChildwriteLatency} {
		fmt.Fprintf(b, "%d%s%.6f%s%.6f%s%.6f%s", l.Num, sep, l.Min, sep, latAvg(l), sep, l.Max, sep)
	}
	b.WriteString("\n")
}

func printStatistics(b *strings.Builder, s *protocol.Statistics) {
	fmt.Fprintf(b, "CTDB version %d\n", 1)
	fmt.Fprintf(b, "Current time of statistics  :                %s\n", ctime(s.StatisticsCurrentTime.Sec))
	fmt.Fprintf(b, "Statistics collected since  : (%s) %s\n",
		dhms(s.StatisticsCurrentTime.Sec-s.StatisticsStartTime.Sec), ctime(s.StatisticsStartTime.Sec))
	prefix := ""
	for _, f := range statsFields(s) {
		name := f.name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			if p := name[:i]; p != prefix {
				prefix = p
				fmt.Fprintf(b, " %s\n", p)
			}
			fmt.Fprintf(b, "     %-22s%10d\n", name[i+1:], f.v)
			continue
		}
		prefix = ""
		fmt.Fprintf(b, " %-22s    %10d\n", name, f.v)
	}
	b.WriteString(" hop_count_buckets:")
	for _, v := range s.HopCountBucket {
		fmt.Fprintf(b, " %d", v)
	}
	b.WriteString("\n lock_buckets:")
	for _, v := range s.Locks.Buckets {
		fmt.Fprintf(b, " %d", v)
	}
	b.WriteString("\n")
	for _, l := range []struct {
		name string
		c    protocol.LatencyCounter
	}{
		{"locks_latency      MIN/AVG/MAX", s.Locks.Latency},
		{"reclock_ctdbd      MIN/AVG/MAX", s.Reclock.Ctdbd},
		{"reclock_recd       MIN/AVG/MAX", s.Reclock.Recd},
		{"call_latency       MIN/AVG/MAX", s.CallLatency},
		{"childwrite_latency MIN/AVG/MAX", s.ChildwriteLatency},
	} {
		fmt.Fprintf(b, " %-30s     %.6f/%.6f/%.6f sec out of %d\n", l.name, l.c.Min, latAvg(l.c), l.c.Max, l.c.Num)
	}
}
