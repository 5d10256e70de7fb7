package eventcmd

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/runner"
	"github.com/ctdb-go/ctdb/sysconfig"
)

func TestRunnerConfigFromSysconfig(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "etc")
	if err := os.MkdirAll(filepath.Join(base, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "nodes"), []byte("10.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sys := filepath.Join(dir, "sysconfig")
	body := "CTDB_EVENT_SCRIPT_DIR=" + filepath.Join(base, "scripts") + "\n" +
		"CTDB_VARDIR=" + filepath.Join(dir, "var") + "\n" +
		"CTDB_SET_EventScriptTimeout=7\n" +
		"CTDB_SET_MonitorTimeoutCount=3\n" +
		"CTDB_NOTIFY_SCRIPT=/etc/ctdb/notify.sh\n" +
		"CTDB_DEBUG_HUNG_SCRIPT=/etc/ctdb/debug-hung-script.sh\n" +
		"CTDB_SCRIPT_LOG_LEVEL=NOTICE\n"
	if err := os.WriteFile(sys, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := sysconfig.Load(sysconfig.Options{Base: base, SysconfigFile: sys,
		LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	rc := RunnerConfig(cfg, func(string) string { return "" })
	want := runner.Config{
		Base:                base,
		ScriptDir:           filepath.Join(base, "scripts"),
		VarDir:              filepath.Join(dir, "var"),
		Timeout:             7 * time.Second,
		MonitorTimeoutCount: 3,
		NotifyPath:          "/etc/ctdb/notify.sh",
		DebugScript:         "/etc/ctdb/debug-hung-script.sh",
		SysconfigFile:       sys,
	}
	if rc.Base != want.Base || rc.ScriptDir != want.ScriptDir || rc.VarDir != want.VarDir ||
		rc.Timeout != want.Timeout || rc.MonitorTimeoutCount != want.MonitorTimeoutCount ||
		rc.NotifyPath != want.NotifyPath || rc.DebugScript != want.DebugScript || rc.SysconfigFile != want.SysconfigFile {
		t.Errorf("RunnerConfig =\n%+v\nwant\n%+v", rc, want)
	}
	if rc.ScriptLogLevel == nil || *rc.ScriptLogLevel != sysconfig.LevelNotice {
		t.Errorf("script log level %v", rc.ScriptLogLevel)
	}
	d := rc.WithDefaults()
	if d.ResultDir != filepath.Join(dir, "var", "events", "legacy") || d.ModernDir != filepath.Join(base, "events", "legacy") {
		t.Errorf("defaults: result dir %s, modern dir %s", d.ResultDir, d.ModernDir)
	}

	// The whole configuration does not load (no nodes file): the
	// sysconfig file's event settings still count.
	if err := os.Remove(filepath.Join(base, "nodes")); err != nil {
		t.Fatal(err)
	}
	env0 := map[string]string{"CTDB_BASE": base, "CTDB_SYSCONFIG": sys}
	rc = LoadConfig(func(k string) string { return env0[k] }, slog.New(slog.DiscardHandler))
	if rc.VarDir != filepath.Join(dir, "var") || rc.ScriptDir != filepath.Join(base, "scripts") ||
		rc.Timeout != 7*time.Second || rc.NotifyPath != "/etc/ctdb/notify.sh" || rc.SysconfigFile != sys ||
		rc.DebugScript != "/etc/ctdb/debug-hung-script.sh" || rc.ScriptLogLevel == nil || *rc.ScriptLogLevel != sysconfig.LevelNotice {
		t.Errorf("fallback from the sysconfig file alone: %+v", rc)
	}

	// No usable configuration: CTDB_BASE from the environment, defaults
	// otherwise; CTDB's test mode keeps everything under CTDB_BASE.
	env := map[string]string{"CTDB_BASE": base, "CTDB_TEST_MODE": "yes"}
	rc = RunnerConfig(nil, func(k string) string { return env[k] })
	if rc.Base != base || rc.VarDir != filepath.Join(base, "var") || rc.DataDir != filepath.Join(base, "share", "events", "legacy") {
		t.Errorf("fallback: %+v", rc)
	}
}
