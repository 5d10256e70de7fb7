// Package takeover decides which node hosts which public address. It is the pure core of
// a takeover run: it takes every node's public address pool, the holders the nodes
// report and the addresses each node can host now, and returns the new layout. It does
// no I/O, keeps no state between calls and is safe for concurrent use.
//
// The three algorithms of CTDB 4.17 are reproduced exactly, quirks included, so that a
// mixed or migrated cluster and CTDB's own unit cases (ctdb/tests/UNIT/takeover) give the
// same answer:
//
//   - LCP2 (the default): places addresses so that addresses close to each other (long
//     common prefix) end up on different nodes, and moves addresses to nodes that hold
//     none (newly healthy) when that lowers the imbalance.
//   - Deterministic: address i of the merged list goes to node i mod N; addresses whose
//     node cannot host them go to the least-loaded node that can. No failback.
//   - Non-deterministic: addresses without a usable holder go to the least-loaded node;
//     then, unless NoIPFailback, addresses move from the most to the least loaded node
//     while the difference is above one.
//
// Facts: reference/ctdb-reference.md 7.2 and 7.3; Samba's ctdb/server/ipalloc*.c (read
// for behaviour only).
package takeover

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// Algorithm is an IP allocation algorithm; the values are those of the IPAllocAlgorithm
// tunable.
type Algorithm uint32

// The algorithms, numbered as the IPAllocAlgorithm tunable numbers them.
const (
	Deterministic    Algorithm = 0
	NonDeterministic Algorithm = 1
	LCP2             Algorithm = 2
)

// AlgorithmFromTunable maps an IPAllocAlgorithm tunable value to an algorithm; values
// other than 0, 1 and 2 mean LCP2, as in CTDB.
func AlgorithmFromTunable(v uint32) Algorithm {
	switch Algorithm(v) {
	case Deterministic, NonDeterministic:
		return Algorithm(v)
	}
	return LCP2
}

// String returns the name ctdb_takeover_tests uses for the algorithm in
// CTDB_IP_ALGORITHM: "det", "nondet" or "lcp2".
func (a Algorithm) String() string {
	switch a {
	case Deterministic:
		return "det"
	case NonDeterministic:
		return "nondet"
	case LCP2:
		return "lcp2"
	}
	return fmt.Sprintf("Algorithm(%d)", uint32(a))
}

// ParseAlgorithm returns the algorithm named "lcp2", "det" or "nondet" (the values of
// ctdb_takeover_tests' CTDB_IP_ALGORITHM), or an error naming the bad value.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch s {
	case "lcp2":
		return LCP2, nil
	case "det":
		return Deterministic, nil
	case "nondet":
		return NonDeterministic, nil
	}
	return 0, fmt.Errorf("takeover: unknown IP algorithm %q (want lcp2, det or nondet)", s)
}

// Config holds the cluster-wide settings of one allocation.
type Config struct {
	// Algorithm is the allocation algorithm; the zero value is Deterministic, so set it
	// explicitly (DefaultConfig returns LCP2).
	Algorithm Algorithm
	// NoIPTakeover (tunable NoIPTakeover) forbids every node to gain an address it does
	// not already hold: unhostable addresses become unassigned and nothing moves.
	NoIPTakeover bool
	// NoIPFailback (tunable NoIPFailback) skips rebalancing for LCP2 and
	// non-deterministic allocation; deterministic allocation ignores it, as CTDB does.
	NoIPFailback bool
	// ForceRebalance lists PNNs that LCP2 treats as newly healthy even though they hold
	// addresses (the ctdb_takeover_helper's REBALANCE_NODE list). PNNs beyond the node
	// count are ignored.
	ForceRebalance []uint32
}

// DefaultConfig returns CTDB's defaults: LCP2, NoIPTakeover and NoIPFailback off.
func DefaultConfig() Config { return Config{Algorithm: LCP2} }

// PublicIP is one address as a node reports it (GET_PUBLIC_IPS): the address and the
// node that node believes holds it, protocol.UnknownPNN if none.
type PublicIP struct {
	Addr netip.Addr
	PNN  uint32
}

// NodeIPs is what the leader knows about one node's public addresses at the start of a
// takeover run. Node i of the slice passed to Allocate is PNN i.
type NodeIPs struct {
	// Known is the node's public address pool (GET_PUBLIC_IPS), each with the holder the
	// node reports. Only a node's claim that it holds an address itself is trusted.
	// Empty for a node that was not asked (disconnected, deleted).
	Known []PublicIP
	// Available lists the addresses the node can host now (GET_PUBLIC_IPS with
	// ONLY_AVAILABLE): empty unless MayHost is true for the node, and without addresses
	// pending deletion or with every interface down. Addresses outside Known are
	// ignored unless another node knows them.
	Available []netip.Addr
}

// MayHost reports whether a node in this state may host public addresses at all: it must
// be RUNNING and have none of the INACTIVE (disconnected, banned, stopped, deleted) or
// DISABLED (unhealthy, administratively disabled) flags. CTDB 4.17 has no exception for a
// cluster where every node is unhealthy (NoIPHostOnAllDisabled is gone since 4.9).
func MayHost(flags uint32, runstate protocol.Runstate) bool {
	return runstate == protocol.RunstateRunning &&
		flags&(protocol.NodeFlagsInactive|protocol.NodeFlagsDisabled) == 0
}

// AvailableFromKnown returns the addresses of known that a node with the given flags and
// runstate can host, assuming every interface is up and nothing is pending deletion:
// all of them if MayHost, none otherwise. The result is a new slice.
func AvailableFromKnown(flags uint32, runstate protocol.Runstate, known []PublicIP) []netip.Addr {
	if !MayHost(flags, runstate) {
		return nil
	}
	out := make([]netip.Addr, len(known))
	for i, ip := range known {
		out[i] = ip.Addr
	}
	return out
}

