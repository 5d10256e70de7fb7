package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// recoveryRun is a recovery in progress, driven by the leader.
type recoveryRun struct {
	cancel context.CancelFunc
}

// nodeFailure is a recovery step that failed on one node: that node is the culprit.
type nodeFailure struct {
	pnn uint32
	err error
}

func (f *nodeFailure) Error() string { return f.err.Error() }
func (f *nodeFailure) Unwrap() error { return f.err }

// culprit counts a node's failed recoveries, as CTDB's ban credits.
type culprit struct {
	count int
	last  time.Time
}

// activeSet returns the PNNs of the active nodes this leader can reach (connected and
// not banned, stopped or deleted), in PNN order, a key naming the set, and the reachable
// inactive nodes (banned or stopped), which are told the new VNN map too.
func (d *Daemon) activeSet() (active []uint32, key string, inactive []uint32) {
	var keys []string
	for _, n := range d.nodes {
		reachable := n.pnn == d.self || n.connected
		switch {
		case !reachable || n.flags&protocol.NodeFlagsDeleted != 0:
		case n.flags&protocol.NodeFlagsInactive == 0:
			active = append(active, n.pnn)
			keys = append(keys, fmt.Sprint(n.pnn))
		default:
			inactive = append(inactive, n.pnn)
		}
	}
	return active, strings.Join(keys, ","), inactive
}

// leaderCheck runs on every tick while this node acts as leader: it starts a recovery
// when the cluster changed since the last one (a node came or went, flags changed, the
// node just became leader).
func (d *Daemon) leaderCheck(now time.Time) {
	if d.recovery != nil || now.Before(d.recoveriesHeldUntil) {
		return
	}
	active, key, inactive := d.activeSet()
	if !d.needRecover && key == d.lastRecSet {
		d.consistencyCheck(now, active)
		return
	}
	d.needRecover = false
	ctx, cancel := context.WithCancel(context.Background())
	d.recovery = &recoveryRun{cancel: cancel}
	gen := newGeneration()
	timeout := time.Duration(max(d.tunables.RecoverTimeout, 1)) * time.Second
	d.log.Info("starting recovery", "pnn", d.self, "generation", gen, "nodes", key)
	go func() {
		err := d.recover(ctx, active, inactive, gen, timeout)
		cancel()
		d.do(func() {
			d.recovery = nil
			if err != nil {
				d.log.Warn("recovery failed; will retry", "generation", gen, "err", err)
				d.needRecover = true
				var nf *nodeFailure
				if errors.As(err, &nf) {
					d.blame(nf.pnn)
				}
				return
			}
			d.lastRecSet = key
			d.culprits = map[uint32]*culprit{}
			d.needTakeover = true
			d.log.Info("recovery finished", "pnn", d.self, "generation", gen, "nodes", key)
		})
	}()
}

// consistencyCheck asks every active node, every RecoverInterval, for its recovery mode
// and generation, as CTDB's leader does: a node that restarted or missed a recovery
// (recovery mode ACTIVE, another generation) makes the leader recover.
func (d *Daemon) consistencyCheck(now time.Time, active []uint32) {
	interval := time.Duration(max(d.tunables.RecoverInterval, 1)) * time.Second
	if d.checking || now.Sub(d.lastCheck) < interval {
		return
	}
	d.checking, d.lastCheck = true, now
	gen := d.vnnmap.Generation
	timeout := time.Duration(max(d.tunables.RecoverTimeout, 1)) * time.Second
	go func() {
		bad := ""
		for _, pnn := range active {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			r, err := d.remoteControl(ctx, pnn, protocol.ControlGetRecMode, nil)
			if err == nil && r.Status != int32(protocol.RecoveryNormal) {
				bad = fmt.Sprintf("node %d is in recovery mode", pnn)
			}
			if err == nil && bad == "" {
				if r, err = d.remoteControl(ctx, pnn, protocol.ControlGetVNNMap, nil); err == nil {
					var m protocol.VNNMap
					if protocol.UnmarshalPayload(r.Data, &m) == nil && m.Generation != gen {
						bad = fmt.Sprintf("node %d has generation %d, not %d", pnn, m.Generation, gen)
					}
				}
			}
			cancel()
			if bad != "" {
				break
			}
		}
		d.do(func() {
			d.checking = false
			if bad != "" && d.election.Acting() {
				d.log.Info("cluster inconsistent: recovering", "why", bad)
				d.needRecover = true
			}
		})
	}()
}

