package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func cfg(self uint32) ElectionConfig {
	return ElectionConfig{Self: self, LeaderTimeout: 5 * time.Second, BroadcastInterval: time.Second, LockRetry: 250 * time.Millisecond}
}

// clusterCfg is cfg for a node of an n-node cluster (isolation handover on).
func clusterCfg(self uint32, n int) ElectionConfig {
	c := cfg(self)
	c.Nodes = n
	return c
}

func kinds(as []Action) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, " ")
}

// TestElectionSingleNode walks one node through winning, keeping and losing the lock.
func TestElectionSingleNode(t *testing.T) {
	e := NewElection(cfg(0))
	steps := []struct {
		name string
		do   func() []Action
		want string
	}{
		{"start, not eligible yet", func() []Action { return e.Start(t0) }, ""},
		{"eligible: race for the lock", func() []Action { return e.SetEligible(t0, true) }, "TryLock"},
		{"no second attempt while one is pending", func() []Action { return e.Tick(t0.Add(time.Second)) }, ""},
		{"won", func() []Action { return e.LockAcquired(t0.Add(time.Second)) }, "LeaderChanged(0) StartActing BroadcastLeader(0)"},
		{"broadcast every second", func() []Action { return e.Tick(t0.Add(2 * time.Second)) }, "BroadcastLeader(0)"},
		{"not twice in a second", func() []Action { return e.Tick(t0.Add(2500 * time.Millisecond)) }, ""},
		{"newcomer told at once", func() []Action { return e.PeerUp(t0.Add(2600*time.Millisecond), 1) }, "BroadcastLeader(0)"},
		{"a stale claim is answered", func() []Action { return e.LeaderMessage(t0.Add(3*time.Second), 1, 1) }, "BroadcastLeader(0)"},
		{"lock lost: stop at once", func() []Action { return e.LockLost(t0.Add(4 * time.Second)) }, "StopActing LeaderChanged(-1) BroadcastLeader(-1)"},
		{"retry only after LockRetry", func() []Action { return e.Tick(t0.Add(4100 * time.Millisecond)) }, ""},
		{"retry", func() []Action { return e.Tick(t0.Add(4300 * time.Millisecond)) }, "TryLock"},
		{"contended", func() []Action { return e.LockContended(t0.Add(4300 * time.Millisecond)) }, ""},
		{"other leader announces", func() []Action { return e.LeaderMessage(t0.Add(4400*time.Millisecond), 2, 2) }, "LeaderChanged(2)"},
		{"no lock attempts while a leader is known", func() []Action { return e.Tick(t0.Add(8 * time.Second)) }, ""},
		{"leader silent for the timeout", func() []Action { return e.Tick(t0.Add(9500 * time.Millisecond)) }, "LeaderChanged(-1) TryLock"},
		{"won again", func() []Action { return e.LockAcquired(t0.Add(10 * time.Second)) }, "LeaderChanged(0) StartActing BroadcastLeader(0)"},
		{"banned: step down and release", func() []Action { return e.SetEligible(t0.Add(11*time.Second), false) }, "StopActing ReleaseLock LeaderChanged(-1) BroadcastLeader(-1)"},
		{"ineligible nodes never try", func() []Action { return e.Tick(t0.Add(20 * time.Second)) }, ""},
	}
	for _, s := range steps {
		if got := kinds(s.do()); got != s.want {
			t.Fatalf("%s: actions %q, want %q", s.name, got, s.want)
		}
	}
}

