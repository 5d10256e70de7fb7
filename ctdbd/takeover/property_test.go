package takeover

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// scenario is a generated takeover run: per-node state and what the nodes report.
type scenario struct {
	cfg      Config
	flags    []uint32
	runstate []protocol.Runstate
	nodes    []NodeIPs
}

func (s scenario) String() string {
	return fmt.Sprintf("cfg=%+v flags=%v runstate=%v nodes=%+v", s.cfg, s.flags, s.runstate, s.nodes)
}

// addrPool is the addresses scenarios draw from: a few IPv4 and IPv6 subnets, so that
// close and distant pairs both occur.
var addrPool = func() []netip.Addr {
	var out []netip.Addr
	for _, p := range []string{"10.0.0.%d", "10.0.1.%d", "192.168.20.%d", "2001:db8::%x", "2001:db8:1::%x"} {
		for i := 1; i <= 12; i++ {
			out = append(out, netip.MustParseAddr(fmt.Sprintf(p, i)))
		}
	}
	return out
}()

// genScenario draws a cluster of 1 to 6 nodes with up to maxIPs addresses. Each address
// is in the pool of a random set of nodes; its holder, if any, reports it, other nodes
// report random beliefs. Nodes get random flags and runstates (mostly healthy and
// RUNNING), and some addresses are unavailable on some nodes (interfaces down).
func genScenario(t *rapid.T, maxIPs int) scenario {
	n := rapid.IntRange(1, 6).Draw(t, "nodes")
	idx := rapid.SliceOfNDistinct(rapid.IntRange(0, len(addrPool)-1), 0, maxIPs, rapid.ID[int]).Draw(t, "addrs")
	s := scenario{
		cfg: Config{
			Algorithm:    rapid.SampledFrom([]Algorithm{LCP2, Deterministic, NonDeterministic}).Draw(t, "algo"),
			NoIPTakeover: rapid.IntRange(0, 4).Draw(t, "noIPTakeover") == 0,
			NoIPFailback: rapid.Bool().Draw(t, "noIPFailback"),
		},
		flags:    make([]uint32, n),
		runstate: make([]protocol.Runstate, n),
		nodes:    make([]NodeIPs, n),
	}
	flagChoices := []uint32{0, 0, 0, 0, protocol.NodeFlagsDisconnected, protocol.NodeFlagsUnhealthy,
		protocol.NodeFlagsPermanentlyDisabled, protocol.NodeFlagsBanned, protocol.NodeFlagsDeleted,
		protocol.NodeFlagsStopped, protocol.NodeFlagsUnhealthy | protocol.NodeFlagsBanned}
	for node := range n {
		s.flags[node] = rapid.SampledFrom(flagChoices).Draw(t, "flags")
		s.runstate[node] = rapid.SampledFrom([]protocol.Runstate{5, 5, 5, 5, 4, 1}).Draw(t, "runstate")
	}
	for _, i := range idx {
		a := addrPool[i]
		holder := rapid.IntRange(-1, n-1).Draw(t, "holder")
		for node := range n {
			if node != holder && rapid.IntRange(0, 3).Draw(t, "notInPool") == 0 {
				continue
			}
			belief := holder
			if node != holder {
				belief = rapid.IntRange(-1, n-1).Draw(t, "belief")
			}
			s.nodes[node].Known = append(s.nodes[node].Known, PublicIP{a, pnnOf(belief)})
			if MayHost(s.flags[node], s.runstate[node]) && rapid.IntRange(0, 5).Draw(t, "linkDown") != 0 {
				s.nodes[node].Available = append(s.nodes[node].Available, a)
			}
		}
	}
	return s
}

// available reports whether node may host a: eligible and a in its available list.
func (s scenario) available(node int, a netip.Addr) bool {
	return MayHost(s.flags[node], s.runstate[node]) && slices.Contains(s.nodes[node].Available, a)
}

// holderBefore is the trusted holder of a: the highest node reporting itself.
func (s scenario) holderBefore(a netip.Addr) uint32 {
	h := protocol.UnknownPNN
	for node, n := range s.nodes {
		for _, ip := range n.Known {
			if ip.Addr == a && ip.PNN == uint32(node) {
				h = uint32(node)
			}
		}
	}
	return h
}

func TestPropertyOnlyEligibleHosts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genScenario(t, 24)
		for _, a := range Allocate(s.cfg, s.nodes) {
			if a.PNN == protocol.UnknownPNN {
				continue
			}
			node := int(a.PNN)
			if node >= len(s.nodes) || !s.available(node, a.Addr) {
				t.Fatalf("%s on node %d (flags %#x, runstate %v), which may not host it",
					a.Addr, node, s.flags[min(node, len(s.flags)-1)], s.runstate[min(node, len(s.flags)-1)])
			}
		}
	})
}

