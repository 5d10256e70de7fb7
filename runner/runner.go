package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config is everything the Runner needs, as plain values; the daemon and the
// CLI fill it from sysconfig. Zero values mean the defaults in the comments
// (WithDefaults fills them in).
type Config struct {
	Base       string // CTDB_BASE, default /etc/ctdb
	ScriptDir  string // legacy events.d, default $CTDB_BASE/events.d (CTDB_EVENT_SCRIPT_DIR); "-" for none
	ModernDir  string // default $CTDB_BASE/events/legacy; "-" for none
	DataDir    string // stock scripts of the modern layout, default /usr/share/ctdb/events/legacy
	NotifyDir  string // notification scripts, default $CTDB_BASE/events/notification
	NotifyPath string // CTDB_NOTIFY_SCRIPT, run like a notification script; optional
	VarDir     string // CTDB_VARDIR, default /var/lib/ctdb
	ResultDir  string // where results persist, default $CTDB_VARDIR/events/legacy; "-" for none

	// Timeout bounds a whole event (EventScriptTimeout, default 30 s when
	// zero; negative means no limit).
	Timeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL of a script's
	// process group (default 2 s).
	KillGrace time.Duration
	// DebugScript ([event] debug script) runs with (PID, event) when an event
	// times out, before the script is killed; relative paths are under Base.
	DebugScript        string
	DebugScriptTimeout time.Duration // default 10 s
	// MonitorTimeoutCount is the number of monitor timeouts in a row that
	// make the node unhealthy (default 20).
	MonitorTimeoutCount int
	OutputLimit         int           // bytes of output kept per script (default 64 KiB)
	OutputDrain         time.Duration // output read after a script exits (default 100 ms)

	Path          string   // PATH for scripts (default /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	SysconfigFile string   // passed as CTDB_SYSCONFIG so loadconfig reads the same file
	Env           []string // extra NAME=value for every script (filtered like the rest)

	// ScriptLogLevel is the level at which the output of a failed script is
	// logged ([legacy] script log level; default slog.LevelError).
	ScriptLogLevel *slog.Level

	// InRecovery, when set, tells whether the cluster's recovery mode is
	// ACTIVE; events that CTDB does not run then (see
	// Event.AllowedInRecovery) are refused with ErrInRecovery.
	InRecovery func() bool

	Logger *slog.Logger // default: discard
}

// Defaults.
const (
	DefaultTimeout             = 30 * time.Second
	DefaultKillGrace           = 2 * time.Second
	DefaultDebugScriptTimeout  = 10 * time.Second
	DefaultMonitorTimeoutCount = 20
	DefaultOutputLimit         = 64 * 1024
	DefaultOutputDrain         = 100 * time.Millisecond
	DefaultPath                = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	DefaultBase                = "/etc/ctdb"
	DefaultVarDir              = "/var/lib/ctdb"
	DefaultDataDir             = "/usr/share/ctdb/events/legacy"
)