func TestElectionLeaderConnectionLost(t *testing.T) {
	e := NewElection(cfg(1))
	e.Start(t0)
	e.SetEligible(t0, true)
	e.LockContended(t0)
	if got := kinds(e.LeaderMessage(t0, 0, 0)); got != "LeaderChanged(0)" {
		t.Fatalf("leader message: %q", got)
	}
	if got := kinds(e.PeerDown(t0.Add(time.Second), 2)); got != "" {
		t.Fatalf("non-leader down: %q", got)
	}
	// The leader's connection breaks: no waiting for the leader timeout.
	if got := kinds(e.PeerDown(t0.Add(time.Second), 0)); got != "LeaderChanged(-1) TryLock" {
		t.Fatalf("leader down: %q", got)
	}
	// An election announcement from the old leader also starts the race.
	e.LockContended(t0.Add(time.Second))
	e.LeaderMessage(t0.Add(2*time.Second), 2, 2)
	if got := kinds(e.LeaderMessage(t0.Add(3*time.Second), 2, protocol.UnknownPNN)); got != "LeaderChanged(-1) TryLock" {
		t.Fatalf("leader announces election: %q", got)
	}
	if got := kinds(e.LeaderMessage(t0.Add(3*time.Second), 2, 0)); got != "" {
		t.Fatalf("hearsay (node 2 claims 0 leads) must be ignored: %q", got)
	}
	// Became ineligible while the attempt was running: give the lock straight back.
	e.SetEligible(t0.Add(3*time.Second), false)
	if got := kinds(e.LockAcquired(t0.Add(3 * time.Second))); got != "ReleaseLock" || e.Acting() {
		t.Fatalf("acquired while ineligible: %q acting=%v", got, e.Acting())
	}
}

// sim runs nodes' Elections on a simulated network with one cluster lock, in virtual
// time steps, carrying out their actions.
type sim struct {
	t       fataler
	now     time.Time
	nodes   []*Election
	alive   []bool
	cut     map[[2]int]bool
	holder  int // node holding the lock, -1 if free
	pending map[int]bool
	log     []string
	noLock  bool // no cluster lock: the acting-implies-holder invariant does not apply
}

// fataler is what the simulation needs of *testing.T and *rapid.T.
type fataler interface {
	Fatalf(format string, args ...any)
}

func newSim(t fataler, n int) *sim { return newSimNoLock(t, n, false) }

// newSimNoLock starts n nodes, without a cluster lock when noLock is set.
func newSimNoLock(t fataler, n int, noLock bool) *sim {
	s := &sim{t: t, now: t0, cut: map[[2]int]bool{}, holder: -1, pending: map[int]bool{}, noLock: noLock}
	for i := 0; i < n; i++ {
		s.nodes = append(s.nodes, s.newNode(i, n))
		s.alive = append(s.alive, true)
	}
	for i := range s.nodes {
		s.apply(i, s.nodes[i].Start(s.now))
		s.apply(i, s.nodes[i].SetEligible(s.now, true))
	}
	for i := range s.nodes {
		for j := range s.nodes {
			if i != j {
				s.apply(i, s.nodes[i].PeerUp(s.now, uint32(j)))
			}
		}
	}
	return s
}

func key(a, b int) [2]int {
	if a > b {
		a, b = b, a
	}
	return [2]int{a, b}
}

func (s *sim) linked(a, b int) bool { return a != b && s.alive[a] && s.alive[b] && !s.cut[key(a, b)] }

// apply carries out node i's actions.
func (s *sim) apply(i int, as []Action) {
	for _, a := range as {
		s.log = append(s.log, fmt.Sprintf("%v node%d %v", s.now.Sub(t0), i, a))
		switch a.Kind {
		case TryLock:
			s.pending[i] = true // answered on the next step, as a helper would
		case ReleaseLock:
			if s.holder == i {
				s.holder = -1
			}
		case BroadcastLeader:
			for j := range s.nodes {
				if s.linked(i, j) {
					s.apply(j, s.nodes[j].LeaderMessage(s.now, uint32(i), a.Leader))
				}
			}
		}
	}
	s.check()
}

