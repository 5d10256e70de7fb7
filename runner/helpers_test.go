package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture is a CTDB_BASE in a temporary directory.
type fixture struct {
	t      testing.TB
	base   string
	dir    string // events.d
	modern string // events/legacy
	data   string // stock dir
	vardir string
	tmp    string // scratch for scripts to write to
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{
		t:      t,
		base:   filepath.Join(root, "etc"),
		vardir: filepath.Join(root, "var"),
		data:   filepath.Join(root, "share", "events", "legacy"),
		tmp:    filepath.Join(root, "tmp"),
	}
	f.dir = filepath.Join(f.base, "events.d")
	f.modern = filepath.Join(f.base, "events", "legacy")
	for _, d := range []string{f.dir, f.vardir, f.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) config() Config {
	return Config{
		Base:        f.base,
		ScriptDir:   f.dir,
		ModernDir:   f.modern,
		DataDir:     f.data,
		VarDir:      f.vardir,
		KillGrace:   300 * time.Millisecond,
		OutputDrain: 50 * time.Millisecond,
		Timeout:     60 * time.Second,
	}
}

// script writes an executable (mode 0755) or other script into dir.
func (f *fixture) scriptIn(dir, name, body string, mode os.FileMode) string {
	f.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) script(name, body string) string {
	return f.scriptIn(f.dir, name, "#!/bin/sh\n"+body+"\n", 0o755)
}

func (f *fixture) read(name string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.tmp, name))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

// waitFile waits until the scratch file name exists and is non-empty.
func (f *fixture) waitFile(name string) string {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(f.tmp, name)); err == nil && len(b) > 0 && bytes.HasSuffix(b, []byte("\n")) {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("file %s never appeared", name)
	return ""
}

// pids parses a scratch file of PIDs and registers their cleanup.
func (f *fixture) pids(name string) []int {
	f.t.Helper()
	var out []int
	for _, w := range strings.Fields(f.waitFile(name)) {
		n, err := strconv.Atoi(w)
		if err != nil {
			f.t.Fatalf("bad pid %q in %s", w, name)
		}
		out = append(out, n)
		pid := n
		f.t.Cleanup(func() {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
	return out
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// waitDead waits (bounded) for every pid to be gone.
func waitDead(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		any := false
		for _, p := range pids {
			if alive(p) {
				any = true
			}
		}
		if !any {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("process %d survived", p)
		}
	}
}

func run(t *testing.T, r *Runner, ev Event, args ...string) *Result {
	t.Helper()
	res, err := r.Run(context.Background(), ev, args...)
	if err != nil {
		t.Fatalf("Run(%s): %v", ev, err)
	}
	return res
}

// summary renders a result as "name=STATUS ..." for compact assertions.
func summary(res *Result) string {
	var parts []string
	for _, s := range res.Scripts {
		parts = append(parts, s.Name+"="+s.Status.String())
	}
	return res.Status.String() + ": " + strings.Join(parts, " ")
}
