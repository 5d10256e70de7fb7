// Package daemon is ctdbd: one node of the cluster. It ties the pieces together —
// configuration (sysconfig), the node-to-node transport, the cluster lock, the leader
// election core, the Unix socket for local clients — around one event loop.
//
// Concurrency: all of a node's state lives on its loop goroutine. Transport and client
// goroutines, timers and lock attempts post closures to the loop (Daemon.do) and never
// touch state directly; work that waits on the network (recoveries, controls to other
// nodes) runs on goroutines of its own and posts its results back.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/cluster"
	"github.com/ctdb-go/ctdb/ctdbd/clusterlock"
	"github.com/ctdb-go/ctdb/ctdbd/netif"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/server"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// Options are the run-time dependencies of a Daemon; zero values mean the real ones.
type Options struct {
	// Transport to the other nodes; nil means TCP on the nodes file's addresses.
	Transport transport.Transport
	// Lock is the cluster lock; nil means the configured one (a helper process), or
	// none when no cluster lock is configured.
	Lock clusterlock.Lock
	// HelperDir is where ctdb_mutex_fcntl_helper lives (default: next to the running
	// binary, else /usr/libexec/ctdb).
	HelperDir string
	// Port overrides the TCP port (tests).
	Port int
	// Logger; nil discards.
	Logger *slog.Logger
	// Events runs event scripts; nil runs none.
	Events Events
	// Socket overrides the configuration's socket path ("-" for no socket: tests).
	Socket string
	// NetIf changes the host's network for public addresses; nil means this node
	// hosts none (failover disabled).
	NetIf netif.NetIf
	// Databases makes the databases' contents consistent during a recovery (the
	// databases issue plugs in here); nil means there is nothing to recover.
	Databases DatabaseRecoverer
}

// DatabaseRecoverer is the recovery's hook for database contents. RecoverDatabases is
// called on the leader while every active node is in recovery mode with the new VNN map
// set, before recovery mode ends: it must leave every database equal on the active
// nodes (attach missing ones, pull, merge, push) or return an error, which fails the
// recovery and is retried.
type DatabaseRecoverer interface {
	RecoverDatabases(ctx context.Context, active []uint32, generation uint32) error
}

// nodeState is what a node knows about one node of the cluster (itself included).
type nodeState struct {
	pnn       uint32
	addr      netip.Addr
	flags     uint32
	connected bool
	lastHeard time.Time
	// silentSince is when the node was declared dead for silence (no keepalives)
	// rather than for a closed connection: it may still be alive and serving its
	// public addresses until it notices it is cut off (see startTakeoverRun).
	silentSince time.Time
	// pushed holds flags the node pushed before this node saw its connection come up
	// (packets can overtake the connection event); applied at PeerUp.
	pushed *uint32
}

// Daemon is one running node. Create it with New, run it with Run.
type Daemon struct {
	cfg  *sysconfig.Config
	opts Options
	log  *slog.Logger
	self uint32

	tr   transport.Transport
	lock clusterlock.Lock
	srv  *server.Server

	loop     chan func()
	stopping chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	// Loop state: touched only on the loop goroutine.
	nodes         []*nodeState
	election      *cluster.Election
	held          clusterlock.Held
	lockBusy      bool
	tunables      protocol.TunableList
	debugLevel    uint32
	runstate      protocol.Runstate
	recmode       uint32
	vnnmap        protocol.VNNMap
	startTime     time.Time
	recStarted    time.Time
	recFinished   time.Time
	srvids        map[uint64]map[uint32]*server.Client // srvid -> client id -> client
	recovery      *recoveryRun
	needRecover   bool
	lastRecSet    string // active-node set of the last finished recovery
	reclockFile   string
	lastKeepalive time.Time
	banUntil      time.Time
	banTimer      *time.Timer
	culprits      map[uint32]*culprit
	checking      bool      // a consistency check is running
	lastCheck     time.Time // when the leader last checked the nodes

	recoveriesHeldUntil time.Time // "disable recoveries" from the ctdb tool

	stats adminStats // CONTROL_STATISTICS counters (safe for concurrent use)

	// Public addresses (loop state, but ipMu serialises takeovers and releases).
	pubips             map[netip.Addr]*pubIP
	ipMu               sync.Mutex
	leaderlessSince    time.Time
	releasedLeaderless bool
	needTakeover       bool
	takeoverBusy       bool
	takeoverCancel     context.CancelFunc
	tickles            map[netip.Addr]map[connKey]bool
	lastTicklePush     time.Time
	ipstate            ipState // interfaces, link overrides, takeover-run requests (own mutex)

	// failControl, set by tests, makes this node fail the controls it returns true for.
	failControl func(protocol.Opcode) bool

	// Remote controls in flight (guarded by pmu, not the loop).
	pmu     sync.Mutex
	reqid   uint32
	pending map[uint32]func(*protocol.ReplyControl)
}