// check asserts the safety invariant: at most one node acts as leader, and it holds the
// lock.
func (s *sim) check() {
	if s.noLock {
		return
	}
	acting := 0
	for i, e := range s.nodes {
		if s.alive[i] && e.Acting() {
			acting++
			if s.holder != i {
				s.t.Fatalf("node %d acts as leader without the lock (holder %d)\n%s", i, s.holder, strings.Join(s.log, "\n"))
			}
		}
	}
	if acting > 1 {
		s.t.Fatalf("%d nodes act as leader at once\n%s", acting, strings.Join(s.log, "\n"))
	}
}

func (s *sim) step(d time.Duration) {
	s.now = s.now.Add(d)
	for i := range s.nodes {
		if !s.alive[i] {
			continue
		}
		if s.pending[i] {
			delete(s.pending, i)
			if s.holder == -1 {
				s.holder = i
				s.apply(i, s.nodes[i].LockAcquired(s.now))
			} else {
				s.apply(i, s.nodes[i].LockContended(s.now))
			}
		}
		s.apply(i, s.nodes[i].Tick(s.now))
	}
}

func (s *sim) setLink(a, b int, up bool) {
	if a == b {
		return
	}
	was := s.linked(a, b)
	if up {
		delete(s.cut, key(a, b))
	} else {
		s.cut[key(a, b)] = true
	}
	s.notify(a, b, was)
}

func (s *sim) notify(a, b int, was bool) {
	now := s.linked(a, b)
	if was == now {
		return
	}
	for _, p := range [][2]int{{a, b}, {b, a}} {
		if !s.alive[p[0]] {
			continue
		}
		if now {
			s.apply(p[0], s.nodes[p[0]].PeerUp(s.now, uint32(p[1])))
		} else {
			s.apply(p[0], s.nodes[p[0]].PeerDown(s.now, uint32(p[1])))
		}
	}
}

// kill stops node i; its lock helper frees the lock at once (parent death).
func (s *sim) kill(i int) {
	was := make([]bool, len(s.nodes))
	for j := range s.nodes {
		was[j] = s.linked(i, j)
	}
	s.alive[i] = false
	delete(s.pending, i)
	if s.holder == i {
		s.holder = -1
	}
	for j := range s.nodes {
		s.notify(i, j, was[j])
	}
}

func (s *sim) newNode(i, n int) *Election {
	c := clusterCfg(uint32(i), n)
	c.NoLock = s.noLock
	return NewElection(c)
}

// restart brings node i back as a fresh process.
func (s *sim) restart(i int) {
	s.nodes[i] = s.newNode(i, len(s.nodes))
	s.alive[i] = true
	s.apply(i, s.nodes[i].Start(s.now))
	s.apply(i, s.nodes[i].SetEligible(s.now, true))
	for j := range s.nodes {
		if s.linked(i, j) {
			s.apply(i, s.nodes[i].PeerUp(s.now, uint32(j)))
			s.apply(j, s.nodes[j].PeerUp(s.now, uint32(i)))
		}
	}
}

// settled reports whether every live node connected to the lock holder agrees on it
// as leader, and the holder acts.
func (s *sim) settled() bool {
	if s.holder == -1 || !s.nodes[s.holder].Acting() {
		return false
	}
	for i, e := range s.nodes {
		if s.alive[i] && (i == s.holder || s.linked(i, s.holder)) && e.Leader() != uint32(s.holder) {
			return false
		}
	}
	return true
}