func TestPropertyNoneLeftUnassigned(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genScenario(t, 24)
		for _, a := range Allocate(s.cfg, s.nodes) {
			if s.cfg.NoIPTakeover {
				// Nothing may move: an address stays with its holder or is dropped. Not so
				// for the deterministic algorithm, whose first step puts address i on node
				// i mod N whatever NoIPTakeover says (as CTDB 4.17 does).
				if s.cfg.Algorithm != Deterministic && a.PNN != protocol.UnknownPNN && a.PNN != s.holderBefore(a.Addr) {
					t.Fatalf("NoIPTakeover: %s moved from %d to %d", a.Addr, int32(s.holderBefore(a.Addr)), a.PNN)
				}
				continue
			}
			if a.PNN != protocol.UnknownPNN {
				continue
			}
			for node := range s.nodes {
				if s.available(node, a.Addr) {
					t.Fatalf("%s unassigned although node %d may host it", a.Addr, node)
				}
			}
		}
	})
}

// TestPropertyResultList checks the list itself: every address some node knows, once,
// in descending key order, with the nodes that know it.
func TestPropertyResultList(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genScenario(t, 24)
		got := Allocate(s.cfg, s.nodes)
		knownOn := map[netip.Addr][]uint32{}
		for node, n := range s.nodes {
			for _, ip := range n.Known {
				if !slices.Contains(knownOn[ip.Addr], uint32(node)) {
					knownOn[ip.Addr] = append(knownOn[ip.Addr], uint32(node))
				}
			}
		}
		if len(got) != len(knownOn) {
			t.Fatalf("%d addresses in the result, %d known", len(got), len(knownOn))
		}
		for i, a := range got {
			if i > 0 && keyOf(got[i-1].Addr).compare(keyOf(a.Addr)) <= 0 {
				t.Fatalf("%s listed before %s", got[i-1].Addr, a.Addr)
			}
			if !slices.Equal(a.KnownOn, knownOn[a.Addr]) {
				t.Fatalf("%s known on %v, want %v", a.Addr, a.KnownOn, knownOn[a.Addr])
			}
		}
	})
}

// feedBack returns the scenario after the takeover run: every node that knows an address
// reports its new holder, nothing else changes.
func (s scenario) feedBack(result []Assignment) scenario {
	holder := map[netip.Addr]uint32{}
	for _, a := range result {
		holder[a.Addr] = a.PNN
	}
	next := s
	next.nodes = make([]NodeIPs, len(s.nodes))
	for node, n := range s.nodes {
		next.nodes[node].Available = n.Available
		for _, ip := range n.Known {
			next.nodes[node].Known = append(next.nodes[node].Known, PublicIP{ip.Addr, holder[ip.Addr]})
		}
	}
	return next
}

// TestPropertyStable: a second run with nothing changed moves nothing. Not so for the
// non-deterministic algorithm, which can shuttle an address back and forth, as CTDB's
// does (TestNonDeterministicOscillates).
func TestPropertyStable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genScenario(t, 24)
		if s.cfg.Algorithm == NonDeterministic {
			s.cfg.Algorithm = rapid.SampledFrom([]Algorithm{LCP2, Deterministic}).Draw(t, "stableAlgo")
		}
		first := Allocate(s.cfg, s.nodes)
		second := Allocate(s.cfg, s.feedBack(first).nodes)
		for i := range first {
			if first[i].Addr != second[i].Addr || first[i].PNN != second[i].PNN {
				t.Fatalf("%s moved from %d to %d with nothing changed", first[i].Addr, int32(first[i].PNN), int32(second[i].PNN))
			}
		}
	})
}

// imbalanceOf is a node's LCP2 imbalance in exact arithmetic: the sum of squared
// distances over all pairs of addresses on the node.
func imbalanceOf(as []Assignment, node uint32) uint64 {
	var sum uint64
	for i := range as {
		if as[i].PNN != node {
			continue
		}
		for j := i + 1; j < len(as); j++ {
			if as[j].PNN == node {
				d := uint64(Distance(as[i].Addr, as[j].Addr))
				sum += d * d
			}
		}
	}
	return sum
}

func totalImbalance(as []Assignment, n int) uint64 {
	var sum uint64
	for node := range uint32(n) {
		sum += imbalanceOf(as, node)
	}
	return sum
}

// freshCluster returns n healthy nodes that all have the drawn addresses (up to 40, so
// that no uint32 sum can wrap) in their pools, none held.
func freshCluster(t *rapid.T) []NodeIPs {
	n := rapid.IntRange(1, 8).Draw(t, "nodes")
	idx := rapid.SliceOfNDistinct(rapid.IntRange(0, len(addrPool)-1), 0, 40, rapid.ID[int]).Draw(t, "addrs")
	var known []PublicIP
	for _, i := range idx {
		known = append(known, PublicIP{addrPool[i], protocol.UnknownPNN})
	}
	nodes := make([]NodeIPs, n)
	for i := range nodes {
		nodes[i] = NodeIPs{Known: known, Available: addrsOf(known)}
	}
	return nodes
}

