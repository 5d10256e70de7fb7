package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/clusterlock"
)

var helperBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ctdb_etcd_lock-test")
	if err != nil {
		panic(err)
	}
	helperBin = filepath.Join(dir, "ctdb_etcd_lock")
	if out, err := exec.Command("go", "build", "-o", helperBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ctdb_etcd_lock: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// etcdServer is a real etcd (Debian's etcd-server) on loopback, for one test.
type etcdServer struct {
	cmd      *exec.Cmd
	endpoint string
}

func startEtcd(t *testing.T) *etcdServer {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (Debian package etcd-server)")
	}
	dir := t.TempDir()
	client, peer := freePort(t), freePort(t)
	cu := fmt.Sprintf("http://127.0.0.1:%d", client)
	pu := fmt.Sprintf("http://127.0.0.1:%d", peer)
	cmd := exec.Command(bin, "--name", "test", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", "test="+pu, "--log-level", "error")
	log, _ := os.Create(filepath.Join(dir, "etcd.log"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &etcdServer{cmd: cmd, endpoint: cu}
	t.Cleanup(s.kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", client))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "etcd.log"))
			t.Fatalf("etcd did not start: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *etcdServer) kill() {
	if s.cmd.ProcessState == nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.cmd.Wait()
	}
}

func writeConfig(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "etcd")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func lock(cfg, name string) *clusterlock.HelperLock {
	return &clusterlock.HelperLock{Spec: clusterlock.Spec{Argv: []string{helperBin, "-c", cfg, name}}, Grace: 5 * time.Second}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestExclusion: one holder at a time; Release frees the lock for the next at once.
func TestExclusion(t *testing.T) {
	e := startEtcd(t)
	cfg := writeConfig(t, "endpoints = "+e.endpoint, "lock_ttl = 5")
	a, err := lock(cfg, "cluster1").Acquire(ctx(t))
	if err != nil {
		t.Fatalf("first acquire: %v", err)
	}
	if _, err := lock(cfg, "cluster1").Acquire(ctx(t)); !errors.Is(err, clusterlock.ErrContended) {
		t.Fatalf("second acquire: %v, want ErrContended", err)
	}
	// Another cluster's lock is independent.
	other, err := lock(cfg, "cluster2").Acquire(ctx(t))
	if err != nil {
		t.Fatalf("other cluster's lock: %v", err)
	}
	other.Release()
	a.Release()
	b, err := lock(cfg, "cluster1").Acquire(ctx(t))
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	b.Release()
}

// TestParentDeath: when the daemon dies, its helper revokes the lease at once, so the
// next leader does not wait for the TTL (60 s here).
func TestParentDeath(t *testing.T) {
	e := startEtcd(t)
	cfg := writeConfig(t, "endpoints = "+e.endpoint, "lock_ttl = 60")
	sh := exec.Command("/bin/sh", "-c", `"$0" -c "$1" c & echo "$!"; wait`, helperBin, cfg)
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := sh.StdoutPipe()
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	line, _ := r.ReadString('\n')
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)
		sh.Wait()
	})
	if b, err := r.ReadByte(); err != nil || b != '0' {
		t.Fatalf("helper answered %q %v", b, err)
	}
	syscall.Kill(sh.Process.Pid, syscall.SIGKILL)
	sh.Wait()
	deadline := time.Now().Add(30 * time.Second) // well below the 60 s TTL
	for {
		h, err := lock(cfg, "c").Acquire(ctx(t))
		if err == nil {
			h.Release()
			return
		}
		if !errors.Is(err, clusterlock.ErrContended) || time.Now().After(deadline) {
			t.Fatalf("lock not released after the parent died: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLostWhenEtcdDies: a holder that cannot renew its lease reports the lock lost.
func TestLostWhenEtcdDies(t *testing.T) {
	e := startEtcd(t)
	cfg := writeConfig(t, "endpoints = "+e.endpoint, "lock_ttl = 2", "dial_timeout = 1")
	h, err := lock(cfg, "c").Acquire(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	e.kill()
	select {
	case <-h.Lost():
	case <-time.After(45 * time.Second):
		t.Fatal("lock not reported lost after etcd died")
	}
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), "lock lost") {
		t.Errorf("lost error %v", err)
	}
}

func TestErrors(t *testing.T) {
	port := freePort(t) // nothing listens there
	cfg := writeConfig(t, fmt.Sprintf("endpoints = http://127.0.0.1:%d", port), "dial_timeout = 1")
	if _, err := lock(cfg, "c").Acquire(ctx(t)); !errors.Is(err, clusterlock.ErrTimeout) {
		t.Errorf("unreachable etcd: %v, want ErrTimeout ('2')", err)
	}
	bad := writeConfig(t, "lock_ttl = soon")
	if _, err := lock(bad, "c").Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), "lock_ttl must be a whole number") {
		t.Errorf("bad config: %v", err)
	}
	unknown := writeConfig(t, "colour = blue")
	if _, err := lock(unknown, "c").Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), `unknown setting "colour"`) {
		t.Errorf("unknown setting: %v", err)
	}
	if _, err := lock(filepath.Join(t.TempDir(), "missing"), "c").Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing explicit config: %v", err)
	}
	if _, err := lock(cfg, "a/b").Acquire(ctx(t)); err == nil || !strings.Contains(err.Error(), "without /") {
		t.Errorf("bad name: %v", err)
	}
}