// DefaultConfig returns the configuration of a standard node.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Base == "" {
		c.Base = DefaultBase
	}
	if c.ScriptDir == "" {
		c.ScriptDir = filepath.Join(c.Base, "events.d")
	}
	if c.ModernDir == "" {
		c.ModernDir = filepath.Join(c.Base, "events", "legacy")
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.NotifyDir == "" {
		c.NotifyDir = filepath.Join(c.Base, "events", "notification")
	}
	if c.VarDir == "" {
		c.VarDir = DefaultVarDir
	}
	if c.ResultDir == "" {
		c.ResultDir = filepath.Join(c.VarDir, "events", "legacy")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.KillGrace <= 0 {
		c.KillGrace = DefaultKillGrace
	}
	if c.DebugScriptTimeout <= 0 {
		c.DebugScriptTimeout = DefaultDebugScriptTimeout
	}
	if c.MonitorTimeoutCount <= 0 {
		c.MonitorTimeoutCount = DefaultMonitorTimeoutCount
	}
	if c.OutputLimit <= 0 {
		c.OutputLimit = DefaultOutputLimit
	}
	if c.OutputDrain <= 0 {
		c.OutputDrain = DefaultOutputDrain
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.DebugScript != "" && !filepath.IsAbs(c.DebugScript) {
		c.DebugScript = filepath.Join(c.Base, c.DebugScript)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ScriptLogLevel == nil {
		l := slog.LevelError
		c.ScriptLogLevel = &l
	}
	return c
}

// Validate checks c (after WithDefaults) and names the first problem: paths
// must be absolute, and a configured debug or notify script must be an
// executable file.
func (c Config) Validate() error {
	c = c.WithDefaults()
	for _, p := range []struct{ name, path string }{
		{"CTDB_BASE", c.Base}, {"event script directory", c.ScriptDir},
		{"events/legacy directory", c.ModernDir}, {"stock script directory", c.DataDir},
		{"notification directory", c.NotifyDir}, {"CTDB_VARDIR", c.VarDir}, {"result directory", c.ResultDir},
	} {
		if p.path != "-" && !filepath.IsAbs(p.path) {
			return fmt.Errorf("runner: %s %q is not an absolute path", p.name, p.path)
		}
	}
	for _, p := range []struct{ name, path string }{
		{"[event] debug script", c.DebugScript}, {"CTDB_NOTIFY_SCRIPT", c.NotifyPath},
	} {
		if p.path == "" {
			continue
		}
		fi, err := os.Stat(p.path)
		if err != nil {
			return fmt.Errorf("runner: %s: %w: install it or remove the setting", p.name, err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("runner: %s %s is not an executable file: chmod +x it or remove the setting", p.name, p.path)
		}
	}
	if c.OutputLimit < 0 {
		return fmt.Errorf("runner: output limit %d is negative", c.OutputLimit)
	}
	return nil
}

// Dirs returns the script directories of c.
// A directory set to "-" is left out.
func (c Config) Dirs() Dirs {
	d := Dirs{Legacy: c.ScriptDir, Modern: c.ModernDir}
	if d.Legacy == "-" {
		d.Legacy = ""
	}
	if d.Modern == "-" {
		d.Modern = ""
	}
	return d
}

// Invocation is what a Handler is asked to do.
type Invocation struct {
	Event Event
	Args  []string
	Env   []string // the clean environment scripts get (see Runner)
}

// Handler is one link of the pipeline: a script or a built-in Go hook.
// Handle must return when ctx ends (the event's timeout, or a monitor being
// cancelled) and must not keep goroutines running after it returns. It
// reports its outcome in the ScriptResult: StatusOK, StatusError (with
// ExitCode) or StatusCannotRun (with Errno); Name, Start and Duration are
// filled in by the Runner when left zero. Handle may be called from any
// goroutine, but never concurrently for the same Runner.
type Handler interface {
	Name() string
	Handle(ctx context.Context, inv Invocation) ScriptResult
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc struct {
	HookName string
	Fn       func(ctx context.Context, inv Invocation) ScriptResult
}

// Name returns h.HookName.
func (h HandlerFunc) Name() string { return h.HookName }

// Handle calls h.Fn.
func (h HandlerFunc) Handle(ctx context.Context, inv Invocation) ScriptResult {
	return h.Fn(ctx, inv)
}

// Positions for Hook.Order.
const (
	First = ""       // before every script
	Last  = "\uffff" // after every script
)

// Hook puts Go code into the pipeline at a fixed point.
type Hook struct {
	// Order is the hook's sort key among the script names: First, Last, or
	// a name such as "10.interface" (hooks sort before a script of the same
	// name).
	Order string
	// Events the hook runs for; empty means every event.
	Events []Event
	// AlwaysRun makes the hook run even after an earlier script failed or
	// timed out (e.g. removing a released IP); its own failure still counts.
	AlwaysRun bool
	Handler   Handler
}

func (h Hook) runsFor(ev Event) bool {
	if len(h.Events) == 0 {
		return true
	}
	for _, e := range h.Events {
		if e == ev {
			return true
		}
	}
	return false
}

// Runner runs events through the pipeline. All methods are safe for
// concurrent use. Events are serialised: one runs at a time, others wait;
// a monitor is cancelled by any other event and is skipped while another
// event runs or waits.
type Runner struct {
	cfg   Config
	log   *slog.Logger
	store Store

	mu              sync.Mutex
	active          *activeRun
	waiting         int
	monitorTimeouts int
	hooks           []Hook

	scan scanCache
}

type activeRun struct {
	event  Event
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// errMonitorCancelled is the cancellation cause of a monitor pre-empted by
// another event.
var errMonitorCancelled = errors.New("runner: monitor cancelled by another event")

// ErrInvalidEvent wraps event and argument validation errors.
var ErrInvalidEvent = errors.New("runner: invalid event")

// ErrInRecovery is returned for an event that may not run while recovery
// is active.
var ErrInRecovery = errors.New("runner: event not allowed while recovery is active")

// New returns a Runner for cfg (defaults applied). Results are persisted in
// cfg.ResultDir unless it is "-".
func New(cfg Config) *Runner {
	cfg = cfg.WithDefaults()
	r := &Runner{cfg: cfg, log: cfg.Logger}
	if cfg.ResultDir != "-" {
		r.store = &FileStore{Dir: cfg.ResultDir}
	}
	r.scan.dirs = cfg.Dirs()
	r.scan.log = r.log
	return r
}

// Config returns the runner's configuration with defaults applied.
func (r *Runner) Config() Config { return r.cfg }

// Store returns the result store, or nil.
func (r *Runner) Store() Store { return r.store }

// AddHook adds a built-in hook to the pipeline.
func (r *Runner) AddHook(h Hook) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = append(r.hooks, h)
}

// Scripts lists the current scripts in pipeline order (it rescans).
func (r *Runner) Scripts() ([]Script, error) { return r.scan.get() }

// Run runs ev with args under the configured timeout. See RunTimeout.
func (r *Runner) Run(ctx context.Context, ev Event, args ...string) (*Result, error) {
	return r.RunTimeout(ctx, r.cfg.Timeout, ev, args...)
}

// RunTimeout runs every script and hook of ev in order with argv (ev,
// args...), under one timeout for the whole event (timeout <= 0: none). It
// returns an error only when the event could not be attempted: invalid
// event or arguments (wrapping ErrInvalidEvent), ErrInRecovery,
// ErrNoEventDir, or ctx ended while waiting for another event. Everything
// else is in the Result: the first failing script stops the event and later
// ones are StatusNotRun (hooks with AlwaysRun still run).
//
// A monitor is returned with EventSkipped at once if another event is
// running or waiting; a running monitor is cancelled (EventCancelled, its
// scripts' process groups killed) when another event arrives. Results other
// than skipped and cancelled ones are saved in the store; a failure to save
// is logged, not returned.
func (r *Runner) RunTimeout(ctx context.Context, timeout time.Duration, ev Event, args ...string) (*Result, error) {
	if err := ev.ValidateArgs(args); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	if r.cfg.InRecovery != nil && !ev.AllowedInRecovery() && r.cfg.InRecovery() {
		return nil, fmt.Errorf("%w: %s (try again after the recovery)", ErrInRecovery, ev)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	me := &activeRun{event: ev, cancel: cancel, done: make(chan struct{})}
	res, ok := r.acquire(ctx, me)
	if res != nil {
		return res, nil
	}
	if !ok {
		return nil, fmt.Errorf("runner: event %s not run: %w", ev, ctx.Err())
	}
	defer r.release(me)
	scripts, err := r.scan.get()
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		var c context.CancelFunc
		runCtx, c = context.WithTimeout(runCtx, timeout)
		defer c()
	}
	res = r.runPipeline(runCtx, ev, args, scripts)
	r.finish(res)
	return res, nil
}

// acquire waits for the right to run. It returns a Result for a skipped
// monitor, ok=false if ctx ended first, and ok=true when me is now the
// active run (which the caller must release).
func (r *Runner) acquire(ctx context.Context, me *activeRun) (*Result, bool) {
	r.mu.Lock()
	for {
		if me.event == Monitor && (r.active != nil || r.waiting > 0) {
			running := Event("another event")
			if r.active != nil {
				running = r.active.event
			}
			r.mu.Unlock()
			r.log.Info("monitor skipped: another event is running", "running", running)
			now := time.Now()
			return &Result{Event: Monitor, Status: EventSkipped, Start: now, End: now}, false
		}
		if r.active == nil {
			r.active = me
			r.mu.Unlock()
			return nil, true
		}
		if r.active.event == Monitor {
			r.active.cancel(errMonitorCancelled)
		}
		done := r.active.done
		r.waiting++
		r.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		r.mu.Lock()
		r.waiting--
		if ctx.Err() != nil {
			r.mu.Unlock()
			return nil, false
		}
	}
}

func (r *Runner) release(me *activeRun) {
	r.mu.Lock()
	r.active = nil
	r.mu.Unlock()
	close(me.done)
}

// pipelineStep is a script or a hook in run order.
type pipelineStep struct {
	key    string
	script *Script
	hook   *Hook
}

func (r *Runner) steps(ev Event, scripts []Script) []pipelineStep {
	r.mu.Lock()
	hooks := append([]Hook(nil), r.hooks...)
	r.mu.Unlock()
	steps := make([]pipelineStep, 0, len(scripts)+len(hooks))
	for i := range hooks {
		if hooks[i].runsFor(ev) {
			steps = append(steps, pipelineStep{key: hooks[i].Order, hook: &hooks[i]})
		}
	}
	nh := len(steps)
	for i := range scripts {
		steps = append(steps, pipelineStep{key: scripts[i].Name, script: &scripts[i]})
	}
	if nh > 0 {
		sort.SliceStable(steps, func(i, j int) bool {
			if steps[i].key != steps[j].key {
				return steps[i].key < steps[j].key
			}
			return steps[i].hook != nil && steps[j].hook == nil
		})
	}
	return steps
}

func (r *Runner) runPipeline(ctx context.Context, ev Event, args []string, scripts []Script) *Result {
	res := &Result{Event: ev, Args: append([]string(nil), args...), Start: time.Now()}
	env := r.baseEnv(ev)
	stopped := false // an earlier step failed, or the event ended
	for _, st := range r.steps(ev, scripts) {
		if ctx.Err() != nil {
			stopped = true
		}
		var sr ScriptResult
		switch {
		case st.hook != nil:
			if stopped && !st.hook.AlwaysRun {
				sr = ScriptResult{Name: st.hook.Handler.Name(), Builtin: true, Status: StatusNotRun}
				break
			}
			hctx := ctx
			if ctx.Err() != nil {
				// An AlwaysRun hook gets its own bounded context when the
				// event's has ended.
				var c context.CancelFunc
				hctx, c = context.WithTimeout(context.WithoutCancel(ctx), r.cfg.KillGrace)
				defer c()
			}
			sr = r.runHook(hctx, st.hook, Invocation{Event: ev, Args: args, Env: env})
		case stopped:
			sr = ScriptResult{Name: st.script.Name, Status: StatusNotRun}
			if st.script.State == Disabled {
				sr.Status = StatusDisabled
			}
		default:
			sr = r.runScript(ctx, st.script, ev, args, env)
		}
		res.Scripts = append(res.Scripts, sr)
		if sr.Status.Failed() || sr.Status == StatusCancelled {
			stopped = true
		}
	}
	res.End = time.Now()
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errMonitorCancelled):
		res.Status = EventCancelled
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || hasStatus(res, StatusTimedOut):
		res.Status = EventTimedOut
	case ctx.Err() != nil:
		res.Status = EventCancelled
	case res.Failed() != nil:
		res.Status = EventFailed
	default:
		res.Status = EventOK
	}
	return res
}

func hasStatus(res *Result, st Status) bool {
	for _, s := range res.Scripts {
		if s.Status == st {
			return true
		}
	}
	return false
}

func (r *Runner) runHook(ctx context.Context, h *Hook, inv Invocation) (sr ScriptResult) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			sr = ScriptResult{Status: StatusError, ExitCode: 1, Output: fmt.Sprintf("hook panicked: %v", p)}
			r.log.Error("built-in hook panicked", "hook", h.Handler.Name(), "event", inv.Event, "panic", p)
		}
		sr.Builtin = true
		if sr.Name == "" {
			sr.Name = h.Handler.Name()
		}
		if sr.Start.IsZero() {
			sr.Start = start
		}
		if sr.Duration == 0 {
			sr.Duration = time.Since(start)
		}
		if ctx.Err() != nil && sr.Status != StatusOK {
			// The hook gave up because the event ended.
			if errors.Is(context.Cause(ctx), errMonitorCancelled) {
				sr.Status = StatusCancelled
			} else {
				sr.Status = StatusTimedOut
			}
		}
	}()
	return h.Handler.Handle(ctx, inv)
}

