package takeover

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// cluster900 returns 16 healthy nodes that all have the 900 addresses
// 192.168.{1..10}.{1..90} in their pools, each address held as holder(i) says.
func cluster900(holder func(i int) int) []NodeIPs {
	var known []PublicIP
	for x := 1; x <= 10; x++ {
		for y := 1; y <= 90; y++ {
			known = append(known, PublicIP{netip.MustParseAddr(fmt.Sprintf("192.168.%d.%d", x, y)), pnnOf(holder(len(known)))})
		}
	}
	nodes := make([]NodeIPs, 16)
	for i := range nodes {
		nodes[i] = NodeIPs{Known: known, Available: addrsOf(known)}
	}
	return nodes
}

// BenchmarkLCP2_900x16 measures LCP2 on CTDB's documented scale (900 addresses; CTDB
// promises under 10 s) with 16 nodes: from scratch, a node joining (15 nodes hold
// everything, the 16th is newly healthy) and a node failing (its addresses move).
func BenchmarkLCP2_900x16(b *testing.B) {
	cases := []struct {
		name  string
		nodes func() []NodeIPs
	}{
		{"fresh", func() []NodeIPs { return cluster900(func(int) int { return -1 }) }},
		{"join", func() []NodeIPs { return cluster900(func(i int) int { return i % 15 }) }},
		{"fail", func() []NodeIPs {
			nodes := cluster900(func(i int) int { return i % 16 })
			nodes[7].Available = nil
			return nodes
		}},
	}
	for _, c := range cases {
		nodes := c.nodes()
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				Allocate(DefaultConfig(), nodes)
			}
		})
	}
}

func BenchmarkBasic_900x16(b *testing.B) {
	nodes := cluster900(func(i int) int { return i % 15 })
	for _, algo := range []Algorithm{Deterministic, NonDeterministic} {
		b.Run(algo.String(), func(b *testing.B) {
			for b.Loop() {
				Allocate(Config{Algorithm: algo}, nodes)
			}
		})
	}
}

// TestLCP2_900x16Join checks the benchmark's join scenario: the newcomer gets its share
// (56 or 57 of 900) and every other address stays where it was, so the benchmark measures
// a real rebalancing.
func TestLCP2_900x16Join(t *testing.T) {
	before := func(i int) int { return i % 15 }
	nodes := cluster900(before)
	gained := 0
	for _, a := range Allocate(DefaultConfig(), nodes) {
		var was uint32 = protocol.UnknownPNN
		for _, ip := range nodes[0].Known {
			if ip.Addr == a.Addr {
				was = ip.PNN
			}
		}
		switch {
		case a.PNN == 15:
			gained++
		case a.PNN != was:
			t.Fatalf("%s moved from %d to %d, not to the new node", a.Addr, int32(was), int32(a.PNN))
		}
	}
	if gained < 56 || gained > 57 {
		t.Errorf("node 15 got %d addresses, want 56 or 57", gained)
	}
}
