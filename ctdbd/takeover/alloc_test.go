package takeover

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want uint32
	}{
		{"192.168.1.1", "192.168.1.1", 128},
		{"10.0.0.0", "10.0.0.1", 96 + 31},
		{"10.0.0.1", "11.0.0.1", 96 + 7},
		{"0.0.0.0", "128.0.0.0", 96},         // the minimum for two IPv4 addresses
		{"1.2.3.4", "::1.2.3.4", 128},        // same key
		{"::1", "8000::1", 0 + 32 + 32 + 32}, // first bit differs, the rest still counts
		// The quirk: the first words differ in their last bit, a true common prefix would
		// be 31, but the equal words after it still add 32 each.
		{"2001:db8::1", "2001:db9::1", 31 + 32 + 32 + 32},
		{"2001:db8::1", "2001:db8::2", 96 + 30},
	}
	for _, tc := range tests {
		a, b := netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b)
		if got := Distance(a, b); got != tc.want {
			t.Errorf("Distance(%s, %s) = %d, want %d", a, b, got, tc.want)
		}
		if got := Distance(b, a); got != tc.want {
			t.Errorf("Distance(%s, %s) = %d, want %d (not symmetric)", b, a, got, tc.want)
		}
	}
}

func TestMayHost(t *testing.T) {
	running := protocol.RunstateRunning
	tests := []struct {
		flags    uint32
		runstate protocol.Runstate
		want     bool
	}{
		{0, running, true},
		{protocol.NodeFlagsDisconnected, running, false},
		{protocol.NodeFlagsUnhealthy, running, false},
		{protocol.NodeFlagsPermanentlyDisabled, running, false},
		{protocol.NodeFlagsBanned, running, false},
		{protocol.NodeFlagsDeleted, running, false},
		{protocol.NodeFlagsStopped, running, false},
		{0x40, running, true}, // a flag outside INACTIVE|DISABLED does not matter
		{0, protocol.RunstateUnknown, false},
		{0, protocol.RunstateInit, false},
		{0, protocol.RunstateSetup, false},
		{0, protocol.RunstateFirstRecovery, false},
		{0, protocol.RunstateStartup, false},
		{0, protocol.RunstateShutdown, false},
	}
	for _, tc := range tests {
		if got := MayHost(tc.flags, tc.runstate); got != tc.want {
			t.Errorf("MayHost(%#x, %v) = %v, want %v", tc.flags, tc.runstate, got, tc.want)
		}
	}
	known := []PublicIP{{netip.MustParseAddr("10.0.0.1"), 0}, {netip.MustParseAddr("10.0.0.2"), 1}}
	if got := AvailableFromKnown(0, running, known); len(got) != 2 || got[0] != known[0].Addr || got[1] != known[1].Addr {
		t.Errorf("AvailableFromKnown(healthy) = %v, want both addresses", got)
	}
	if got := AvailableFromKnown(protocol.NodeFlagsBanned, running, known); got != nil {
		t.Errorf("AvailableFromKnown(banned) = %v, want none", got)
	}
}

func TestAlgorithmNames(t *testing.T) {
	for _, a := range []Algorithm{LCP2, Deterministic, NonDeterministic} {
		got, err := ParseAlgorithm(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %v, %v; want %v", a.String(), got, err, a)
		}
	}
	if _, err := ParseAlgorithm("LCP2"); err == nil {
		t.Error("ParseAlgorithm(\"LCP2\") succeeded; CTDB only accepts lower case")
	}
	for v, want := range map[uint32]Algorithm{0: Deterministic, 1: NonDeterministic, 2: LCP2, 3: LCP2, 99: LCP2} {
		if got := AlgorithmFromTunable(v); got != want {
			t.Errorf("AlgorithmFromTunable(%d) = %v, want %v", v, got, want)
		}
	}
	if DefaultConfig().Algorithm != LCP2 {
		t.Error("DefaultConfig's algorithm is not LCP2")
	}
}

// ips builds a node's known list: pairs of address and reported holder (-1: none).
func ips(pairs ...any) []PublicIP {
	var out []PublicIP
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, PublicIP{netip.MustParseAddr(pairs[i].(string)), pnnOf(pairs[i+1].(int))})
	}
	return out
}

func addrsOf(known []PublicIP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range known {
		out = append(out, ip.Addr)
	}
	return out
}

func TestMergedList(t *testing.T) {
	// Node 0 believes node 1 holds 10.0.0.1 and that it holds 10.0.0.2 itself; node 1
	// does not know 10.0.0.1, so that belief is ignored. Both nodes claim 2001:db8::1:
	// the highest PNN wins. NoIPTakeover freezes the starting point so it can be seen.
	n0 := ips("10.0.0.1", 1, "10.0.0.2", 0, "2001:db8::1", 0, "10.0.0.3", -1)
	n1 := ips("10.0.0.2", 0, "2001:db8::1", 1, "9.0.0.1", 1, "2001:db8::2", -1)
	nodes := []NodeIPs{{Known: n0, Available: addrsOf(n0)}, {Known: n1, Available: addrsOf(n1)}}
	got := Allocate(Config{Algorithm: LCP2, NoIPTakeover: true}, nodes)
	want := []Assignment{
		{netip.MustParseAddr("2001:db8::2"), protocol.UnknownPNN, []uint32{1}},
		{netip.MustParseAddr("2001:db8::1"), 1, []uint32{0, 1}},
		{netip.MustParseAddr("10.0.0.3"), protocol.UnknownPNN, []uint32{0}},
		{netip.MustParseAddr("10.0.0.2"), 0, []uint32{0, 1}},
		{netip.MustParseAddr("10.0.0.1"), protocol.UnknownPNN, []uint32{0}},
		{netip.MustParseAddr("9.0.0.1"), 1, []uint32{1}},
	}
	if !slices.EqualFunc(got, want, func(a, b Assignment) bool {
		return a.Addr == b.Addr && a.PNN == b.PNN && slices.Equal(a.KnownOn, b.KnownOn)
	}) {
		t.Errorf("Allocate =\n%v\nwant\n%v", got, want)
	}
}