// runScript runs one script (the pipeline's script handler).
func (r *Runner) runScript(ctx context.Context, s *Script, ev Event, args []string, env []string) ScriptResult {
	sr := ScriptResult{Name: s.Name, Start: time.Now()}
	switch s.State {
	case Disabled:
		sr.Status = StatusDisabled
		return sr
	case Broken:
		sr.Status = StatusCannotRun
		sr.Errno = errnoValue(s.Err)
		sr.Detail = s.Err.Error()
		r.log.Error("event script cannot run", "script", s.Path, "event", ev, "err", s.Err)
		return sr
	}
	if ctx.Err() != nil {
		sr.Status = StatusNotRun
		return sr
	}
	argv := make([]string, 0, len(args)+2)
	argv = append(argv, s.Path, string(ev))
	argv = append(argv, args...)
	spec := procSpec{
		path:        s.Path,
		argv:        argv,
		env:         r.scriptEnv(env, s),
		dir:         "/",
		outputLimit: r.cfg.OutputLimit,
		grace:       r.cfg.KillGrace,
		drain:       r.cfg.OutputDrain,
	}
	var hung int
	spec.onHung = func(pid int) {
		hung = pid
		r.runDebugScript(pid, ev)
	}
	p := runProc(ctx, spec)
	sr.Duration = time.Since(sr.Start)
	// Output is text for the status display and the JSON store: bytes that
	// are not UTF-8 become U+FFFD here, so what is shown and what is stored
	// are the same.
	sr.Output = strings.ToValidUTF8(string(p.output), "\uFFFD")
	sr.Dropped = p.dropped
	if p.dropped > 0 {
		sr.Output += fmt.Sprintf(truncMarker, p.dropped)
	}
	switch {
	case p.startErr != nil:
		sr.Status = StatusCannotRun
		sr.Errno = errnoValue(p.startErr)
		sr.Detail = p.startErr.Error()
		r.log.Error("event script cannot run", "script", s.Path, "event", ev, "err", p.startErr)
	case p.ended != nil && errors.Is(context.Cause(ctx), errMonitorCancelled):
		sr.Status = StatusCancelled
	case p.ended != nil:
		sr.Status = StatusTimedOut
		sr.HungPID = hung
		sr.Detail = "event timed out; process group killed"
		if p.abandoned {
			sr.Detail = "event timed out; the script survived SIGKILL (stuck in the kernel?) and is left behind"
			r.log.Error("event script did not die of SIGKILL; leaving it behind", "script", s.Path, "pid", p.pid)
		}
		r.log.Error("event script timed out", "script", s.Path, "event", ev, "pid", p.pid,
			"duration_seconds", sr.Duration.Seconds())
	case p.signal != 0:
		sr.Status = StatusCannotRun
		sr.Errno = syscall.EINTR
		sr.Signaled = p.signal.String()
		sr.Detail = "killed by signal " + p.signal.String()
		r.log.Error("event script killed by a signal", "script", s.Path, "event", ev, "signal", p.signal.String())
	case p.exitCode != 0:
		sr.Status = StatusError
		sr.ExitCode = p.exitCode
	default:
		sr.Status = StatusOK
	}
	return sr
}

