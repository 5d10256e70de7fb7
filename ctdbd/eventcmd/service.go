package eventcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ctdb-go/ctdb/runner"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// Service runs events and reports their last results.
type Service interface {
	// Run runs ev with args; timeout <= 0 means no limit. Errors are those
	// of runner.Runner.RunTimeout.
	Run(ctx context.Context, timeout time.Duration, ev runner.Event, args []string) (*runner.Result, error)
	// Status returns the last result of ev; an error wrapping
	// runner.ErrNeverRun if there is none.
	Status(ev runner.Event) (*runner.Result, error)
}

// DaemonService, when set, returns the running daemon's Service, or false
// when no daemon is running (then the command runs events itself). The
// daemon issue sets it; until then events always run in-process.
var DaemonService func(cfg runner.Config) (Service, bool)

// Local runs events in this process. Runs are serialised with other
// processes doing the same by an exclusive lock on a file in the result
// directory, so two `ctdb event run` never overlap.
type Local struct {
	Runner *runner.Runner
}

// Run takes the cross-process lock, then runs the event.
func (l *Local) Run(ctx context.Context, timeout time.Duration, ev runner.Event, args []string) (*runner.Result, error) {
	dir := l.Runner.Config().ResultDir
	if dir != "-" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("eventcmd: result directory: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(dir, ".run.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("eventcmd: lock: %w", err)
		}
		defer f.Close()
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
			if err != syscall.EINTR {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("eventcmd: lock %s: %w", f.Name(), err)
		}
	}
	return l.Runner.RunTimeout(ctx, timeout, ev, args...)
}

// Status loads the stored result.
func (l *Local) Status(ev runner.Event) (*runner.Result, error) {
	st := l.Runner.Store()
	if st == nil {
		return nil, runner.ErrNeverRun
	}
	return st.Load(ev)
}

// RunnerConfig turns a node's configuration into the runner's. cfg may be
// nil (no usable configuration): then the defaults and the environment's
// CTDB_BASE are used.
func RunnerConfig(cfg *sysconfig.Config, getenv func(string) string) runner.Config {
	var rc runner.Config
	if cfg == nil {
		rc.Base = getenv("CTDB_BASE")
		if v := getenv("CTDB_VARDIR"); v != "" {
			rc.VarDir = v
		}
	} else {
		rc.Base = cfg.Base
		rc.ScriptDir = cfg.EventScriptDir
		rc.VarDir = cfg.VarDir
		rc.DebugScript = cfg.Event.DebugScript
		rc.SysconfigFile = cfg.SysconfigFile
		if lvl, ok := sysconfig.SlogLevel(cfg.Legacy.ScriptLogLevel); ok {
			rc.ScriptLogLevel = &lvl
		}
		if cfg.Tunables != nil {
			if v, ok := cfg.Tunables.Get("EventScriptTimeout"); ok {
				rc.Timeout = time.Duration(v) * time.Second
			}
			if v, ok := cfg.Tunables.Get("MonitorTimeoutCount"); ok {
				rc.MonitorTimeoutCount = int(v)
			}
		}
		if cfg.Sysconfig != nil {
			if v, ok := cfg.Sysconfig.Get("CTDB_NOTIFY_SCRIPT"); ok {
				rc.NotifyPath = v.Value
			}
		}
	}
	if rc.Base == "" {
		rc.Base = runner.DefaultBase
	}
	// CTDB's test mode keeps every path under CTDB_BASE (reference 9.3).
	if getenv("CTDB_TEST_MODE") == "yes" {
		rc.DataDir = filepath.Join(rc.Base, "share", "events", "legacy")
		if rc.VarDir == "" || rc.VarDir == sysconfig.DefaultVarDir {
			rc.VarDir = filepath.Join(rc.Base, "var")
		}
	}
	return rc
}

// LoadConfig reads the node's configuration for the event commands. The nodes file is
// not needed for them and is not read. A configuration that does not load (a broken
// sysconfig file, say) does not stop event commands: the error is logged, and the
// defaults are used.
func LoadConfig(getenv func(string) string, log *slog.Logger) runner.Config {
	lookup := func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	}
	cfg, err := sysconfig.Load(sysconfig.Options{LookupEnv: lookup, SkipNodes: true})
	if err != nil {
		log.Warn("configuration not loaded; using defaults", "err", err)
		cfg = nil
	}
	rc := RunnerConfig(cfg, getenv)
	rc.Logger = log
	return rc
}

// service picks the daemon's service or a local one.
func service(rc runner.Config) Service {
	if DaemonService != nil {
		if s, ok := DaemonService(rc); ok {
			return s
		}
	}
	return &Local{Runner: runner.New(rc)}
}

var errNoEventDir = runner.ErrNoEventDir

func isNoEventDir(err error) bool { return errors.Is(err, errNoEventDir) }
