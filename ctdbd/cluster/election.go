// Package cluster holds the decisions a node makes about the cluster: who leads, and
// when. The cores here are pure: they take events with the time they happened and
// return actions, with no I/O, so they are tested with tables and simulations; the
// daemon feeds them from the transport, the cluster lock and a clock.
package cluster

import (
	"fmt"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// ElectionConfig configures a node's Election.
type ElectionConfig struct {
	Self uint32
	// LeaderTimeout: without a leader broadcast for this long, the leader is presumed
	// gone and an election starts ([cluster] leader timeout, default 5 s).
	LeaderTimeout time.Duration
	// BroadcastInterval is how often the leader announces itself (CTDB: 1 s).
	BroadcastInterval time.Duration
	// LockRetry is how soon a node that could not take the cluster lock tries again
	// while there is no leader.
	LockRetry time.Duration
	// Nodes is the number of live (not deleted) nodes in the nodes file. With three
	// or more, a leader that has been cut off from every other node for
	// IsolationGrace hands the lock over (see Election); with two, the other node is
	// just as alone, so the holder keeps the lock.
	Nodes int
	// IsolationGrace is how long an isolated leader keeps the lock (default
	// LeaderTimeout); after handing it over it waits HandoverBackoff (default twice
	// LeaderTimeout) before competing again.
	IsolationGrace  time.Duration
	HandoverBackoff time.Duration
	// NoLock: no cluster lock is configured. Then there is no arbiter: a node claims
	// leadership itself after LeaderTimeout without hearing a leader (at start) or at
	// once when its leader's connection breaks, and of two claimants that hear each
	// other the lower PNN keeps the role. Nothing prevents two leaders in a split
	// network: that is what the cluster lock is for, and the daemon warns without one.
	NoLock bool
}

// ActionKind says what the node must do.
type ActionKind int

const (
	// TryLock: try to take the cluster lock (without waiting for a holder) and report
	// the result with LockAcquired, LockContended or LockFailed.
	TryLock ActionKind = iota + 1
	// ReleaseLock: give the cluster lock up.
	ReleaseLock
	// BroadcastLeader: send SRVID_LEADER with Leader to every connected node (Leader is
	// protocol.UnknownPNN while an election runs).
	BroadcastLeader
	// LeaderChanged: the node's view of the leader changed to Leader.
	LeaderChanged
	// StartActing: this node is now the leader and may act as one (recoveries,
	// takeover runs). StopActing: it must stop at once.
	StartActing
	StopActing
)

func (k ActionKind) String() string {
	switch k {
	case TryLock:
		return "TryLock"
	case ReleaseLock:
		return "ReleaseLock"
	case BroadcastLeader:
		return "BroadcastLeader"
	case LeaderChanged:
		return "LeaderChanged"
	case StartActing:
		return "StartActing"
	case StopActing:
		return "StopActing"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is one thing the node must do.
type Action struct {
	Kind   ActionKind
	Leader uint32 // for BroadcastLeader and LeaderChanged
}

func (a Action) String() string {
	if a.Kind == BroadcastLeader || a.Kind == LeaderChanged {
		return fmt.Sprintf("%v(%d)", a.Kind, int32(a.Leader))
	}
	return a.Kind.String()
}

// Election decides who leads, with the cluster lock as the arbiter, as CTDB 4.17 does
// when a cluster lock is configured: the election is a race for the lock, and only the
// holder acts as leader. It is faster than 4.17 where safety allows: a node whose
// connection to the leader breaks does not wait for the leader timeout but tries the lock
// at once (the lock, not the timer, keeps two leaders apart), and a node that loses the
// race keeps retrying while nobody announces leadership.
//
// A leader cut off from every other node keeps the lock for IsolationGrace, then
// releases it and stays out of the race for HandoverBackoff, once per isolation: if
// the other nodes are alive they take the lock and recover without it (CTDB 4.17 lets
// the isolated leader keep the lock, and the rest of the cluster without a leader, for
// as long as the cut lasts); if they are all dead, the lock is still free after the
// backoff and the node leads again.
//
// An Election is a pure state machine: not safe for concurrent use; the caller
// serialises events (one goroutine per node) and carries out the returned actions in
// order.
type Election struct {
	cfg ElectionConfig

	leader   uint32 // current view of the leader (UnknownPNN when none)
	eligible bool   // may lead: leader capability, and not banned, stopped or inactive
	holding  bool   // holds the cluster lock
	pending  bool   // a TryLock is outstanding
	acting   bool

	lastHeard     time.Time // last broadcast from the leader
	lastBroadcast time.Time // last broadcast we sent as leader
	nextTry       time.Time // earliest next TryLock
	connected     map[uint32]bool

	startedAt     time.Time
	isolatedSince time.Time // when the last peer went away (zero while any is connected)
	handedOver    bool      // released the lock in this isolation episode
	actingSince   time.Time
}

// NewElection returns the election state of a node that has just started: no leader
// known, not eligible until SetEligible says so.
func NewElection(cfg ElectionConfig) *Election {
	if cfg.LeaderTimeout <= 0 {
		cfg.LeaderTimeout = 5 * time.Second
	}
	if cfg.BroadcastInterval <= 0 {
		cfg.BroadcastInterval = time.Second
	}
	if cfg.LockRetry <= 0 {
		cfg.LockRetry = 250 * time.Millisecond
	}
	if cfg.IsolationGrace <= 0 {
		cfg.IsolationGrace = cfg.LeaderTimeout
	}
	if cfg.HandoverBackoff <= 0 {
		cfg.HandoverBackoff = 2 * cfg.LeaderTimeout
	}
	return &Election{cfg: cfg, leader: protocol.UnknownPNN, connected: map[uint32]bool{}}
}

// SetNodes changes the number of live nodes in the nodes file (ctdb reloadnodes).
func (e *Election) SetNodes(n int) { e.cfg.Nodes = n }

// Leader returns the node's current view of the leader (protocol.UnknownPNN if none).
func (e *Election) Leader() uint32 { return e.leader }

// Acting reports whether this node acts as leader: it holds the cluster lock and knows
// itself as leader. At most one node of a cluster is acting at any instant, because at
// most one holds the lock.
func (e *Election) Acting() bool { return e.acting }

// Holding reports whether this node holds the cluster lock.
func (e *Election) Holding() bool { return e.holding }

type actions []Action

func (a *actions) add(kind ActionKind, leader uint32) {
	*a = append(*a, Action{Kind: kind, Leader: leader})
}

func (e *Election) setLeader(out *actions, pnn uint32) {
	if e.leader != pnn {
		e.leader = pnn
		out.add(LeaderChanged, pnn)
	}
}

// stopActing gives up the leader role (and the lock, if still held).
func (e *Election) stopActing(out *actions, release bool) {
	if e.acting {
		e.acting = false
		out.add(StopActing, 0)
	}
	if release && e.holding {
		e.holding = false
		out.add(ReleaseLock, 0)
	}
}

// maybeTry asks for the lock when the node should compete for it now.
func (e *Election) maybeTry(now time.Time, out *actions) {
	if !e.eligible || e.holding || e.pending || e.leader != protocol.UnknownPNN || now.Before(e.nextTry) {
		return
	}
	if e.cfg.NoLock {
		// No arbiter: wait one leader timeout after start for a leader to announce
		// itself before claiming.
		if now.Sub(e.startedAt) < e.cfg.LeaderTimeout {
			return
		}
		out.append(e.claim(now)...)
		return
	}
	e.pending = true
	out.add(TryLock, 0)
}

func (a *actions) append(more ...Action) { *a = append(*a, more...) }

// claim makes this node the leader without a lock (NoLock).
func (e *Election) claim(now time.Time) []Action {
	e.pending = true
	return e.LockAcquired(now)
}

// Start is the first event: the node has joined and knows no leader.
func (e *Election) Start(now time.Time) []Action {
	var out actions
	e.lastHeard = now
	e.startedAt = now
	e.isolatedSince = now
	e.maybeTry(now, &out)
	return out
}

// SetEligible says whether the node may lead (its leader capability is on and it is
// not banned, stopped or otherwise inactive). A leader that stops being eligible steps
// down and releases the lock.
func (e *Election) SetEligible(now time.Time, eligible bool) []Action {
	var out actions
	e.eligible = eligible
	if !eligible {
		wasLeader := e.leader == e.cfg.Self
		e.stopActing(&out, true)
		if wasLeader {
			e.setLeader(&out, protocol.UnknownPNN)
			out.add(BroadcastLeader, protocol.UnknownPNN)
		}
		return out
	}
	e.maybeTry(now, &out)
	return out
}

// LeaderMessage handles an SRVID_LEADER broadcast from node from announcing leader.
func (e *Election) LeaderMessage(now time.Time, from, leader uint32) []Action {
	var out actions
	switch {
	case leader == protocol.UnknownPNN:
		// from announces an election. If it was our leader, the leader is gone.
		if e.leader == from && from != e.cfg.Self {
			e.setLeader(&out, protocol.UnknownPNN)
			e.nextTry = now
			e.maybeTry(now, &out)
		}
	case leader != from:
		// Only the leader itself announces its leadership; ignore hearsay.
	case e.holding && from != e.cfg.Self && e.cfg.NoLock && from < e.cfg.Self:
		// Two claimants without a lock: the lower PNN keeps the role.
		e.holding = false
		e.stopActing(&out, false)
		e.lastHeard = now
		e.setLeader(&out, from)
	case e.holding && from != e.cfg.Self:
		// We hold the lock (or, without one, have the lower PNN), so from cannot
		// lead: it is acting on stale state. Repeat our claim so that it learns.
		out.add(BroadcastLeader, e.cfg.Self)
	default:
		e.lastHeard = now
		e.setLeader(&out, from)
	}
	return out
}

// PeerUp handles a node becoming connected. The leader tells a newcomer at once.
func (e *Election) PeerUp(now time.Time, pnn uint32) []Action {
	var out actions
	e.connected[pnn] = true
	e.isolatedSince = time.Time{}
	e.handedOver = false
	if e.acting {
		out.add(BroadcastLeader, e.cfg.Self)
		e.lastBroadcast = now
	}
	return out
}

// PeerDown handles a node becoming disconnected. If it was the leader, the election
// starts at once: a killed leader's lock helper releases the lock as soon as the leader
// dies, so the race for the lock can be won immediately.
func (e *Election) PeerDown(now time.Time, pnn uint32) []Action {
	var out actions
	delete(e.connected, pnn)
	if len(e.connected) == 0 && e.isolatedSince.IsZero() {
		e.isolatedSince = now
	}
	if pnn == e.leader && pnn != e.cfg.Self {
		e.setLeader(&out, protocol.UnknownPNN)
		e.nextTry = now
		e.maybeTry(now, &out)
	}
	return out
}

// LockAcquired: the TryLock succeeded. The node becomes leader and says so.
func (e *Election) LockAcquired(now time.Time) []Action {
	var out actions
	e.pending = false
	if !e.eligible {
		// Became ineligible while the attempt ran.
		out.add(ReleaseLock, 0)
		return out
	}
	e.holding = true
	e.setLeader(&out, e.cfg.Self)
	e.acting = true
	e.actingSince = now
	out.add(StartActing, 0)
	out.add(BroadcastLeader, e.cfg.Self)
	e.lastBroadcast = now
	return out
}

// LockContended: another node holds the lock. Wait for its broadcast; retry later if
// none comes.
func (e *Election) LockContended(now time.Time) []Action {
	e.pending = false
	e.nextTry = now.Add(e.cfg.LockRetry)
	return nil
}

// LockFailed: the lock could not be used at all (helper error, timeout, unreachable
// file system). Retry later; a node that cannot reach the lock never leads.
func (e *Election) LockFailed(now time.Time) []Action {
	e.pending = false
	e.nextTry = now.Add(e.cfg.LockRetry)
	return nil
}

// LockLost: the held lock was lost (helper died, lock file replaced, lease expired).
// The node stops acting at once and competes again.
func (e *Election) LockLost(now time.Time) []Action {
	var out actions
	e.holding = false
	e.stopActing(&out, false)
	if e.leader == e.cfg.Self {
		e.setLeader(&out, protocol.UnknownPNN)
		out.add(BroadcastLeader, protocol.UnknownPNN)
	}
	e.nextTry = now.Add(e.cfg.LockRetry)
	return out
}

// Tick advances time: the leader re-announces itself every BroadcastInterval; a node
// that has not heard its leader for LeaderTimeout presumes it gone; a node without a
// leader retries the lock.
func (e *Election) Tick(now time.Time) []Action {
	var out actions
	if e.mustHandOver() && now.Sub(e.isolatedSince) >= e.cfg.IsolationGrace {
		// Cut off from everyone: let a connected group have the lock.
		e.handedOver = true
		e.stopActing(&out, true)
		e.setLeader(&out, protocol.UnknownPNN)
		e.nextTry = now.Add(e.cfg.HandoverBackoff)
		return out
	}
	if e.acting {
		if now.Sub(e.lastBroadcast) >= e.cfg.BroadcastInterval {
			out.add(BroadcastLeader, e.cfg.Self)
			e.lastBroadcast = now
		}
		return out
	}
	if e.leader != protocol.UnknownPNN && now.Sub(e.lastHeard) >= e.cfg.LeaderTimeout {
		e.setLeader(&out, protocol.UnknownPNN)
		e.nextTry = now
	}
	e.maybeTry(now, &out)
	return out
}

// mustHandOver reports whether this leader is cut off from every other node of a
// cluster of three or more, and led before the cut (a node that won the lock while
// already alone keeps it: nobody it could hand over to asked for it).
func (e *Election) mustHandOver() bool {
	return e.acting && !e.cfg.NoLock && e.cfg.Nodes >= 3 && len(e.connected) == 0 && !e.handedOver &&
		!e.isolatedSince.IsZero() && e.actingSince.Before(e.isolatedSince)
}

// NextDeadline returns when Tick must be called next at the latest.
func (e *Election) NextDeadline() time.Time {
	switch {
	case e.acting:
		next := e.lastBroadcast.Add(e.cfg.BroadcastInterval)
		if e.mustHandOver() {
			if t := e.isolatedSince.Add(e.cfg.IsolationGrace); t.Before(next) {
				next = t
			}
		}
		return next
	case e.leader != protocol.UnknownPNN:
		return e.lastHeard.Add(e.cfg.LeaderTimeout)
	case e.cfg.NoLock && e.nextTry.Before(e.startedAt.Add(e.cfg.LeaderTimeout)):
		return e.startedAt.Add(e.cfg.LeaderTimeout)
	default:
		return e.nextTry
	}
}