func (d *Daemon) cancelRecovery() {
	if d.recovery != nil {
		d.recovery.cancel()
	}
}

// recover makes the active nodes agree on a new generation and VNN map: recovery mode
// on, startrecovery, the new map, recovery mode off, recovered. Database contents join
// this sequence with the databases issue.
func (d *Daemon) recover(ctx context.Context, active, inactive []uint32, gen uint32, timeout time.Duration) error {
	step := func(op protocol.Opcode, p protocol.Payload, nodes []uint32) (map[uint32]*protocol.ReplyControl, error) {
		var mu sync.Mutex
		replies := map[uint32]*protocol.ReplyControl{}
		var wg sync.WaitGroup
		var firstErr error
		for _, pnn := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				r, err := d.remoteControl(cctx, pnn, op, p)
				if err == nil && r.Status != 0 && op != protocol.ControlGetCapabilities {
					err = fmt.Errorf("node %d: %v failed: %s", pnn, op, r.ErrMsg)
				}
				if err != nil && ctx.Err() == nil {
					err = &nodeFailure{pnn: pnn, err: err}
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				replies[pnn] = r
			}()
		}
		wg.Wait()
		return replies, firstErr
	}
	caps, err := step(protocol.ControlGetCapabilities, nil, active)
	if err != nil {
		return err
	}
	var vnn []uint32
	for _, pnn := range active {
		var c protocol.Uint32
		if r := caps[pnn]; r != nil && r.Status == 0 && protocol.UnmarshalPayload(r.Data, &c) == nil && uint32(c)&protocol.CapLMaster != 0 {
			vnn = append(vnn, pnn)
		}
	}
	if len(vnn) == 0 {
		vnn = []uint32{d.self}
	}
	sort.Slice(vnn, func(i, j int) bool { return vnn[i] < vnn[j] })
	active32 := protocol.Uint32(protocol.RecoveryActive)
	normal := protocol.Uint32(protocol.RecoveryNormal)
	steps := []struct {
		op protocol.Opcode
		p  protocol.Payload
	}{
		{protocol.ControlSetRecMode, &active32},
		{protocol.ControlStartRecovery, nil},
		{protocol.ControlSetVNNMap, &protocol.VNNMap{Generation: gen, Map: vnn}},
		{protocol.ControlSetRecMode, &normal},
		{protocol.ControlEndRecovery, nil},
	}
	for _, s := range steps {
		if _, err := step(s.op, s.p, active); err != nil {
			return err
		}
		if s.op == protocol.ControlSetVNNMap && len(inactive) > 0 {
			// Banned and stopped nodes take no part, but learn the map so that
			// `ctdb status` on them is right; their failures do not fail the recovery.
			step(s.op, s.p, inactive)
		}
		if s.op == protocol.ControlSetVNNMap && d.opts.Databases != nil {
			if err := d.opts.Databases.RecoverDatabases(ctx, active, gen); err != nil {
				return err
			}
		}
	}
	return nil
}

// blame gives node pnn a ban credit for a failed recovery. A node with at least twice
// as many credits as there are nodes is banned for RecoveryBanPeriod (CTDB's rule);
// credits older than RecoveryGracePeriod are forgiven. EnableBans=0 turns this off.
func (d *Daemon) blame(pnn uint32) {
	now := time.Now()
	c := d.culprits[pnn]
	if c == nil || now.Sub(c.last) > time.Duration(d.tunables.RecoveryGracePeriod)*time.Second {
		c = &culprit{}
		d.culprits[pnn] = c
	}
	c.count++
	c.last = now
	if d.tunables.EnableBans == 0 || c.count < 2*len(d.nodes) {
		return
	}
	delete(d.culprits, pnn)
	period := d.tunables.RecoveryBanPeriod
	d.log.Error("banning a node that keeps failing recovery", "pnn", pnn, "failures", c.count, "seconds", period)
	if pnn == d.self {
		d.ban(period)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := d.remoteControl(ctx, pnn, protocol.ControlSetBanState, &protocol.BanState{PNN: pnn, Time: period}); err != nil {
			d.log.Warn("cannot ban node", "pnn", pnn, "err", err)
		}
	}()
}

