package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunOrderArgvAndEnvironment(t *testing.T) {
	f := newFixture(t)
	log := filepath.Join(f.tmp, "log")
	for _, n := range []string{"20.second", "10.first", "30.third"} {
		f.script(n, fmt.Sprintf(`echo "%s $*" >> %s`, n, log))
	}
	f.script("40.env", fmt.Sprintf(`env | sort > %s/env
readlink /proc/$$/fd/0 > %s/stdin
ps -o pgid= -p $$ | tr -d ' ' > %s/pgid
echo $$ > %s/pid`, f.tmp, f.tmp, f.tmp, f.tmp))
	if err := os.WriteFile(filepath.Join(f.base, "script.options"), []byte("GLOBAL_OPT=g\nSHARED=global\nNOTIFY_SOCKET=/sneaky\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "40.env.options"), []byte("LOCAL_OPT='l v'\nSHARED=local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("WATCHDOG_USEC", "1000")
	t.Setenv("LISTEN_FDS", "3")
	t.Setenv("LEAKY_DAEMON_VAR", "x")
	cfg := f.config()
	cfg.SysconfigFile = "/etc/default/ctdb"
	cfg.Env = []string{"EXTRA=1", "WATCHDOG_PID=1", "LISTEN_PID=2"}
	r := New(cfg)

	res := run(t, r, TakeIP, "eth0", "10.0.0.1", "24")
	if res.Status != EventOK || res.Code() != 0 {
		t.Fatalf("result %s", summary(res))
	}
	want := "10.first takeip eth0 10.0.0.1 24\n20.second takeip eth0 10.0.0.1 24\n30.third takeip eth0 10.0.0.1 24\n"
	if got := f.read("log"); got != want {
		t.Errorf("scripts ran as\n%s\nwant\n%s", got, want)
	}
	env := f.read("env")
	for _, kv := range []string{"CTDB_BASE=" + f.base, "CTDB_EVENT=takeip", "PATH=" + DefaultPath,
		"GLOBAL_OPT=g", "LOCAL_OPT=l v", "SHARED=local", "EXTRA=1", "CTDB_SYSCONFIG=/etc/default/ctdb",
		"CTDB_VARDIR=" + f.vardir} {
		if !strings.Contains(env, kv+"\n") {
			t.Errorf("environment lacks %s:\n%s", kv, env)
		}
	}
	for _, bad := range []string{"NOTIFY_SOCKET", "WATCHDOG_", "LISTEN_", "LEAKY_DAEMON_VAR"} {
		if strings.Contains(env, bad) {
			t.Errorf("environment has %s:\n%s", bad, env)
		}
	}
	if got := strings.TrimSpace(f.read("stdin")); got != "/dev/null" {
		t.Errorf("stdin is %q, want /dev/null", got)
	}
	if pgid, pid := strings.TrimSpace(f.read("pgid")), strings.TrimSpace(f.read("pid")); pgid != pid {
		t.Errorf("script pgid %s != pid %s: not its own process group", pgid, pid)
	}
	if mine := strconv.Itoa(syscall.Getpgrp()); strings.TrimSpace(f.read("pgid")) == mine {
		t.Errorf("script shares the runner's process group %s", mine)
	}
}

func TestFirstFailureStopsEvent(t *testing.T) {
	f := newFixture(t)
	f.script("01.ok", "echo fine")
	f.scriptIn(f.dir, "02.off", "#!/bin/sh\n", 0o644)
	f.script("03.fail", "echo line1; echo line2 >&2; exit 3")
	f.script("04.later", "touch "+f.tmp+"/later-ran")
	f.scriptIn(f.dir, "05.off", "#!/bin/sh\n", 0o644)
	r := New(f.config())
	res := run(t, r, Monitor)
	if got, want := summary(res), "FAILED: 01.ok=OK 02.off=DISABLED 03.fail=ERROR 04.later=NOT RUN 05.off=DISABLED"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(f.tmp, "later-ran")); err == nil {
		t.Error("script after the failure ran")
	}
	if res.Code() != 3 || res.Scripts[2].ExitCode != 3 {
		t.Errorf("code %d exit %d, want 3", res.Code(), res.Scripts[2].ExitCode)
	}
	if res.Scripts[2].Output != "line1\nline2\n" {
		t.Errorf("output %q", res.Scripts[2].Output)
	}
	if res.Health != Unhealthy {
		t.Errorf("failed monitor health %v", res.Health)
	}
}

func TestCannotRun(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		errno syscall.Errno
	}{
		{"no interpreter", func(f *fixture) {
			f.scriptIn(f.dir, "10.x", "#!/nonexistent/shell\nexit 0\n", 0o755)
		}, syscall.ENOENT},
		{"no shebang binary", func(f *fixture) {
			f.scriptIn(f.dir, "10.x", "\x7fELF garbage", 0o755)
		}, syscall.ENOEXEC},
		{"dangling symlink", func(f *fixture) {
			if err := os.Symlink(filepath.Join(f.tmp, "gone"), filepath.Join(f.dir, "10.x")); err != nil {
				t.Fatal(err)
			}
		}, syscall.ENOENT},
		{"killed by signal", func(f *fixture) {
			f.script("10.x", "echo dying; kill -9 $$")
		}, syscall.EINTR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.setup(f)
			f.script("20.after", "exit 0")
			res := run(t, New(f.config()), Monitor)
			if got, want := summary(res), "FAILED: 10.x=CANNOT RUN 20.after=NOT RUN"; got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
			if res.Scripts[0].Errno != tt.errno || res.Code() != int(tt.errno) {
				t.Errorf("errno %v code %d, want %v", res.Scripts[0].Errno, res.Code(), tt.errno)
			}
		})
	}
}