// Assignment is one address of the merged list and the node that should host it.
type Assignment struct {
	Addr netip.Addr
	// PNN is the node that should host Addr, protocol.UnknownPNN if no node can.
	PNN uint32
	// KnownOn lists, ascending, the nodes that have Addr in their pool (those that must
	// be told to release it when it moves).
	KnownOn []uint32
}

// CanHostIPs reports whether a takeover run has anything to do: false only when no node
// knows any address, or when no address is held and no node can host one (CTDB then
// skips straight to "ipreallocated").
func CanHostIPs(nodes []NodeIPs) bool {
	haveIPs := false
	for pnn, n := range nodes {
		if len(n.Known) == 0 {
			continue
		}
		haveIPs = true
		for _, ip := range n.Known {
			if ip.PNN == uint32(pnn) {
				return true
			}
		}
	}
	if !haveIPs {
		return false
	}
	for _, n := range nodes {
		if len(n.Available) > 0 {
			return true
		}
	}
	return false
}

// Allocate computes the new layout: the merged list of every address any node knows, in
// CTDB's order (descending by address, IPv4 addresses below IPv6 ones), each with the
// node that should host it. The starting point for each address is the node that reports
// holding it itself (the highest such PNN if several do); other nodes' beliefs are
// ignored. Nodes are PNN 0 to len(nodes)-1. Allocate does not modify its arguments.
func Allocate(cfg Config, nodes []NodeIPs) []Assignment {
	s := newState(cfg, nodes)
	switch cfg.Algorithm {
	case Deterministic:
		s.deterministic()
	case NonDeterministic:
		s.nonDeterministic()
	default:
		s.lcp2(cfg.ForceRebalance)
	}
	out := make([]Assignment, len(s.ips))
	for i := range s.ips {
		a := Assignment{Addr: s.ips[i].addr, PNN: protocol.UnknownPNN}
		if s.pnn[i] >= 0 {
			a.PNN = uint32(s.pnn[i])
		}
		for node := range s.n {
			if s.known[i*s.n+node] {
				a.KnownOn = append(a.KnownOn, uint32(node))
			}
		}
		out[i] = a
	}
	return out
}

// ipKey is CTDB's 128-bit tree key of an address: IPv4 in the last word, IPv6 as four
// big-endian words. An IPv4 address and the IPv6 address ::a.b.c.d share a key.
type ipKey [4]uint32

func keyOf(a netip.Addr) ipKey {
	var k ipKey
	if a.Is4() {
		b := a.As4()
		k[3] = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		return k
	}
	b := a.As16()
	for i := range 4 {
		k[i] = uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
	}
	return k
}

func (k ipKey) compare(o ipKey) int {
	for i := range 4 {
		if k[i] != o[i] {
			if k[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

type mergedIP struct {
	addr netip.Addr
	key  ipKey
}

// state is one allocation in progress. pnn[i] is -1 for an unassigned address.
type state struct {
	n          int
	ips        []mergedIP
	pnn        []int
	avail      []bool // avail[i*n+node]: node may host ips[i]
	known      []bool // known[i*n+node]: ips[i] is in node's pool
	noTakeover bool
	noFailback bool
}

func newState(cfg Config, nodes []NodeIPs) *state {
	s := &state{n: len(nodes), noTakeover: cfg.NoIPTakeover, noFailback: cfg.NoIPFailback}

	// Merge: later insertions replace earlier ones with the same key; the holder is
	// carried over unless the later reporter claims the address itself.
	type entry struct {
		mergedIP
		pnn int
	}
	byKey := make(map[ipKey]int)
	var entries []entry
	for node, n := range nodes {
		for _, ip := range n.Known {
			a := ip.Addr.WithZone("")
			e := entry{mergedIP{a, keyOf(a)}, -1}
			if ip.PNN == uint32(node) {
				e.pnn = node
			}
			if i, ok := byKey[e.key]; ok {
				if e.pnn == -1 {
					e.pnn = entries[i].pnn
				}
				entries[i] = e
				continue
			}
			byKey[e.key] = len(entries)
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return b.key.compare(a.key) })

	s.ips = make([]mergedIP, len(entries))
	s.pnn = make([]int, len(entries))
	for i, e := range entries {
		s.ips[i] = e.mergedIP
		s.pnn[i] = e.pnn
	}

	// Which node knows and may host which merged address (exact address match).
	idx := make(map[netip.Addr]int, len(s.ips))
	for i, ip := range s.ips {
		idx[ip.addr] = i
	}
	s.avail = make([]bool, len(s.ips)*s.n)
	s.known = make([]bool, len(s.ips)*s.n)
	for node, n := range nodes {
		for _, a := range n.Available {
			if i, ok := idx[a.WithZone("")]; ok {
				s.avail[i*s.n+node] = true
				s.known[i*s.n+node] = true
			}
		}
		for _, ip := range n.Known {
			if i, ok := idx[ip.Addr.WithZone("")]; ok {
				s.known[i*s.n+node] = true
			}
		}
	}
	return s
}

// canHost reports whether node may keep address i.
func (s *state) canHost(i, node int) bool { return s.avail[i*s.n+node] }

// canTakeover reports whether node may gain address i.
func (s *state) canTakeover(i, node int) bool { return !s.noTakeover && s.avail[i*s.n+node] }

// unassignUnsuitable drops every address whose holder can no longer host it.
func (s *state) unassignUnsuitable() {
	for i, p := range s.pnn {
		if p >= 0 && !s.canHost(i, p) {
			s.pnn[i] = -1
		}
	}
}