func TestEmpty(t *testing.T) {
	for _, algo := range []Algorithm{LCP2, Deterministic, NonDeterministic} {
		if got := Allocate(Config{Algorithm: algo}, nil); len(got) != 0 {
			t.Errorf("%v with no nodes: %v", algo, got)
		}
		if got := Allocate(Config{Algorithm: algo}, make([]NodeIPs, 3)); len(got) != 0 {
			t.Errorf("%v with no addresses: %v", algo, got)
		}
	}
}

func TestCanHostIPs(t *testing.T) {
	held := ips("10.0.0.1", 0)
	unheld := ips("10.0.0.1", -1)
	tests := []struct {
		name  string
		nodes []NodeIPs
		want  bool
	}{
		{"no nodes", nil, false},
		{"no addresses", make([]NodeIPs, 2), false},
		{"held, none available", []NodeIPs{{Known: held}}, true},
		{"held by another node's belief only", []NodeIPs{{}, {Known: held}}, false},
		{"unheld, available", []NodeIPs{{Known: unheld}, {Available: addrsOf(unheld)}}, true},
		{"unheld, none available", []NodeIPs{{Known: unheld}, {Known: unheld}}, false},
	}
	for _, tc := range tests {
		if got := CanHostIPs(tc.nodes); got != tc.want {
			t.Errorf("%s: CanHostIPs = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// layout9 is the nine addresses of most upstream cases, all on node 1, as every node of
// three healthy nodes reports them.
func layout9() []NodeIPs {
	var known []PublicIP
	for _, a := range []string{"192.168.20.249", "192.168.20.250", "192.168.20.251", "192.168.20.252",
		"192.168.20.253", "192.168.20.254", "192.168.21.252", "192.168.21.253", "192.168.21.254"} {
		known = append(known, PublicIP{netip.MustParseAddr(a), 1})
	}
	nodes := make([]NodeIPs, 3)
	for i := range nodes {
		nodes[i] = NodeIPs{Known: known, Available: addrsOf(known)}
	}
	return nodes
}

func pnns(as []Assignment) []int32 {
	out := make([]int32, len(as))
	for i, a := range as {
		out[i] = int32(a.PNN)
	}
	return out
}

func TestNoIPFailback(t *testing.T) {
	allOne := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1}
	tests := []struct {
		algo Algorithm
		want []int32
	}{
		{LCP2, allOne},
		{NonDeterministic, allOne},
		// Ignored by the deterministic algorithm: the layout of upstream det.003.
		{Deterministic, []int32{0, 1, 2, 0, 1, 2, 0, 1, 2}},
	}
	for _, tc := range tests {
		got := pnns(Allocate(Config{Algorithm: tc.algo, NoIPFailback: true}, layout9()))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v with NoIPFailback, 1 -> all healthy: %v, want %v", tc.algo, got, tc.want)
		}
	}
}

func TestForceRebalance(t *testing.T) {
	// Node 0 holds four close addresses, node 1 one: node 1 holds an address, so it is
	// not a rebalance candidate and nothing moves unless it is forced.
	known := ips("192.168.1.1", 0, "192.168.1.2", 0, "192.168.1.3", 0, "192.168.1.4", 0, "192.168.1.5", 1)
	nodes := []NodeIPs{{Known: known, Available: addrsOf(known)}, {Known: known, Available: addrsOf(known)}}
	before := []int32{1, 0, 0, 0, 0}
	if got := pnns(Allocate(Config{Algorithm: LCP2}, nodes)); !slices.Equal(got, before) {
		t.Errorf("unforced: %v, want unchanged %v", got, before)
	}
	for _, force := range [][]uint32{{1}, {1, 7}} {
		got := pnns(Allocate(Config{Algorithm: LCP2, ForceRebalance: force}, nodes))
		if n := countOf(got, 1); n < 2 {
			t.Errorf("forced %v: %v, want node 1 to gain addresses", force, got)
		}
	}
	// A PNN beyond the node count is ignored.
	if got := pnns(Allocate(Config{Algorithm: LCP2, ForceRebalance: []uint32{9}}, nodes)); !slices.Equal(got, before) {
		t.Errorf("forced unknown node: %v, want unchanged %v", got, before)
	}
}

func countOf(s []int32, v int32) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestAllocateLeavesInputAlone(t *testing.T) {
	nodes := layout9()
	nodes[2].Available = nodes[2].Available[:3]
	snapshot := make([]NodeIPs, len(nodes))
	for i, n := range nodes {
		snapshot[i] = NodeIPs{Known: slices.Clone(n.Known), Available: slices.Clone(n.Available)}
	}
	for _, algo := range []Algorithm{LCP2, Deterministic, NonDeterministic} {
		Allocate(Config{Algorithm: algo}, nodes)
		for i := range nodes {
			if !slices.Equal(nodes[i].Known, snapshot[i].Known) || !slices.Equal(nodes[i].Available, snapshot[i].Available) {
				t.Fatalf("%v modified node %d's input", algo, i)
			}
		}
	}
}