func TestNotExecutableIsDisabledNotFailure(t *testing.T) {
	f := newFixture(t)
	f.scriptIn(f.dir, "10.off", "#!/bin/sh\nexit 1\n", 0o644)
	f.script("20.on", "exit 0")
	res := run(t, New(f.config()), Startup)
	if got, want := summary(res), "OK: 10.off=DISABLED 20.on=OK"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestTimeoutKillsWholeProcessTree(t *testing.T) {
	f := newFixture(t)
	// A script with a child, a grandchild and a child that ignores SIGTERM;
	// all in the script's process group.
	f.script("10.ok", "exit 0")
	f.script("20.hang", fmt.Sprintf(`sleep 300 &
echo $! >> %[1]s/pids
sh -c 'sleep 300 & echo $! >> %[1]s/pids; wait' &
echo $! >> %[1]s/pids
sh -c 'trap "" TERM; echo $$ >> %[1]s/pids; while :; do sleep 1; done' &
echo $$ >> %[1]s/pids
echo all-started >> %[1]s/ready
echo about to hang
wait`, f.tmp))
	f.script("30.never", "touch "+f.tmp+"/never")
	debug := f.scriptIn(f.base, "debug-hung.sh", fmt.Sprintf("#!/bin/sh\necho \"$@\" > %s/debug-args\n", f.tmp), 0o755)
	cfg := f.config()
	cfg.DebugScript = "debug-hung.sh" // relative to CTDB_BASE
	r := New(cfg)
	res, err := r.RunTimeout(context.Background(), 3*time.Second, Startup)
	if err != nil {
		t.Fatal(err)
	}
	pids := f.pids("pids")
	if got, want := summary(res), "TIMEDOUT: 10.ok=OK 20.hang=TIMEDOUT 30.never=NOT RUN"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if len(pids) != 5 {
		t.Fatalf("expected 5 pids, got %v", pids)
	}
	waitDead(t, pids)
	if res.Code() != int(syscall.ETIMEDOUT) {
		t.Errorf("code %d", res.Code())
	}
	hung := res.Scripts[1].HungPID
	if want := fmt.Sprintf("%d startup\n", hung); hung == 0 || f.read("debug-args") != want {
		t.Errorf("debug script args %q, want %q", f.read("debug-args"), want)
	}
	if !strings.Contains(res.Scripts[1].Output, "about to hang") {
		t.Errorf("timed-out output %q", res.Scripts[1].Output)
	}
	if debug == "" {
		t.Fatal("no debug script")
	}
}

func TestBackgroundChildHoldingStdoutDoesNotHang(t *testing.T) {
	f := newFixture(t)
	f.script("10.bg", fmt.Sprintf(`echo started
sleep 300 &
echo $! > %s/bgpid
exit 0`, f.tmp))
	f.script("20.next", "echo next")
	r := New(f.config())
	done := make(chan *Result, 1)
	go func() {
		res, _ := r.Run(context.Background(), Monitor)
		done <- res
	}()
	pids := f.pids("bgpid")
	var res *Result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("event hung on a background child holding stdout")
	}
	if got, want := summary(res), "OK: 10.bg=OK 20.next=OK"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if res.Scripts[0].Output != "started\n" {
		t.Errorf("output %q", res.Scripts[0].Output)
	}
	// The background child is not the runner's to kill: it is still there.
	if !alive(pids[0]) {
		t.Error("background child was killed")
	}
	_ = syscall.Kill(pids[0], syscall.SIGKILL)
}