// TestElectionSimulation: random kills, restarts, link cuts, partitions, heals and
// bans of 1 to 7 nodes. At no instant do two nodes act as leader; once the network
// is healed and every node is back, a leader is elected and known to all within a
// bound (in virtual time).
func TestElectionSimulation(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 7).Draw(rt, "nodes")
		s := newSim(rt, n)
		for k := 0; k < 40; k++ {
			s.step(time.Duration(rapid.IntRange(1, 20).Draw(rt, "ms10")) * 10 * time.Millisecond)
			a := rapid.IntRange(0, n-1).Draw(rt, "a")
			b := rapid.IntRange(0, n-1).Draw(rt, "b")
			switch rapid.IntRange(0, 7).Draw(rt, "event") {
			case 0:
				if s.alive[a] {
					s.kill(a)
				}
			case 1:
				if !s.alive[a] {
					s.restart(a)
				}
			case 2:
				s.setLink(a, b, false)
			case 3:
				s.setLink(a, b, true)
			case 4: // flap
				s.setLink(a, b, false)
				s.step(10 * time.Millisecond)
				s.setLink(a, b, true)
			case 5:
				if s.alive[a] {
					s.apply(a, s.nodes[a].SetEligible(s.now, false))
				}
			case 6:
				if s.alive[a] {
					s.apply(a, s.nodes[a].SetEligible(s.now, true))
				}
			case 7: // the lock is lost under its holder (e.g. lock file replaced)
				if h := s.holder; h >= 0 {
					s.holder = -1
					s.apply(h, s.nodes[h].LockLost(s.now))
				}
			}
		}
		// Heal everything and bring every node back: the cluster must converge.
		for i := range s.nodes {
			if !s.alive[i] {
				s.restart(i)
			}
			s.apply(i, s.nodes[i].SetEligible(s.now, true))
		}
		for a := 0; a < n; a++ {
			for b := a + 1; b < n; b++ {
				s.setLink(a, b, true)
			}
		}
		for k := 0; k < 200 && !s.settled(); k++ {
			s.step(50 * time.Millisecond)
		}
		if !s.settled() {
			rt.Fatalf("no agreed leader 10 s after healing (holder %d)\n%s", s.holder, strings.Join(s.log, "\n"))
		}
	})
}

// TestElectionPartitionWithoutLock: the side of a partition that cannot get the lock
// never gets a leader (and so never recovers), however long it waits.
func TestElectionPartitionWithoutLock(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := newSim(rt, 5)
		for k := 0; k < 40 && !s.settled(); k++ {
			s.step(50 * time.Millisecond)
		}
		if !s.settled() {
			rt.Fatal("no leader at start")
		}
		leader := s.holder
		var other []int
		for i := range s.nodes {
			if i != leader {
				other = append(other, i)
			}
		}
		// Cut the leader's side (the leader plus one node) from the rest.
		mate := other[0]
		for _, i := range other[1:] {
			s.setLink(leader, i, false)
			s.setLink(mate, i, false)
		}
		for k := 0; k < 400; k++ {
			s.step(100 * time.Millisecond)
			for _, i := range other[1:] {
				if s.nodes[i].Acting() || s.nodes[i].Leader() != protocol.UnknownPNN && s.nodes[i].Leader() != uint32(leader) {
					rt.Fatalf("node %d on the side without the lock got leader %d", i, int32(s.nodes[i].Leader()))
				}
			}
		}
		if s.holder != leader || !s.nodes[leader].Acting() || s.nodes[mate].Leader() != uint32(leader) {
			rt.Fatalf("the lock holder's side lost its leader")
		}
	})
}

func (s *sim) isolate(i int) {
	for j := range s.nodes {
		s.setLink(i, j, false)
	}
}

func (s *sim) runFor(d time.Duration) {
	for end := s.now.Add(d); s.now.Before(end); {
		s.step(100 * time.Millisecond)
	}
}

// TestIsolatedLeaderHandsOver: a leader cut off from every other node gives the lock up
// after the grace, so the connected rest elects a leader and recovers.
func TestIsolatedLeaderHandsOver(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(3, 5).Draw(rt, "nodes")
		s := newSim(rt, n)
		s.runFor(2 * time.Second)
		if !s.settled() {
			rt.Fatalf("no leader at start")
		}
		old := s.holder
		s.isolate(old)
		s.runFor(30 * time.Second)
		if s.holder == old || s.holder < 0 || !s.nodes[s.holder].Acting() {
			rt.Fatalf("lock still with the isolated node %d (holder %d)\n%s", old, s.holder, strings.Join(s.log, "\n"))
		}
		if s.nodes[old].Acting() {
			rt.Fatal("isolated node still acting")
		}
		for i := range s.nodes {
			s.setLink(old, i, true)
		}
		s.runFor(10 * time.Second)
		if !s.settled() {
			rt.Fatalf("no agreement after the isolation ended\n%s", strings.Join(s.log, "\n"))
		}
	})
}