// errnoValue extracts the errno of err, EIO if there is none.
func errnoValue(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// runDebugScript runs the configured debug script with (pid, event) and
// logs its output. It is bounded by DebugScriptTimeout.
func (r *Runner) runDebugScript(pid int, ev Event) {
	if r.cfg.DebugScript == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.DebugScriptTimeout)
	defer cancel()
	p := runProc(ctx, procSpec{
		path:        r.cfg.DebugScript,
		argv:        []string{r.cfg.DebugScript, fmt.Sprint(pid), string(ev)},
		env:         r.baseEnv(ev),
		dir:         "/",
		outputLimit: r.cfg.OutputLimit,
		grace:       r.cfg.KillGrace,
		drain:       r.cfg.OutputDrain,
	})
	r.log.Warn("ran debug script for hung event script", "debug_script", r.cfg.DebugScript,
		"pid", pid, "event", ev, "exit_code", p.exitCode, "err", p.startErr, "output", string(p.output))
}

// finish updates monitor state and stores the result.
func (r *Runner) finish(res *Result) {
	if res.Event == Monitor {
		r.mu.Lock()
		switch res.Status {
		case EventOK:
			r.monitorTimeouts = 0
			res.Health = Healthy
		case EventFailed:
			r.monitorTimeouts = 0
			res.Health = Unhealthy
		case EventTimedOut:
			r.monitorTimeouts++
			if r.monitorTimeouts >= r.cfg.MonitorTimeoutCount {
				res.Health = Unhealthy
			}
		}
		res.MonitorTimeouts = r.monitorTimeouts
		r.mu.Unlock()
	}
	lvl := slog.LevelInfo
	if res.Status != EventOK {
		lvl = slog.LevelWarn
	}
	r.log.Log(context.Background(), lvl, "event finished", "event", res.Event, "status", res.Status,
		"duration_seconds", res.End.Sub(res.Start).Seconds())
	if f := res.Failed(); f != nil {
		r.log.Log(context.Background(), *r.cfg.ScriptLogLevel, "event script failed", "event", res.Event,
			"script", f.Name, "script_status", f.Status, "exit_code", f.ExitCode, "errno", int(f.Errno),
			"output", strings.TrimSpace(f.Output))
	}
	if r.store == nil || res.Status == EventCancelled || res.Status == EventSkipped {
		return
	}
	if err := r.store.Save(res); err != nil {
		r.log.Error("cannot save event result; `ctdb event status` will show an older one", "event", res.Event, "err", err)
	}
}