func TestHugeOutputIsBounded(t *testing.T) {
	f := newFixture(t)
	f.script("10.loud", "head -c 1048576 /dev/zero | tr '\\0' x; exit 1")
	res := run(t, New(f.config()), Monitor)
	s := res.Scripts[0]
	if s.Status != StatusError {
		t.Fatalf("status %v", s.Status)
	}
	if s.Dropped != 1048576-DefaultOutputLimit {
		t.Errorf("dropped %d", s.Dropped)
	}
	if !strings.HasPrefix(s.Output, strings.Repeat("x", DefaultOutputLimit)) ||
		!strings.HasSuffix(s.Output, fmt.Sprintf(truncMarker, s.Dropped)) ||
		len(s.Output) != DefaultOutputLimit+len(fmt.Sprintf(truncMarker, s.Dropped)) {
		t.Errorf("output of %d bytes does not end in the marker", len(s.Output))
	}
}

func TestResultsPersistAcrossRunners(t *testing.T) {
	f := newFixture(t)
	f.script("10.a", "echo out; exit 2")
	r1 := New(f.config())
	if _, err := r1.Store().Load(Monitor); !errors.Is(err, ErrNeverRun) {
		t.Fatalf("Load before any run: %v", err)
	}
	res := run(t, r1, Monitor)
	r2 := New(f.config()) // another process, in effect
	got, err := r2.Store().Load(Monitor)
	if err != nil {
		t.Fatal(err)
	}
	if summary(got) != summary(res) || got.Code() != 2 || got.Scripts[0].Output != "out\n" ||
		!got.Scripts[0].Start.Equal(res.Scripts[0].Start) || got.Scripts[0].Duration != res.Scripts[0].Duration {
		t.Errorf("loaded %+v\nsaved %+v", got, res)
	}
	// A corrupt file names itself.
	p := filepath.Join(f.vardir, "events", "legacy", "monitor.json")
	if err := os.WriteFile(p, []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Store().Load(Monitor); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("corrupt file error %v", err)
	}
}

func TestInvalidEventIsRefused(t *testing.T) {
	f := newFixture(t)
	f.script("10.a", "touch "+f.tmp+"/ran")
	r := New(f.config())
	for _, c := range []struct {
		ev   Event
		args []string
	}{{"bogus", nil}, {TakeIP, []string{"eth0"}}, {Monitor, []string{"x"}}} {
		if _, err := r.Run(context.Background(), c.ev, c.args...); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s %v: err %v", c.ev, c.args, err)
		}
	}
	if _, err := os.Stat(filepath.Join(f.tmp, "ran")); err == nil {
		t.Error("a script ran for an invalid event")
	}
	r2 := New(Config{Base: f.tmp, ScriptDir: filepath.Join(f.tmp, "none"), ModernDir: "-", VarDir: f.vardir})
	if _, err := r2.Run(context.Background(), Monitor); !errors.Is(err, ErrNoEventDir) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestMonitorCancelledByOtherEvent(t *testing.T) {
	f := newFixture(t)
	f.script("10.mon", fmt.Sprintf(`if [ "$1" = monitor ]; then
  sleep 300 &
  echo $! > %[1]s/monpids
  echo $$ >> %[1]s/monpids
  wait
fi
echo "$1" >> %[1]s/events`, f.tmp))
	f.script("20.after", "exit 0")
	r := New(f.config())
	// An earlier complete monitor result stays the stored one.
	done := make(chan *Result, 1)
	go func() {
		res, _ := r.Run(context.Background(), Monitor)
		done <- res
	}()
	pids := f.pids("monpids")
	res := run(t, r, ReleaseIP, "eth0", "10.0.0.1", "24")
	mon := <-done
	if got, want := summary(mon), "CANCELLED: 10.mon=CANCELLED 20.after=NOT RUN"; got != want {
		t.Errorf("monitor: got %s, want %s", got, want)
	}
	if mon.Health != HealthUnchanged || mon.Code() != int(syscall.ECANCELED) {
		t.Errorf("cancelled monitor health %v code %d", mon.Health, mon.Code())
	}
	if res.Status != EventOK {
		t.Errorf("releaseip %s", summary(res))
	}
	waitDead(t, pids)
	if got := f.read("events"); got != "releaseip\n" {
		t.Errorf("events seen by scripts %q", got)
	}
	if _, err := r.Store().Load(Monitor); !errors.Is(err, ErrNeverRun) {
		t.Errorf("cancelled monitor was stored: %v", err)
	}
}