// TestTwoNodeSplitKeepsLeader: in a two-node cluster both halves of a split are alone;
// the leader keeps the lock (no handover, no flapping).
func TestTwoNodeSplitKeepsLeader(t *testing.T) {
	s := newSim(t, 2)
	s.runFor(2 * time.Second)
	leader := s.holder
	s.isolate(leader)
	s.runFor(60 * time.Second)
	if s.holder != leader || !s.nodes[leader].Acting() {
		t.Fatalf("leader changed in a two-node split: holder %d, was %d", s.holder, leader)
	}
}

// TestLastSurvivorLeadsAgain: when every other node is dead, the isolated leader hands
// the lock over once, finds it still free after the backoff, and leads again.
func TestLastSurvivorLeadsAgain(t *testing.T) {
	s := newSim(t, 3)
	s.runFor(2 * time.Second)
	leader := s.holder
	for i := range s.nodes {
		if i != leader {
			s.kill(i)
		}
	}
	s.runFor(40 * time.Second)
	if s.holder != leader || !s.nodes[leader].Acting() {
		t.Fatalf("last survivor %d not leading (holder %d)\n%s", leader, s.holder, strings.Join(s.log, "\n"))
	}
	handovers := 0
	for _, l := range s.log {
		if strings.Contains(l, fmt.Sprintf("node%d ReleaseLock", leader)) {
			handovers++
		}
	}
	if handovers != 1 {
		t.Errorf("%d handovers, want exactly 1 per isolation", handovers)
	}
}

// settledNoLock: exactly one live node acts, and every live node follows it.
func (s *sim) settledNoLock() bool {
	leader := -1
	for i, e := range s.nodes {
		if s.alive[i] && e.Acting() {
			if leader >= 0 {
				return false
			}
			leader = i
		}
	}
	if leader < 0 {
		return false
	}
	for i, e := range s.nodes {
		if s.alive[i] && e.Leader() != uint32(leader) {
			return false
		}
	}
	return true
}

// TestElectionWithoutLock: without a cluster lock, nodes wait a leader timeout, claim,
// and of competing claimants the lowest PNN remains; after kills, restarts and
// flapping links, once everything is back, exactly one node leads and all follow it.
func TestElectionWithoutLock(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 7).Draw(rt, "nodes")
		s := newSimNoLock(rt, n, true)
		s.runFor(6 * time.Second)
		if !s.settledNoLock() {
			rt.Fatalf("no single leader after start\n%s", strings.Join(s.log, "\n"))
		}
		for k := 0; k < 20; k++ {
			a := rapid.IntRange(0, n-1).Draw(rt, "a")
			b := rapid.IntRange(0, n-1).Draw(rt, "b")
			switch rapid.IntRange(0, 2).Draw(rt, "event") {
			case 0:
				if s.alive[a] {
					s.kill(a)
				}
			case 1:
				if !s.alive[a] {
					s.restart(a)
				}
			case 2:
				s.setLink(a, b, false)
				s.step(10 * time.Millisecond)
				s.setLink(a, b, true)
			}
			s.step(time.Duration(rapid.IntRange(1, 30).Draw(rt, "ms10")) * 10 * time.Millisecond)
		}
		for i := range s.nodes {
			if !s.alive[i] {
				s.restart(i)
			}
		}
		s.runFor(12 * time.Second)
		if !s.settledNoLock() {
			rt.Fatalf("no single leader after everything came back\n%s", strings.Join(s.log, "\n"))
		}
	})
}