// New prepares a node from its configuration: it decides which node this is and checks
// what can be checked before starting.
func New(cfg *sysconfig.Config, opts Options) (*Daemon, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{
		cfg: cfg, opts: opts, log: log,
		loop: make(chan func(), 1024), stopping: make(chan struct{}),
		srvids: map[uint64]map[uint32]*server.Client{}, pending: map[uint32]func(*protocol.ReplyControl){},
		culprits: map[uint32]*culprit{}, tickles: map[netip.Addr]map[connKey]bool{},
		ipstate:  ipState{links: map[string]linkSetting{}},
		runstate: protocol.RunstateInit, recmode: protocol.RecoveryActive,
		vnnmap: protocol.VNNMap{Generation: protocol.InvalidGeneration},
	}
	self, err := findSelf(cfg)
	if err != nil {
		return nil, err
	}
	d.self = self
	for _, n := range cfg.Nodes {
		ns := &nodeState{pnn: n.PNN, addr: n.Addr}
		if n.Deleted {
			ns.flags = protocol.NodeFlagsDeleted
		} else if n.PNN != self {
			// As in CTDB, other nodes start out disconnected and unhealthy.
			ns.flags = protocol.NodeFlagsDisconnected | protocol.NodeFlagsUnhealthy
		}
		d.nodes = append(d.nodes, ns)
	}
	me := d.nodes[self]
	me.connected = true
	me.flags |= protocol.NodeFlagsUnhealthy // healthy after the first good monitor
	if cfg.Legacy.StartAsDisabled {
		me.flags |= protocol.NodeFlagsPermanentlyDisabled
	}
	if cfg.Legacy.StartAsStopped {
		me.flags |= protocol.NodeFlagsStopped
	}
	for _, def := range sysconfig.TunableDefs() {
		v, _ := cfg.Tunables.Get(def.Name)
		d.tunables.Set(def.Name, v)
	}
	d.debugLevel = debugLevelNumber(cfg.Logging.Level)
	if err := d.setupLock(); err != nil {
		return nil, err
	}
	d.election = cluster.NewElection(cluster.ElectionConfig{
		Self:          self,
		LeaderTimeout: time.Duration(cfg.Cluster.LeaderTimeout) * time.Second,
		Nodes:         liveNodes(d.nodes),
		NoLock:        d.lock == nil,
	})
	return d, nil
}

// PNN returns this node's number.
func (d *Daemon) PNN() uint32 { return d.self }

// findSelf returns the PNN of this host: the node address if configured, else the first
// address of the nodes file this host can bind (as CTDB does).
func findSelf(cfg *sysconfig.Config) (uint32, error) {
	if cfg.Cluster.NodeAddress != "" {
		want, err := netip.ParseAddr(cfg.Cluster.NodeAddress)
		if err != nil {
			return 0, fmt.Errorf("daemon: node address %q: %w", cfg.Cluster.NodeAddress, err)
		}
		for _, n := range cfg.Nodes {
			if !n.Deleted && n.Addr == want.Unmap() {
				return n.PNN, nil
			}
		}
		return 0, fmt.Errorf("daemon: node address %s is not in the nodes file %s", want, cfg.Cluster.NodesList)
	}
	for _, n := range cfg.Nodes {
		if n.Deleted {
			continue
		}
		ln, err := net.Listen("tcp", netip.AddrPortFrom(n.Addr, 0).String())
		if err == nil {
			ln.Close()
			return n.PNN, nil
		}
	}
	return 0, fmt.Errorf("daemon: none of the addresses in %s belongs to this host: add this node's private address there, or set [cluster] node address", cfg.Cluster.NodesList)
}