// forbiddenEnv reports whether a variable must never reach a script:
// systemd's notify, watchdog and socket-activation variables belong to the
// daemon only.
func forbiddenEnv(kv string) bool {
	name, _, _ := strings.Cut(kv, "=")
	return name == "NOTIFY_SOCKET" || strings.HasPrefix(name, "WATCHDOG_") || strings.HasPrefix(name, "LISTEN_")
}

// baseEnv is the environment common to every script of an event: PATH,
// CTDB_BASE, CTDB_EVENT, CTDB_VARDIR, CTDB_SYSCONFIG (when known), the
// assignments of $CTDB_BASE/script.options and Config.Env. Nothing is
// inherited from the daemon's own environment.
func (r *Runner) baseEnv(ev Event) []string {
	env := []string{
		"PATH=" + r.cfg.Path,
		"CTDB_BASE=" + r.cfg.Base,
		"CTDB_EVENT=" + string(ev),
		"CTDB_VARDIR=" + r.cfg.VarDir,
	}
	if r.cfg.SysconfigFile != "" {
		env = append(env, "CTDB_SYSCONFIG="+r.cfg.SysconfigFile)
	}
	vars, ignored, err := ParseOptionsFile(filepath.Join(r.cfg.Base, "script.options"))
	if err != nil {
		r.log.Warn("cannot read script options; scripts still source it themselves", "err", err)
	}
	if len(ignored) > 0 {
		r.log.Debug("script.options lines left to the scripts", "lines", len(ignored))
	}
	env = mergeEnv(env, vars)
	return mergeEnv(env, r.cfg.Env)
}

