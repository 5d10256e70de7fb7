package clusterlock

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as ctdb_mutex_fcntl_helper when this variable is set, so the
// helper runs as a real separate process.
const asHelperEnv = "CLUSTERLOCK_TEST_AS_FCNTL_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(asHelperEnv) == "1" {
		os.Exit(FcntlHelperMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func helperLock(t *testing.T, args ...string) *HelperLock {
	t.Helper()
	t.Setenv(asHelperEnv, "1")
	return &HelperLock{Spec: Spec{Argv: append([]string{os.Args[0]}, args...)}, Grace: 2 * time.Second}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestParseSpec(t *testing.T) {
	s, err := ParseSpec("/clusterfs/.reclock", "/usr/libexec/ctdb/ctdb_mutex_fcntl_helper")
	if err != nil || strings.Join(s.Argv, " ") != "/usr/libexec/ctdb/ctdb_mutex_fcntl_helper /clusterfs/.reclock" || s.File != "/clusterfs/.reclock" {
		t.Errorf("path: %+v %v", s, err)
	}
	s, err = ParseSpec("!/usr/bin/ctdb_etcd_lock  -v  lockname", "h")
	if err != nil || strings.Join(s.Argv, "|") != "/usr/bin/ctdb_etcd_lock|-v|lockname" || s.File != "" {
		t.Errorf("helper: %+v %v", s, err)
	}
	for _, bad := range []string{"", "!", "! ", "relative/lock"} {
		if _, err := ParseSpec(bad, "h"); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		}
	}
}

// TestHelperExclusion: one helper holds the lock, a second is told '1' (contention) until
// the first releases.
func TestHelperExclusion(t *testing.T) {
	file := filepath.Join(t.TempDir(), "reclock")
	a := helperLock(t, file)
	held, err := a.Acquire(ctx(t))
	if err != nil {
		t.Fatalf("first acquire: %v", err)
	}
	b := helperLock(t, file)
	if _, err := b.Acquire(ctx(t)); !errors.Is(err, ErrContended) {
		t.Fatalf("second acquire while held: %v, want ErrContended", err)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held.Lost():
		t.Fatal("Release reported as a lost lock")
	default:
	}
	held2, err := b.Acquire(ctx(t))
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	held2.Release()
	held2.Release() // twice is fine
}

// TestHelperLostWhenFileReplaced: replacing the lock file means another node could lock
// the new one: the holder must report the lock lost.
func TestHelperLostWhenFileReplaced(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "reclock")
	held, err := helperLock(t, file, "1").Acquire(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	if err := os.WriteFile(file+".new", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".new", file); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held.Lost():
	case <-time.After(15 * time.Second):
		t.Fatal("replaced lock file not noticed")
	}
	if err := held.Err(); err == nil || !strings.Contains(err.Error(), "was replaced") {
		t.Errorf("lost error %v does not say the file was replaced", err)
	}
}

// TestHelperExitsWhenStdinCloses: the daemon's end of the stdin pipe closing (the
// daemon died) frees the lock at once, without a recheck (interval 0 = never).
func TestHelperExitsWhenStdinCloses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "reclock")
	held, err := helperLock(t, file, "0").Acquire(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	h := held.(*helperHeld)
	h.stdin.Close()
	select {
	case <-held.Lost():
	case <-time.After(15 * time.Second):
		t.Fatal("helper kept the lock after its stdin closed")
	}
	if _, err := helperLock(t, file).Acquire(ctx(t)); err != nil {
		t.Errorf("lock not free after the helper exited: %v", err)
	}
}