func (d *Daemon) setupLock() error {
	if d.opts.Lock != nil {
		d.lock = d.opts.Lock
		return nil
	}
	spec := d.cfg.Cluster.ClusterLock
	if spec == "" {
		d.log.Warn("no cluster lock configured: nothing prevents split brain; set [cluster] cluster lock (CTDB_RECOVERY_LOCK)")
		return nil
	}
	dir := d.opts.HelperDir
	if dir == "" {
		dir = helperDir()
	}
	s, err := clusterlock.ParseSpec(spec, filepath.Join(dir, clusterlock.DefaultFcntlHelper))
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.reclockFile = spec
	d.lock = &clusterlock.HelperLock{Spec: s, Stderr: logWriter{d.log, "cluster lock helper"}}
	return nil
}

// helperDir finds the helpers: next to the running binary (make run, tests), else the
// packaged location.
func helperDir() string {
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		if _, err := os.Stat(filepath.Join(dir, clusterlock.DefaultFcntlHelper)); err == nil {
			return dir
		}
	}
	return "/usr/libexec/ctdb"
}

// logWriter turns a helper's stderr lines into log records.
type logWriter struct {
	log  *slog.Logger
	from string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Warn(w.from, "output", string(p))
	return len(p), nil
}

// do runs fn on the loop goroutine. It never blocks forever: after the daemon stops,
// fn is dropped.
func (d *Daemon) do(fn func()) {
	select {
	case d.loop <- fn:
	case <-d.stopping:
	}
}

// call runs fn on the loop and waits for it.
func (d *Daemon) call(fn func()) bool {
	done := make(chan struct{})
	d.do(func() { fn(); close(done) })
	select {
	case <-done:
		return true
	case <-d.stopping:
		return false
	}
}

// Stop asks the daemon to shut down (as `ctdb shutdown` or SIGTERM do).
func (d *Daemon) Stop() { d.stopOnce.Do(func() { close(d.stopping) }) }

// Run starts the node and runs it until ctx ends or Stop is called. It returns after
// everything it started has stopped.
func (d *Daemon) Run(ctx context.Context) error {
	d.startTime = time.Now()
	d.log.Info("ctdbd starting", "pnn", d.self, "address", d.nodes[d.self].addr.String())
	if err := d.event(ctx, "init"); err != nil {
		return fmt.Errorf("daemon: init event failed: %w", err)
	}
	d.notify("init")
	if d.opts.Socket != "-" {
		path := d.cfg.Socket
		if d.opts.Socket != "" {
			path = d.opts.Socket
		}
		d.srv = server.New(server.Config{Path: path, Logger: d.log}, clientHandler{d})
		if err := d.srv.Listen(); err != nil {
			return err
		}
		defer d.srv.Close()
	}
	d.initPublicIPs()
	d.runstate = protocol.RunstateSetup
	if err := d.event(ctx, "setup"); err != nil {
		return fmt.Errorf("daemon: setup event failed: %w", err)
	}
	d.notify("setup")
	tr := d.opts.Transport
	if tr == nil {
		addrs := map[uint32]netip.Addr{}
		for _, n := range d.nodes {
			if n.flags&protocol.NodeFlagsDeleted == 0 {
				addrs[n.pnn] = n.addr
			}
		}
		t, err := transport.NewTCP(transport.TCPConfig{Self: d.self, Nodes: addrs, Port: d.opts.Port, Logger: d.log})
		if err != nil {
			return err
		}
		tr = t
	}
	d.tr = tr
	if err := tr.Start(peerHandler{d}); err != nil {
		return err
	}
	d.runstate = protocol.RunstateFirstRecovery

	go func() {
		select {
		case <-ctx.Done():
			d.Stop()
		case <-d.stopping:
		}
	}()
	d.wg.Add(1)
	go d.ticker()
	d.apply(d.election.Start(time.Now()))
	d.apply(d.election.SetEligible(time.Now(), d.eligible()))
	d.runLoop()

	d.log.Info("ctdbd shutting down", "pnn", d.self)
	d.runstate = protocol.RunstateShutdown
	if d.held != nil {
		d.held.Release()
	}
	tr.Close()
	d.wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.releaseOnShutdown(sctx)
	if err := d.event(sctx, "shutdown"); err != nil {
		d.log.Warn("shutdown event failed", "err", err)
	}
	return nil
}

func (d *Daemon) event(ctx context.Context, name string, args ...string) error {
	if d.opts.Events == nil {
		return nil
	}
	return d.opts.Events.Run(ctx, name, args...)
}

func (d *Daemon) notify(kind string) {
	if d.opts.Events != nil {
		go d.opts.Events.Notify(context.Background(), kind)
	}
}

