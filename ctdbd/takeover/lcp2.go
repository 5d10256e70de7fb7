package takeover

import (
	"math/bits"
	"net/netip"
	"slices"
)

// Distance is LCP2's closeness of two addresses, CTDB's ip_distance: over the four 32-bit
// words of the addresses' keys (IPv4 in the last word), 32 for an equal word, else the
// number of leading zero bits of the two words' XOR, summed over all four words. It does
// not stop at the first differing word, so it is only roughly the common prefix length;
// two IPv4 addresses always score at least 96. This quirk is kept: it decides layouts.
func Distance(a, b netip.Addr) uint32 { return keyDistance(keyOf(a), keyOf(b)) }

func keyDistance(a, b ipKey) uint32 {
	var d uint32
	for i := range 4 {
		// LeadingZeros32(0) is 32, which is exactly the equal-word score.
		d += uint32(bits.LeadingZeros32(a[i] ^ b[i]))
	}
	return d
}

// lcp2State holds LCP2's running sums. All arithmetic is uint32 and wraps exactly as
// CTDB's does; with several hundred addresses on one node the sums do overflow, and the
// layouts depend on the wrapped values.
type lcp2State struct {
	*state
	// cost[i*n+node] is the sum of squared distances from address i to the addresses on
	// node, excluding i itself: what i adds to node's imbalance there.
	cost []uint32
	// imb[node] is the sum of squared distances over all pairs of node's addresses.
	imb []uint32
}

func (s *state) dist2(i, j int) uint32 {
	d := keyDistance(s.ips[i].key, s.ips[j].key)
	return d * d
}

func newLCP2State(s *state) *lcp2State {
	l := &lcp2State{state: s, cost: make([]uint32, len(s.ips)*s.n), imb: make([]uint32, s.n)}
	for i := range s.ips {
		pi := s.pnn[i]
		for j := i + 1; j < len(s.ips); j++ {
			pj := s.pnn[j]
			if pi < 0 && pj < 0 {
				continue
			}
			d2 := s.dist2(i, j)
			if pj >= 0 {
				l.cost[i*s.n+pj] += d2
			}
			if pi >= 0 {
				l.cost[j*s.n+pi] += d2
				if pi == pj {
					l.imb[pi] += d2
				}
			}
		}
	}
	return l
}

// move puts address i on node to (from its current node, or from unassigned) and
// updates every other address's cost; the caller updates imb.
func (l *lcp2State) move(i, to int) {
	from := l.pnn[i]
	n := l.n
	for j := range l.ips {
		if j == i {
			continue
		}
		d2 := l.dist2(i, j)
		if from >= 0 {
			l.cost[j*n+from] -= d2
		}
		l.cost[j*n+to] += d2
	}
	l.pnn[i] = to
}

// lcp2 is CTDB's LCP2 allocation: unassign what cannot stay, place unassigned addresses
// one at a time by least added cost, then (unless NoIPFailback) move addresses to the
// rebalance candidates while that lowers the imbalance.
func (s *state) lcp2(force []uint32) {
	s.unassignUnsuitable()
	l := newLCP2State(s)

	// Rebalance candidates: nodes holding nothing now (taken to be newly healthy), plus
	// forced ones. Decided before allocation, so nodes that gain addresses below stay
	// candidates.
	candidate := make([]bool, s.n)
	for i := range candidate {
		candidate[i] = true
	}
	for _, p := range s.pnn {
		if p >= 0 {
			candidate[p] = false
		}
	}
	for _, p := range force {
		if p < uint32(s.n) {
			candidate[p] = true
		}
	}

	l.allocateUnassigned()

	if s.noFailback || !slices.Contains(candidate, true) {
		return
	}
	l.failback(candidate)
}

// allocateUnassigned repeatedly takes the (unassigned address, node that may take it)
// pair with the smallest added cost, the first in list and PNN order on ties, until every
// address is placed or none can be.
func (l *lcp2State) allocateUnassigned() {
	n := l.n
	for {
		minIP, minNode := -1, -1
		var minCost uint32
		unassigned := false
		for i, p := range l.pnn {
			if p != -1 {
				continue
			}
			unassigned = true
			for node := range n {
				if !l.canTakeover(i, node) {
					continue
				}
				if c := l.cost[i*n+node]; minNode == -1 || c < minCost {
					minIP, minNode, minCost = i, node, c
				}
			}
		}
		if !unassigned || minNode == -1 {
			return
		}
		l.imb[minNode] += minCost
		l.move(minIP, minNode)
	}
}

// failback is LCP2's rebalancing: take nodes in descending imbalance (ties in PNN order,
// as glibc's stable qsort leaves them), and from the first with non-zero imbalance that
// has an improving move, make the best one; repeat until no node has one.
func (l *lcp2State) failback(candidate []bool) {
	order := make([]int, l.n)
	// CTDB loops until no move improves. Every move lowers the total imbalance in exact
	// arithmetic, but with wrapped uint32 sums that is not guaranteed; the bound only
	// stops a pathological cycle and is far above any real run's move count.
	for moves := 0; moves < 16*len(l.ips)*l.n+1024; moves++ {
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case l.imb[a] > l.imb[b]:
				return -1
			case l.imb[a] < l.imb[b]:
				return 1
			}
			return 0
		})
		moved := false
		for _, src := range order {
			if l.imb[src] == 0 {
				break
			}
			if l.failbackFrom(src, candidate) {
				moved = true
				break
			}
		}
		if !moved {
			return
		}
	}
}

// failbackFrom finds, among src's addresses and the candidate nodes that may take them,
// the move with the lowest resulting src+dst imbalance such that the destination's new
// imbalance stays below src's current one and the address costs less there than on src;
// it makes the move and reports whether there was one.
func (l *lcp2State) failbackFrom(src int, candidate []bool) bool {
	n := l.n
	minIP, minDst := -1, -1
	var minSrcImb, minDstImb uint32
	for i, p := range l.pnn {
		if p != src {
			continue
		}
		srcCost := l.cost[i*n+src]
		srcImb := l.imb[src] - srcCost
		for dst := range n {
			if !candidate[dst] || !l.canTakeover(i, dst) {
				continue
			}
			dstCost := l.cost[i*n+dst]
			dstImb := l.imb[dst] + dstCost
			if dstImb < l.imb[src] && dstCost < srcCost &&
				(minDst == -1 || srcImb+dstImb < minSrcImb+minDstImb) {
				minIP, minDst, minSrcImb, minDstImb = i, dst, srcImb, dstImb
			}
		}
	}
	if minDst == -1 {
		return false
	}
	l.imb[src] = minSrcImb
	l.imb[minDst] = minDstImb
	l.move(minIP, minDst)
	return true
}
