package tdbcore

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockProbe is a python process that tests byte ranges of a file with
// classic POSIX locks (what libtdb uses), answering "free" or "busy".
type lockProbe struct {
	cmd *exec.Cmd
	in  *bufio.Writer
	out *bufio.Reader
}

const pyProbe = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for line in sys.stdin:
    kind, start, length = line.split()
    op = fcntl.LOCK_EX if kind == "w" else fcntl.LOCK_SH
    try:
        fcntl.lockf(fd, op | fcntl.LOCK_NB, int(length), int(start), 0)
        fcntl.lockf(fd, fcntl.LOCK_UN, int(length), int(start), 0)
        print("free", flush=True)
    except OSError:
        print("busy", flush=True)
`

func newProbe(t *testing.T, path string) *lockProbe {
	py := pythonTDB(t)
	cmd := exec.Command(py, "-c", pyProbe, path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	return &lockProbe{cmd, bufio.NewWriter(stdin), bufio.NewReader(stdout)}
}

// free reports whether a POSIX lock of kind ("r" or "w") on [start,
// start+n) could be taken by another process right now.
func (p *lockProbe) free(t *testing.T, kind string, start, n uint32) bool {
	t.Helper()
	fmt.Fprintf(p.in, "%s %d %d\n", kind, start, n)
	p.in.Flush()
	line, err := p.out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line) == "free"
}

// TestLockOffsets checks, from another process using classic fcntl locks
// as libtdb does, that every lock tdbcore takes is on libtdb's byte and of
// libtdb's kind.
func TestLockOffsets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locks.tdb")
	db, err := Open(path, &Options{HashSize: 10, Flags: ClearIfFirst})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := newProbe(t, path)
	key := []byte("some key")
	b := db.Hash(key) % 10
	chain := chainLockOff(b)
	ds := dataStart(10)

	// CLEAR_IF_FIRST users hold a read lock on the active byte (4).
	if !p.free(t, "r", activeLockOff, 1) || p.free(t, "w", activeLockOff, 1) {
		t.Fatal("active lock (byte 4) not read-locked")
	}
	if !p.free(t, "w", chain, 1) {
		t.Fatal("chain locked at rest")
	}
	c, err := db.ChainLock(key)
	if err != nil {
		t.Fatal(err)
	}
	if p.free(t, "r", chain, 1) || !p.free(t, "w", chain+4, 1) || !p.free(t, "w", chain-4, 1) {
		t.Fatalf("chain lock not exactly on byte %d", chain)
	}
	c.Unlock()
	c, _ = db.ChainLockRead(key)
	if !p.free(t, "r", chain, 1) || p.free(t, "w", chain, 1) {
		t.Fatal("read chain lock is not a read lock")
	}
	c.Unlock()

	if err := db.LockAll(); err != nil {
		t.Fatal(err)
	}
	for _, off := range []uint32{freelistTop, chainLockOff(9), ds - 4, ds + 1000, 1 << 20} {
		if p.free(t, "r", off, 1) {
			t.Fatalf("all-record lock does not cover %d", off)
		}
	}
	if !p.free(t, "w", freelistLockOff, 1) || !p.free(t, "w", transactionLockOff, 1) {
		t.Fatal("all-record lock covers the free-list or transaction lock")
	}
	db.UnlockAll()

	if err := db.TransactionStart(); err != nil {
		t.Fatal(err)
	}
	if p.free(t, "r", transactionLockOff, 1) {
		t.Fatal("transaction lock (byte 8) not write-locked")
	}
	if !p.free(t, "r", chain, 1) || p.free(t, "w", chain, 1) || p.free(t, "w", ds+100, 1) {
		t.Fatal("transaction does not hold the all-record read lock")
	}
	db.Store(key, []byte("v"), Replace)
	db.TransactionCancel()
	if !p.free(t, "w", transactionLockOff, 1) || !p.free(t, "w", freelistTop, 0) {
		t.Fatal("locks left after the transaction")
	}
}

func TestNonblockingLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nb.tdb")
	a, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := []byte("k")
	c, err := a.ChainLock(key)
	if err != nil {
		t.Fatal(err)
	}
	// Another goroutine of the same handle and another handle both see it.
	if _, err := a.ChainLockNonblock(key); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("same handle: %v", err)
	}
	if _, err := b.ChainLockNonblock(key); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("other handle: %v", err)
	}
	if err := b.LockAllNonblock(); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("lockall: %v", err)
	}
	// A blocking store from the other handle waits for the unlock.
	var wg sync.WaitGroup
	var order []string
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := b.Store(key, []byte("from b"), Replace); err != nil {
			t.Error(err)
		}
		mu.Lock()
		order = append(order, "b stored")
		mu.Unlock()
	}()
	time.Sleep(50 * time.Millisecond)
	c.Store(key, []byte("from a"), Replace)
	mu.Lock()
	order = append(order, "a unlocking")
	mu.Unlock()
	c.Unlock()
	wg.Wait()
	if len(order) != 2 || order[0] != "a unlocking" {
		t.Fatalf("store did not wait for the chain lock: %v", order)
	}
	if v, _ := a.Fetch(key); string(v) != "from b" {
		t.Fatalf("value %q", v)
	}
	if err := a.TransactionStart(); err != nil {
		t.Fatal(err)
	}
	if err := b.TransactionStartNonblock(); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("second transaction: %v", err)
	}
	a.TransactionCancel()
}