// runLoop processes posted work until the daemon stops.
func (d *Daemon) runLoop() {
	for {
		select {
		case fn := <-d.loop:
			fn()
		case <-d.stopping:
			return
		}
	}
}

// ticker drives time: the election, keepalives and the leader's checks.
func (d *Daemon) ticker() {
	defer d.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.stopping:
			return
		case now := <-t.C:
			d.do(func() { d.tick(now) })
		}
	}
}

func (d *Daemon) tick(now time.Time) {
	d.apply(d.election.Tick(now))
	d.keepalives(now)
	if d.election.Acting() {
		d.leaderCheck(now)
		d.startTakeoverRun()
	}
	if d.failoverEnabled() && len(d.pubips) > 0 {
		d.watchLeaderless(now)
		d.pushTickles(now)
	}
}

// eligible reports whether this node may lead.
func (d *Daemon) eligible() bool {
	me := d.nodes[d.self]
	return d.cfg.Cluster.LeaderCapability && me.flags&protocol.NodeFlagsInactive == 0
}

// apply carries out the election's actions.
func (d *Daemon) apply(actions []cluster.Action) {
	for _, a := range actions {
		switch a.Kind {
		case cluster.TryLock:
			d.tryLock()
		case cluster.ReleaseLock:
			if d.held != nil {
				h := d.held
				d.held = nil
				if d.isolated() {
					// Handing the lock over from a cut-off node: whoever takes it will
					// take our public addresses too, so let go of them first.
					go func() { d.releaseAll("handing the cluster lock over"); h.Release() }()
				} else {
					go h.Release()
				}
			}
		case cluster.BroadcastLeader:
			d.broadcastLeader(a.Leader)
		case cluster.LeaderChanged:
			d.log.Info("leader changed", "pnn", d.self, "leader", int32(a.Leader))
		case cluster.StartActing:
			d.log.Info("this node is now the leader", "pnn", d.self)
			d.needRecover = true
		case cluster.StopActing:
			d.log.Warn("this node stops acting as leader", "pnn", d.self)
			d.cancelRecovery()
			if d.takeoverCancel != nil {
				d.takeoverCancel()
			}
		}
	}
}

// tryLock takes the cluster lock in the background and reports to the election.
func (d *Daemon) tryLock() {
	if d.lock == nil || d.lockBusy {
		d.apply(d.election.LockFailed(time.Now()))
		return
	}
	d.lockBusy = true
	timeout := time.Duration(d.tunables.RecoverTimeout) * time.Second
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		held, err := d.lock.Acquire(ctx)
		cancel()
		d.do(func() {
			d.lockBusy = false
			now := time.Now()
			switch {
			case err == nil:
				d.held = held
				go d.watchLock(held)
				d.apply(d.election.LockAcquired(now))
			case errors.Is(err, clusterlock.ErrContended):
				d.apply(d.election.LockContended(now))
			default:
				d.log.Warn("cannot take the cluster lock", "err", err)
				d.apply(d.election.LockFailed(now))
			}
		})
	}()
}

func (d *Daemon) watchLock(h clusterlock.Held) {
	select {
	case <-h.Lost():
		d.do(func() {
			if d.held == h {
				d.held = nil
				d.log.Error("cluster lock lost", "err", h.Err())
				d.apply(d.election.LockLost(time.Now()))
			}
		})
	case <-d.stopping:
	}
}

// newGeneration returns a random generation other than the invalid one.
func newGeneration() uint32 {
	for {
		if g := rand.Uint32(); g != protocol.InvalidGeneration && g != 0 {
			return g
		}
	}
}

// Status is a snapshot of a node's view, for tests and diagnostics.
type Status struct {
	PNN        uint32
	Leader     uint32
	Acting     bool
	Holding    bool // holds the cluster lock
	Runstate   protocol.Runstate
	RecMode    uint32
	Generation uint32
	VNNMap     []uint32
	Flags      []uint32 // per PNN, as this node sees them
}

// Status returns a snapshot of the node's view of the cluster (zero if stopped).
func (d *Daemon) Status() Status {
	var s Status
	d.call(func() {
		s = Status{PNN: d.self, Leader: d.election.Leader(), Acting: d.election.Acting(), Holding: d.held != nil, Runstate: d.runstate,
			RecMode: d.recmode, Generation: d.vnnmap.Generation, VNNMap: append([]uint32(nil), d.vnnmap.Map...)}
		for _, n := range d.nodes {
			s.Flags = append(s.Flags, n.flags)
		}
	})
	return s
}