// TestHelperExitsWhenParentDies: kill -9 of the helper's parent frees the lock even with
// rechecks off and stdin not a pipe (the pidfd path).
func TestHelperExitsWhenParentDies(t *testing.T) {
	file := filepath.Join(t.TempDir(), "reclock")
	t.Setenv(asHelperEnv, "1")
	// sh starts the helper in the background (stdin /dev/null) and waits: sh is the
	// helper's parent.
	sh := exec.Command("/bin/sh", "-c", `"$0" "$1" 0 & echo "$!"; wait`, os.Args[0], file)
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	helperPid, _ := strconv.Atoi(strings.TrimSpace(line))
	t.Cleanup(func() {
		syscall.Kill(helperPid, syscall.SIGKILL)
		syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)
		sh.Wait()
	})
	if b, err := r.ReadByte(); err != nil || b != '0' {
		t.Fatalf("helper answered %q %v, want '0'", b, err)
	}
	if _, err := helperLock(t, file).Acquire(ctx(t)); !errors.Is(err, ErrContended) {
		t.Fatalf("lock not held by the background helper: %v", err)
	}
	syscall.Kill(sh.Process.Pid, syscall.SIGKILL)
	sh.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		held, err := helperLock(t, file).Acquire(ctx(t))
		if err == nil {
			held.Release()
			break
		}
		if !errors.Is(err, ErrContended) || time.Now().After(deadline) {
			t.Fatalf("lock not freed after the helper's parent died: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHelperErrors(t *testing.T) {
	if _, err := helperLock(t, "/nonexistent-dir/reclock").Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), "reported an error: ctdb_mutex_fcntl_helper: cannot open lock file") {
		t.Errorf("unopenable file: %v", err)
	}
	if _, err := helperLock(t).Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no arguments: %v", err)
	}
	if _, err := helperLock(t, "/tmp/x", "abc").Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), "RECHECK-INTERVAL") {
		t.Errorf("bad interval: %v", err)
	}
	silent := &HelperLock{Spec: Spec{Argv: []string{"/bin/true"}}}
	if _, err := silent.Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), "exited without an answer") {
		t.Errorf("helper without answer: %v", err)
	}
	garbage := &HelperLock{Spec: Spec{Argv: []string{"/bin/echo", "x"}}}
	if _, err := garbage.Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), `answered 'x'`) {
		t.Errorf("garbage answer: %v", err)
	}
	timeout := &HelperLock{Spec: Spec{Argv: []string{"/bin/sh", "-c", "printf 2"}}}
	if _, err := timeout.Acquire(ctx(t)); !errors.Is(err, ErrTimeout) {
		t.Errorf("answer 2: %v, want ErrTimeout", err)
	}
	missing := &HelperLock{Spec: Spec{Argv: []string{"/nonexistent/helper"}}}
	if _, err := missing.Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), "cannot run lock helper /nonexistent/helper") {
		t.Errorf("missing helper: %v", err)
	}
	hang := &HelperLock{Spec: Spec{Argv: []string{"/bin/sleep", "60"}}, Grace: time.Second}
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := hang.Acquire(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging helper: %v", err)
	}
}

// TestInteropWithCTDBHelper: our helper and CTDB 4.17's exclude each other on one file.
func TestInteropWithCTDBHelper(t *testing.T) {
	real := "/usr/libexec/ctdb/ctdb_mutex_fcntl_helper"
	if _, err := os.Stat(real); err != nil {
		t.Skip("CTDB's ctdb_mutex_fcntl_helper is not installed (Debian package ctdb)")
	}
	file := filepath.Join(t.TempDir(), "reclock")
	realLock := &HelperLock{Spec: Spec{Argv: []string{real, file}}, Grace: 2 * time.Second}
	held, err := realLock.Acquire(ctx(t))
	if err != nil {
		t.Fatalf("CTDB's helper: %v", err)
	}
	if _, err := helperLock(t, file).Acquire(ctx(t)); !errors.Is(err, ErrContended) {
		t.Errorf("ours while CTDB's holds: %v, want ErrContended", err)
	}
	held.Release()
	ours, err := helperLock(t, file).Acquire(ctx(t))
	if err != nil {
		t.Fatalf("ours after CTDB's released: %v", err)
	}
	defer ours.Release()
	if _, err := realLock.Acquire(ctx(t)); !errors.Is(err, ErrContended) {
		t.Errorf("CTDB's while ours holds: %v, want ErrContended", err)
	}
}

func TestFake(t *testing.T) {
	f := NewFake()
	a, b := f.For("node0"), f.For("node1")
	ha, err := a.Acquire(ctx(t))
	if err != nil || f.Holder() != "node0" {
		t.Fatalf("acquire: %v holder %q", err, f.Holder())
	}
	if _, err := b.Acquire(ctx(t)); !errors.Is(err, ErrContended) {
		t.Fatalf("contended: %v", err)
	}
	f.Break(errors.New("lock file replaced"))
	select {
	case <-ha.Lost():
	default:
		t.Fatal("Break did not signal Lost")
	}
	if ha.Err() == nil || f.Holder() != "" {
		t.Errorf("after Break: err %v holder %q", ha.Err(), f.Holder())
	}
	hb, err := b.Acquire(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	hb.Release()
	select {
	case <-hb.Lost():
		t.Error("Release reported as lost")
	default:
	}
	f.SetError(errors.New("cluster file system unreachable"))
	if _, err := a.Acquire(ctx(t)); err == nil || errors.Is(err, ErrContended) {
		t.Errorf("SetError: %v", err)
	}
}