// recovered runs on every node when a recovery ends (END_RECOVERY). The first one
// moves the node on to STARTUP.
func (d *Daemon) recovered() {
	go func() {
		if err := d.event(context.Background(), "recovered"); err != nil {
			d.log.Warn("recovered event failed", "err", err)
		}
	}()
	if d.runstate == protocol.RunstateFirstRecovery {
		d.runstate = protocol.RunstateStartup
		go d.startup()
	}
}

// startup runs the startup event until it succeeds (every 5 s, as CTDB), then starts
// monitoring.
func (d *Daemon) startup() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), d.eventTimeout())
		err := d.event(ctx, "startup")
		cancel()
		if err == nil {
			break
		}
		d.log.Warn("startup event failed; retrying in 5 s", "err", err)
		select {
		case <-time.After(5 * time.Second):
		case <-d.stopping:
			return
		}
	}
	d.do(func() {
		d.runstate = protocol.RunstateRunning
		d.log.Info("node running", "pnn", d.self)
	})
	d.notify("startup")
	d.monitorLoop()
}

func (d *Daemon) eventTimeout() time.Duration {
	var t uint32 = 30
	d.call(func() { t = d.tunables.ScriptTimeout })
	return time.Duration(max(t, 1)) * time.Second
}

// monitorLoop runs the monitor event every MonitorInterval; its result sets or clears
// UNHEALTHY. The first monitor runs at once, so a node is healthy seconds after start.
func (d *Daemon) monitorLoop() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), d.eventTimeout())
		healthy, changed, reason := true, true, ""
		if d.opts.Events != nil {
			healthy, changed, reason = d.opts.Events.Monitor(ctx)
		}
		cancel()
		if changed {
			d.do(func() { d.setHealth(healthy, reason) })
		}
		var interval uint32 = 15
		d.call(func() { interval = d.tunables.MonitorInterval })
		select {
		case <-time.After(time.Duration(max(interval, 1)) * time.Second):
		case <-d.stopping:
			return
		}
	}
}

// setHealth applies a monitor result: UNHEALTHY set or cleared, notification scripts
// told of a change.
func (d *Daemon) setHealth(healthy bool, reason string) {
	was := d.nodes[d.self].flags&protocol.NodeFlagsUnhealthy == 0
	if healthy {
		d.setFlags(0, protocol.NodeFlagsUnhealthy)
	} else {
		d.setFlags(protocol.NodeFlagsUnhealthy, 0)
	}
	if was == healthy {
		return
	}
	if healthy {
		d.log.Info("monitor event OK: node healthy", "pnn", d.self)
		d.notify("healthy")
	} else {
		d.log.Warn("monitor event failed: node unhealthy", "pnn", d.self, "reason", reason)
		d.notify("unhealthy")
	}
}

// ban bans this node for seconds (0 lifts the ban).
func (d *Daemon) ban(seconds uint32) {
	if d.banTimer != nil {
		d.banTimer.Stop()
		d.banTimer = nil
	}
	if seconds == 0 {
		d.banUntil = time.Time{}
		d.setFlags(0, protocol.NodeFlagsBanned)
		return
	}
	d.banUntil = time.Now().Add(time.Duration(seconds) * time.Second)
	d.log.Warn("node banned", "pnn", d.self, "seconds", seconds)
	d.setFlags(protocol.NodeFlagsBanned, 0)
	d.banTimer = time.AfterFunc(time.Duration(seconds)*time.Second, func() {
		d.do(func() {
			if !d.banUntil.IsZero() && !time.Now().Before(d.banUntil) {
				d.log.Info("ban expired", "pnn", d.self)
				d.banUntil = time.Time{}
				d.setFlags(0, protocol.NodeFlagsBanned)
			}
		})
	})
}

// banTime returns the seconds left of this node's ban.
func (d *Daemon) banTime() uint32 {
	if d.banUntil.IsZero() {
		return 0
	}
	left := time.Until(d.banUntil)
	if left <= 0 {
		return 0
	}
	return uint32((left + time.Second - 1) / time.Second)
}