// scriptEnv adds the per-script options file (NN.name.options next to the
// script; for NN.name.script the .script suffix is replaced).
func (r *Runner) scriptEnv(base []string, s *Script) []string {
	p := s.Path
	if s.Layout == ModernLayout {
		p = strings.TrimSuffix(p, ScriptSuffix)
	}
	vars, _, err := ParseOptionsFile(p + ".options")
	if err != nil {
		r.log.Warn("cannot read script options", "script", s.Path, "err", err)
	}
	if len(vars) == 0 {
		return base
	}
	return mergeEnv(append([]string(nil), base...), vars)
}

// mergeEnv sets each NAME=value of add in env (replacing an earlier NAME),
// dropping forbidden variables.
func mergeEnv(env, add []string) []string {
	for _, kv := range add {
		if forbiddenEnv(kv) || !strings.Contains(kv, "=") {
			continue
		}
		name, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range env {
			if n, _, _ := strings.Cut(old, "="); n == name {
				env[i] = kv
				replaced = true
				break
			}
		}
		if !replaced {
			env = append(env, kv)
		}
	}
	return env
}

// scanCache holds the last script list. Every get rescans: listing a
// directory of a few dozen scripts costs tens of microseconds, far less
// than starting one script, and it means a change made just before an
// event always counts, whether or not its inotify notification has been
// read yet.
type scanCache struct {
	dirs Dirs
	log  *slog.Logger

	mu      sync.Mutex
	scripts []Script
}

