package takeover

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// modelLCP2 is LCP2 written the slow, literal way: every sum recomputed from the list
// each time it is needed, uint32 throughout. Allocate keeps running sums instead; the
// two must agree, also when the sums wrap.
func modelLCP2(cfg Config, nodes []NodeIPs) []int {
	s := newState(cfg, nodes)
	s.unassignUnsuitable()
	n, pnn := s.n, s.pnn
	dsum := func(i, node int) uint32 { // sum of squared distances from i to node's others
		var sum uint32
		for j := range pnn {
			if j != i && pnn[j] == node {
				d := keyDistance(s.ips[i].key, s.ips[j].key)
				sum += d * d
			}
		}
		return sum
	}
	imb := make([]uint32, n)
	cand := make([]bool, n)
	for node := range n {
		cand[node] = true
		for i := range pnn {
			if pnn[i] == node {
				for j := i + 1; j < len(pnn); j++ {
					if pnn[j] == node {
						d := keyDistance(s.ips[i].key, s.ips[j].key)
						imb[node] += d * d
					}
				}
			}
		}
	}
	for _, p := range pnn {
		if p >= 0 {
			cand[p] = false
		}
	}
	for _, p := range cfg.ForceRebalance {
		if int(p) < n {
			cand[p] = true
		}
	}
	for {
		bi, bn := -1, -1
		var best uint32
		for i := range pnn {
			if pnn[i] != -1 {
				continue
			}
			for node := range n {
				if s.canTakeover(i, node) {
					if c := dsum(i, node); bn == -1 || c < best {
						bi, bn, best = i, node, c
					}
				}
			}
		}
		if bn == -1 {
			break
		}
		imb[bn] += best
		pnn[bi] = bn
	}
	if cfg.NoIPFailback || !slices.Contains(cand, true) {
		return pnn
	}
	for {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			if imb[a] > imb[b] {
				return -1
			}
			if imb[a] < imb[b] {
				return 1
			}
			return 0
		})
		moved := false
		for _, src := range order {
			if imb[src] == 0 {
				break
			}
			mi, md := -1, -1
			var ms, mdst uint32
			for i := range pnn {
				if pnn[i] != src {
					continue
				}
				sc := dsum(i, src)
				si := imb[src] - sc
				for dst := range n {
					if !cand[dst] || !s.canTakeover(i, dst) {
						continue
					}
					dc := dsum(i, dst)
					di := imb[dst] + dc
					if di < imb[src] && dc < sc && (md == -1 || si+di < ms+mdst) {
						mi, md, ms, mdst = i, dst, si, di
					}
				}
			}
			if md != -1 {
				imb[src], imb[md] = ms, mdst
				pnn[mi] = md
				moved = true
				break
			}
		}
		if !moved {
			return pnn
		}
	}
}

func checkAgainstModel(t interface{ Fatalf(string, ...any) }, cfg Config, nodes []NodeIPs) {
	want := modelLCP2(cfg, nodes)
	got := Allocate(cfg, nodes)
	for i := range got {
		if int(int32(got[i].PNN)) != want[i] {
			t.Fatalf("%s on %d, the literal LCP2 says %d", got[i].Addr, int32(got[i].PNN), want[i])
		}
	}
}

func TestPropertyLCP2MatchesLiteralModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genScenario(t, 40)
		s.cfg.Algorithm = LCP2
		if rapid.Bool().Draw(t, "force") {
			s.cfg.ForceRebalance = rapid.SliceOfN(rapid.Uint32Range(0, 7), 1, 3).Draw(t, "forceNodes")
		}
		checkAgainstModel(t, s.cfg, s.nodes)
	})
}

// TestLCP2WrapsLikeCTDB: 1000 close IPv6 addresses on one node of two make the pair sums
// exceed 2^32; when the second node joins, the running sums must wrap exactly as the
// literal ones do.
func TestLCP2WrapsLikeCTDB(t *testing.T) {
	if testing.Short() {
		t.Skip("slow literal model")
	}
	var known []PublicIP
	for i := 1; i <= 1000; i++ {
		known = append(known, PublicIP{netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i)), 0})
	}
	nodes := []NodeIPs{{Known: known, Available: addrsOf(known)}, {Known: known, Available: addrsOf(known)}}
	got := Allocate(DefaultConfig(), nodes)
	if imbalanceOf(pinAll(got, 0), 0) < 1<<32 {
		t.Fatal("the starting layout does not overflow uint32; make the test bigger")
	}
	checkAgainstModel(t, DefaultConfig(), nodes)
}

func pinAll(as []Assignment, node uint32) []Assignment {
	out := slices.Clone(as)
	for i := range out {
		out[i].PNN = node
	}
	return out
}