func TestMonitorSkippedWhileOtherEventRuns(t *testing.T) {
	f := newFixture(t)
	fifo := filepath.Join(f.tmp, "gate")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f.script("10.wait", fmt.Sprintf(`if [ "$1" = startup ]; then echo up > %s/started; read x < %s; fi`, f.tmp, fifo))
	r := New(f.config())
	done := make(chan *Result, 1)
	go func() {
		res, _ := r.Run(context.Background(), Startup)
		done <- res
	}()
	f.waitFile("started")
	mon := run(t, r, Monitor)
	if mon.Status != EventSkipped || len(mon.Scripts) != 0 || mon.Health != HealthUnchanged {
		t.Errorf("monitor during startup: %s health %v", summary(mon), mon.Health)
	}
	if err := os.WriteFile(fifo, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.Status != EventOK {
		t.Errorf("startup %s", summary(res))
	}
	if mon := run(t, r, Monitor); mon.Status != EventOK || mon.Health != Healthy {
		t.Errorf("monitor after startup: %s", summary(mon))
	}
}

func TestMonitorTimeoutCounting(t *testing.T) {
	f := newFixture(t)
	mode := filepath.Join(f.tmp, "mode")
	f.script("10.mon", fmt.Sprintf(`case "$(cat %s)" in hang) exec sleep 300;; fail) exit 1;; esac`, mode))
	setMode := func(m string) {
		if err := os.WriteFile(mode, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := f.config()
	cfg.MonitorTimeoutCount = 3
	r := New(cfg)
	var got []string
	for _, m := range []string{"hang", "hang", "ok", "hang", "hang", "hang", "hang", "fail", "hang"} {
		setMode(m)
		timeout := time.Minute // only the hanging runs may time out
		if m == "hang" {
			timeout = 300 * time.Millisecond
		}
		res, err := r.RunTimeout(context.Background(), timeout, Monitor)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%s/%d", res.Status, res.Health, res.MonitorTimeouts))
	}
	want := "TIMEDOUT/unchanged/1 TIMEDOUT/unchanged/2 OK/healthy/0 TIMEDOUT/unchanged/1 TIMEDOUT/unchanged/2 " +
		"TIMEDOUT/unhealthy/3 TIMEDOUT/unhealthy/4 FAILED/unhealthy/0 TIMEDOUT/unchanged/1"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestBuiltinHooks(t *testing.T) {
	f := newFixture(t)
	log := filepath.Join(f.tmp, "log")
	f.script("10.interface", fmt.Sprintf(`echo "script $1" >> %s; [ "$1" != releaseip ] || [ ! -e %s/failrelease ]`, log, f.tmp))
	var calls []string
	hook := func(name string, fail bool) Handler {
		return HandlerFunc{HookName: name, Fn: func(ctx context.Context, inv Invocation) ScriptResult {
			calls = append(calls, name+" "+string(inv.Event)+" "+strings.Join(inv.Args, " "))
			if fail {
				return ScriptResult{Status: StatusError, ExitCode: 1, Output: "hook failed"}
			}
			return ScriptResult{Status: StatusOK}
		}}
	}
	r := New(f.config())
	r.AddHook(Hook{Order: First, Events: []Event{TakeIP}, Handler: hook("ipadd", false)})
	r.AddHook(Hook{Order: Last, Events: []Event{ReleaseIP}, AlwaysRun: true, Handler: hook("ipdel", false)})
	r.AddHook(Hook{Order: "10.interface", Events: []Event{Monitor}, Handler: hook("panicky", false)})

	res := run(t, r, TakeIP, "eth0", "10.0.0.1", "24")
	if got, want := summary(res), "OK: ipadd=OK 10.interface=OK"; got != want {
		t.Errorf("takeip: %s, want %s", got, want)
	}
	if !res.Scripts[0].Builtin || res.Scripts[1].Builtin {
		t.Error("Builtin flag wrong")
	}
	if err := os.WriteFile(filepath.Join(f.tmp, "failrelease"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res = run(t, r, ReleaseIP, "eth0", "10.0.0.1", "24")
	if got, want := summary(res), "FAILED: 10.interface=ERROR ipdel=OK"; got != want {
		t.Errorf("releaseip: %s, want %s", got, want)
	}
	want := "ipadd takeip eth0 10.0.0.1 24|ipdel releaseip eth0 10.0.0.1 24"
	if strings.Join(calls, "|") != want {
		t.Errorf("hook calls %q, want %q", strings.Join(calls, "|"), want)
	}
	// A panicking hook is a failure, not a crash.
	r.AddHook(Hook{Order: First, Events: []Event{Shutdown}, Handler: HandlerFunc{HookName: "boom",
		Fn: func(context.Context, Invocation) ScriptResult { panic("bad") }}})
	res = run(t, r, Shutdown)
	if got := summary(res); got != "FAILED: boom=ERROR 10.interface=NOT RUN" {
		t.Errorf("panicking hook: %s", got)
	}
}

func TestNotify(t *testing.T) {
	f := newFixture(t)
	ndir := filepath.Join(f.base, "events", "notification")
	f.scriptIn(ndir, "10.a.script", fmt.Sprintf("#!/bin/sh\necho \"a $1 $CTDB_EVENT\" >> %s/notes\nexit 1\n", f.tmp), 0o755)
	f.scriptIn(ndir, "20.b.script", fmt.Sprintf("#!/bin/sh\necho \"b $1\" >> %s/notes\n", f.tmp), 0o755)
	f.scriptIn(ndir, "30.off.script", fmt.Sprintf("#!/bin/sh\necho off >> %s/notes\n", f.tmp), 0o644)
	f.scriptIn(ndir, "README", "text", 0o755)
	cfg := f.config()
	cfg.NotifyPath = f.scriptIn(f.base, "notify.sh", fmt.Sprintf("#!/bin/sh\necho \"notify $1\" >> %s/notes\n", f.tmp), 0o755)
	New(cfg).Notify(context.Background(), "unhealthy")
	if got, want := f.read("notes"), "a unhealthy unhealthy\nb unhealthy\nnotify unhealthy\n"; got != want {
		t.Errorf("notes %q, want %q", got, want)
	}
}

func TestEventsAreSerialised(t *testing.T) {
	f := newFixture(t)
	log := filepath.Join(f.tmp, "log")
	f.script("10.a", fmt.Sprintf(`echo "start $2" >> %[1]s; sleep 0.05; echo "end $2" >> %[1]s`, log))
	r := New(f.config())
	const n = 5
	errs := make(chan error, n)
	for i := range n {
		go func() {
			res, err := r.Run(context.Background(), TakeIP, "eth0", fmt.Sprintf("10.0.0.%d", i+1), "24")
			if err == nil && res.Status != EventOK {
				err = fmt.Errorf("%s", summary(res))
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(f.read("log")), "\n")
	if len(lines) != 2*n {
		t.Fatalf("log has %d lines: %q", len(lines), lines)
	}
	for i := 0; i < len(lines); i += 2 {
		ip := strings.TrimPrefix(lines[i], "start ")
		if !strings.HasPrefix(lines[i], "start ") || lines[i+1] != "end "+ip {
			t.Fatalf("events overlapped: %q", lines)
		}
	}
}

func TestRecoveryGate(t *testing.T) {
	f := newFixture(t)
	f.script("10.a", "exit 0")
	inRecovery := true
	cfg := f.config()
	cfg.InRecovery = func() bool { return inRecovery }
	r := New(cfg)
	if _, err := r.Run(context.Background(), Monitor); !errors.Is(err, ErrInRecovery) {
		t.Errorf("monitor during recovery: %v", err)
	}
	if _, err := r.Run(context.Background(), TakeIP, "eth0", "10.0.0.1", "24"); !errors.Is(err, ErrInRecovery) {
		t.Errorf("takeip during recovery: %v", err)
	}
	for _, ev := range []Event{ReleaseIP, IPReallocated, StartRecovery} {
		var args []string
		if ev == ReleaseIP {
			args = []string{"eth0", "10.0.0.1", "24"}
		}
		if res, err := r.Run(context.Background(), ev, args...); err != nil || res.Status != EventOK {
			t.Errorf("%s during recovery: %v", ev, err)
		}
	}
	inRecovery = false
	if res, err := r.Run(context.Background(), Monitor); err != nil || res.Status != EventOK {
		t.Errorf("monitor after recovery: %v", err)
	}
}

func TestHookHonoursTimeout(t *testing.T) {
	f := newFixture(t)
	f.script("10.a", "exit 0")
	r := New(f.config())
	r.AddHook(Hook{Order: Last, Events: []Event{Startup}, Handler: HandlerFunc{HookName: "slow",
		Fn: func(ctx context.Context, inv Invocation) ScriptResult {
			<-ctx.Done()
			return ScriptResult{Status: StatusError, ExitCode: 1}
		}}})
	res, err := r.RunTimeout(context.Background(), 100*time.Millisecond, Startup)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(res); got != "TIMEDOUT: 10.a=OK slow=TIMEDOUT" {
		t.Errorf("got %s", got)
	}
}

func TestBinaryOutputSurvivesTheStore(t *testing.T) {
	f := newFixture(t)
	f.script("10.bin", `printf 'a\000b\377\376c\n'; exit 4`)
	r := New(f.config())
	res := run(t, r, Monitor)
	want := "a\x00b\uFFFDc\n" // a run of bad bytes becomes one U+FFFD
	if res.Scripts[0].Output != want {
		t.Errorf("output %q, want %q", res.Scripts[0].Output, want)
	}
	got, err := r.Store().Load(Monitor)
	if err != nil || got.Scripts[0].Output != want {
		t.Errorf("stored %q, %v", got.Scripts[0].Output, err)
	}
}

func TestFailedScriptOutputLoggedAtScriptLogLevel(t *testing.T) {
	f := newFixture(t)
	f.script("10.bad", "echo broken thing; exit 2")
	var buf strings.Builder
	lvl := slog.LevelInfo + 2 // NOTICE
	cfg := f.config()
	cfg.ScriptLogLevel = &lvl
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	run(t, New(cfg), Monitor)
	if !strings.Contains(buf.String(), `level=INFO+2 msg="event script failed" event=monitor script=10.bad script_status=ERROR exit_code=2 errno=0 output="broken thing"`) {
		t.Errorf("log:\n%s", buf.String())
	}
}

func TestConfigValidate(t *testing.T) {
	f := newFixture(t)
	if err := f.config().Validate(); err != nil {
		t.Errorf("fixture config: %v", err)
	}
	if d := DefaultConfig(); d.ScriptDir != "/etc/ctdb/events.d" || d.ResultDir != "/var/lib/ctdb/events/legacy" || d.Timeout != 30*time.Second {
		t.Errorf("defaults %+v", d)
	}
	bad := f.config()
	bad.ScriptDir = "relative/events.d"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "not an absolute path") {
		t.Errorf("relative dir: %v", err)
	}
	bad = f.config()
	bad.DebugScript = f.scriptIn(f.tmp, "debug.sh", "#!/bin/sh\n", 0o644)
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "not an executable file") {
		t.Errorf("non-executable debug script: %v", err)
	}
	bad.DebugScript = filepath.Join(f.tmp, "missing.sh")
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing debug script: %v", err)
	}
}

func TestNotifyHangingScriptIsBoundedAndUnknownKindsRefused(t *testing.T) {
	f := newFixture(t)
	ndir := filepath.Join(f.base, "events", "notification")
	f.scriptIn(ndir, "10.hang.script", fmt.Sprintf("#!/bin/sh\necho $$ > %s/hangpid\nexec sleep 60\n", f.tmp), 0o755)
	f.scriptIn(ndir, "20.after.script", fmt.Sprintf("#!/bin/sh\necho \"after $1\" >> %s/notes\n", f.tmp), 0o755)
	cfg := f.config()
	cfg.Timeout = 300 * time.Millisecond
	r := New(cfg)
	r.Notify(context.Background(), "bogus")
	if _, err := os.Stat(filepath.Join(f.tmp, "hangpid")); err == nil {
		t.Fatal("notification scripts ran for an unknown kind")
	}
	r.Notify(context.Background(), "healthy")
	waitDead(t, f.pids("hangpid"))
	if got := f.read("notes"); got != "after healthy\n" {
		t.Errorf("notes %q", got)
	}
}