func (c *scanCache) get() ([]Script, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, skipped, err := Scan(c.dirs)
	if err != nil {
		return nil, err
	}
	for _, sk := range skipped {
		c.log.Debug("event script directory entry skipped", "path", sk.Path, "reason", sk.Reason)
	}
	c.scripts = s
	return s, nil
}

// Notify runs the notification scripts for kind (init, setup, startup,
// healthy, unhealthy): every owner-executable *.script in Config.NotifyDir,
// in name order, then Config.NotifyPath, each with the single argument kind.
// Failures are logged, never returned: notifications cannot fail an event.
// It does not take part in event serialisation.
func (r *Runner) Notify(ctx context.Context, kind string) {
	switch kind {
	case "init", "setup", "startup", "healthy", "unhealthy":
	default:
		r.log.Error("not running notification scripts for an unknown notification", "notification", kind)
		return
	}
	var paths []string
	if ents, err := os.ReadDir(r.cfg.NotifyDir); err == nil {
		for _, de := range ents {
			if !strings.HasSuffix(de.Name(), ScriptSuffix) {
				continue
			}
			p := filepath.Join(r.cfg.NotifyDir, de.Name())
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o100 != 0 {
				paths = append(paths, p)
			}
		}
	}
	if r.cfg.NotifyPath != "" {
		paths = append(paths, r.cfg.NotifyPath)
	}
	timeout := r.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	for _, p := range paths {
		nctx, cancel := context.WithTimeout(ctx, timeout)
		res := runProc(nctx, procSpec{
			path:        p,
			argv:        []string{p, kind},
			env:         mergeEnv(r.baseEnv(""), []string{"CTDB_EVENT=" + kind}),
			dir:         "/",
			outputLimit: r.cfg.OutputLimit,
			grace:       r.cfg.KillGrace,
			drain:       r.cfg.OutputDrain,
		})
		cancel()
		if res.startErr != nil || res.exitCode != 0 || res.ended != nil {
			r.log.Warn("notification script failed (ignored)", "script", p, "notification", kind,
				"exit_code", res.exitCode, "err", firstErr(res.startErr, res.ended), "output", strings.TrimSpace(string(res.output)))
		} else {
			r.log.Debug("notification script ran", "script", p, "notification", kind)
		}
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