// TestPropertyLCP2NotWorseThanRoundRobin: LCP2's rebalancing, started from addresses
// dealt out round robin in list order with every node open to rebalancing, ends with a
// total imbalance no higher than round robin's. (LCP2's own placement from scratch is
// greedy and can end slightly above round robin: see the counterexample in
// TestLCP2FromScratchCanLoseToRoundRobin.)
func TestPropertyLCP2NotWorseThanRoundRobin(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := freshCluster(t)
		n := len(nodes)
		rr := Allocate(Config{Algorithm: LCP2, NoIPTakeover: true}, nodes) // the list, all unassigned
		holder := map[netip.Addr]uint32{}
		for i := range rr {
			rr[i].PNN = uint32(i % n)
			holder[rr[i].Addr] = rr[i].PNN
		}
		all := make([]uint32, n)
		for node := range nodes {
			all[node] = uint32(node)
			var known []PublicIP
			for _, ip := range nodes[node].Known {
				known = append(known, PublicIP{ip.Addr, holder[ip.Addr]})
			}
			nodes[node].Known = known
		}
		lcp2 := Allocate(Config{Algorithm: LCP2, ForceRebalance: all}, nodes)
		if got, limit := totalImbalance(lcp2, n), totalImbalance(rr, n); got > limit {
			t.Fatalf("LCP2's total imbalance %d above round robin's %d: %v", got, limit, lcp2)
		}
	})
}

// TestPropertyLCP2FailbackImproves: LCP2's rebalancing step never raises the total
// imbalance over what its placement step produced (the same run with NoIPFailback).
func TestPropertyLCP2FailbackImproves(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genScenario(t, 40)
		s.cfg.Algorithm = LCP2
		s.cfg.NoIPFailback = false
		with := Allocate(s.cfg, s.nodes)
		s.cfg.NoIPFailback = true
		without := Allocate(s.cfg, s.nodes)
		n := len(s.nodes)
		if a, b := totalImbalance(with, n), totalImbalance(without, n); a > b {
			t.Fatalf("total imbalance %d after rebalancing, %d before", a, b)
		}
	})
}

// TestLCP2FromScratchCanLoseToRoundRobin pins down that CTDB's LCP2 is a greedy
// heuristic, not an optimum: on this fresh 2-node cluster (found by rapid) its worst and
// total imbalance are above those of round robin. Reproducing CTDB exactly means keeping
// this.
func TestLCP2FromScratchCanLoseToRoundRobin(t *testing.T) {
	var known []PublicIP
	for _, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.8", "10.0.1.1", "10.0.1.2", "10.0.1.3"} {
		known = append(known, PublicIP{netip.MustParseAddr(a), protocol.UnknownPNN})
	}
	nodes := []NodeIPs{{Known: known, Available: addrsOf(known)}, {Known: known, Available: addrsOf(known)}}
	lcp2 := Allocate(DefaultConfig(), nodes)
	rr := slices.Clone(lcp2)
	for i := range rr {
		rr[i].PNN = uint32(i % 2)
	}
	worst := func(as []Assignment) uint64 { return max(imbalanceOf(as, 0), imbalanceOf(as, 1)) }
	if !(worst(lcp2) > worst(rr) && totalImbalance(lcp2, 2) > totalImbalance(rr, 2)) {
		t.Errorf("LCP2 worst/total %d/%d, round robin %d/%d: LCP2 no longer loses here; has the algorithm changed?",
			worst(lcp2), totalImbalance(lcp2, 2), worst(rr), totalImbalance(rr, 2))
	}
}

// TestNonDeterministicOscillates pins down a CTDB 4.17 behaviour we keep: with these
// pools (found by rapid), the non-deterministic failback moves the first address back
// and forth between nodes 0 and 1 until its retry limit (addresses + 5 = 11 moves), so
// every takeover run flips it although nothing changed.
func TestNonDeterministicOscillates(t *testing.T) {
	pools := map[string][]int{
		"2001:db8:1::4": {0, 1},
		"2001:db8::8":   {0, 2},
		"2001:db8::4":   {1},
		"10.0.1.1":      {0, 1, 2},
		"10.0.0.10":     {0, 1, 2},
		"10.0.0.1":      {0},
	}
	holders := map[string]int{"2001:db8:1::4": 1, "2001:db8::8": 2, "2001:db8::4": 1,
		"10.0.1.1": 0, "10.0.0.10": 1, "10.0.0.1": 0}
	build := func() []NodeIPs {
		nodes := make([]NodeIPs, 3)
		for a, pool := range pools {
			for _, node := range pool {
				ip := PublicIP{netip.MustParseAddr(a), pnnOf(holders[a])}
				nodes[node].Known = append(nodes[node].Known, ip)
				nodes[node].Available = append(nodes[node].Available, ip.Addr)
			}
		}
		return nodes
	}
	for run, want := range []int{0, 1, 0, 1} {
		got := Allocate(Config{Algorithm: NonDeterministic}, build())
		if got[0].Addr.String() != "2001:db8:1::4" || int(got[0].PNN) != want {
			t.Fatalf("run %d: %s on %d, want 2001:db8:1::4 on %d", run+1, got[0].Addr, int32(got[0].PNN), want)
		}
		for _, a := range got[1:] {
			if int(a.PNN) != holders[a.Addr.String()] {
				t.Fatalf("run %d: %s moved from %d to %d", run+1, a.Addr, holders[a.Addr.String()], a.PNN)
			}
		}
		holders["2001:db8:1::4"] = want
	}
}
