package tdbcore

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Lock layout (libtdb 1.4): 1-byte fcntl locks at fixed offsets, taken
// here as OFD locks so that two handles in one process exclude each other
// and closing an unrelated descriptor never drops them. OFD locks conflict
// with the classic POSIX locks libtdb takes, so C and Go processes
// exclude each other too.
//
// OFD locks belong to the open file description, so goroutines sharing one
// handle would not exclude each other through the kernel. An in-process
// table adds that exclusion: every lock is first taken in the table (which
// blocks goroutines of this handle) and the kernel lock is taken by the
// first holder and dropped by the last one. The table has three parts:
// chainTable (chain locks and the all-record lock, the hot path) is
// guarded by the handle mutex t.mu, so that an operation takes one mutex
// for its chain lock, its body and its unlock; the record locks of
// traversals are counted in t.travPos, also under t.mu (see lockRecord);
// lockTable (the open, active and transaction locks, and the chain locks
// between goroutines inside an all-record lock) has its own mutex, which
// may be taken while t.mu is held.

type lockEnt struct {
	readers int32
	writer  bool
	pending bool
}

func (e lockEnt) held() bool { return e.readers > 0 || e.writer || e.pending }

type lockTable struct {
	mu    sync.Mutex
	cond  sync.Cond
	fixed [3]lockEnt          // open, active and transaction locks (bytes 0, 4, 8)
	local map[uint32]*lockEnt // chain locks between goroutines inside an all-record lock
}

func (lt *lockTable) init() {
	lt.cond.L = &lt.mu
	lt.local = make(map[uint32]*lockEnt)
}

// chainChunk is how many chain entries of the chain table are allocated
// at a time: a slice indexed by chain is cheaper than a map, but hash
// sizes go up to 1<<26.
const chainChunk = 256

// chainTable is the in-process side of the chain locks and of the
// all-record lock. It is guarded by t.mu; cond waits on t.mu.
type chainTable struct {
	cond   sync.Cond
	chunks []*[chainChunk]lockEnt // by chain, allocated lazily
	all    lockEnt                // the all-record lock
	rd     int                    // chain entries held for read
	wr     int                    // chain entries held for write
}

// chainEnt returns the table entry of the chain lock at off. t.mu is held.
func (t *DB) chainEnt(off uint32) *lockEnt {
	b := (off - freelistTop) / 4
	ct := &t.chains
	c := b / chainChunk
	if c >= uint32(len(ct.chunks)) {
		ct.chunks = append(ct.chunks, make([]*[chainChunk]lockEnt, int(c)+1-len(ct.chunks))...)
	}
	if ct.chunks[c] == nil {
		ct.chunks[c] = new([chainChunk]lockEnt)
	}
	return &ct.chunks[c][b%chainChunk]
}

// lockChainMu takes the chain lock at off, in the chain table and in the
// kernel. t.mu is held; it is released while waiting for the lock (for
// other goroutines of this handle, for the all-record lock of this handle,
// or polling for another process), so the caller must check again what it
// read under t.mu before.
func (t *DB) lockChainMu(off uint32, write, wait bool) error {
	ct := &t.chains
	e := t.chainEnt(off)
	for {
		conflict := e.pending || e.writer || (write && e.readers > 0) ||
			ct.all.pending || ct.all.writer || (write && ct.all.readers > 0)
		if !conflict {
			if e.readers > 0 && !write {
				e.readers++
				ct.rd++
				return nil
			}
			break
		}
		if !wait {
			return fmt.Errorf("tdbcore: %s: lock at offset %d held by another goroutine: %w", t.path, off, ErrWouldBlock)
		}
		ct.cond.Wait()
	}
	// Fast path: the kernel lock is free (one non-blocking call).
	err := t.ofd(lockType(write), off, 1, false)
	if err != nil && wait && errors.Is(err, ErrWouldBlock) {
		// Slow path: poll without holding t.mu, so that other goroutines
		// can work and release locks meanwhile.
		e.pending = true
		t.mu.Unlock()
		err = t.ofd(lockType(write), off, 1, true)
		t.mu.Lock()
		e.pending = false
		ct.cond.Broadcast()
	}
	if err != nil {
		return err
	}
	if write {
		e.writer = true
		ct.wr++
	} else {
		e.readers = 1
		ct.rd++
	}
	return nil
}

// unlockChainMu releases a chain lock taken by lockChainMu. t.mu is held.
func (t *DB) unlockChainMu(off uint32, write bool) {
	ct := &t.chains
	e := t.chainEnt(off)
	if !e.held() {
		return
	}
	if write {
		e.writer = false
		ct.wr--
	} else {
		e.readers--
		ct.rd--
	}
	if e.readers == 0 && !e.writer {
		_ = t.ofd(unix.F_UNLCK, off, 1, false)
		ct.cond.Broadcast()
	}
}

// lockLocal excludes goroutines of this handle from each other on chain
// off while the handle holds the all-record lock (no kernel lock needed).
func (t *DB) lockLocal(off uint32, write, wait bool) error {
	lt := &t.locks
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for {
		e := lt.local[off]
		if e == nil {
			e = &lockEnt{}
			lt.local[off] = e
		}
		if !e.writer && !(write && e.readers > 0) {
			if write {
				e.writer = true
			} else {
				e.readers++
			}
			return nil
		}
		if !wait {
			return fmt.Errorf("tdbcore: %s: chain lock at offset %d held by another goroutine: %w", t.path, off, ErrWouldBlock)
		}
		lt.cond.Wait()
	}
}

func (t *DB) unlockLocal(off uint32, write bool) {
	lt := &t.locks
	lt.mu.Lock()
	defer lt.mu.Unlock()
	e := lt.local[off]
	if e == nil {
		return
	}
	if write {
		e.writer = false
	} else {
		e.readers--
	}
	if !e.writer && e.readers == 0 {
		delete(lt.local, off)
	}
	lt.cond.Broadcast()
}

// ofd takes, converts or releases a kernel OFD lock on [start, start+n)
// (n == 0: to end of file).
func (t *DB) ofd(typ int16, start, n uint32, wait bool) error {
	if t.flags&NoLock != 0 {
		return nil
	}
	// Waiting is done by polling F_OFD_SETLK, never by sleeping in
	// F_OFD_SETLKW: the kernel's deadlock detector treats every goroutine
	// of a handle as one lock owner, so a goroutine sleeping in the kernel
	// while another goroutine of the handle holds a lock would make C
	// processes' blocking fcntl calls fail with a spurious EDEADLK.
	fl := unix.Flock_t{Type: typ, Whence: 0, Start: int64(start), Len: int64(n)}
	backoff := 5 * time.Microsecond
	for {
		err := setlk(t.fd, &fl)
		if err == unix.EINTR {
			continue
		}
		if (err == unix.EAGAIN || err == unix.EACCES) && wait {
			time.Sleep(backoff)
			backoff = min(backoff*2, 2*time.Millisecond)
			continue
		}
		if err == unix.EAGAIN || err == unix.EACCES {
			return fmt.Errorf("tdbcore: %s: lock at offset %d: %w", t.path, start, ErrWouldBlock)
		}
		if err != nil {
			return fmt.Errorf("tdbcore: %s: fcntl lock at offset %d len %d: %w", t.path, start, n, err)
		}
		return nil
	}
}

func lockType(write bool) int16 {
	if write {
		return unix.F_WRLCK
	}
	return unix.F_RDLCK
}

// lockByte takes the 1-byte lock at off: the open, active or transaction
// lock (chain locks go through lockChainMu, record locks lockRecord).
func (t *DB) lockByte(off uint32, write, wait bool) error {
	lt := &t.locks
	lt.mu.Lock()
	defer lt.mu.Unlock()
	e := &lt.fixed[off/4]
	for {
		if !(e.pending || e.writer || (write && e.readers > 0)) {
			if e.readers > 0 && !write {
				e.readers++
				return nil
			}
			break
		}
		if !wait {
			return fmt.Errorf("tdbcore: %s: lock at offset %d held by another goroutine: %w", t.path, off, ErrWouldBlock)
		}
		lt.cond.Wait()
	}
	// Fast path: the kernel lock is free (one non-blocking call).
	err := t.ofd(lockType(write), off, 1, false)
	if err != nil && wait && errors.Is(err, ErrWouldBlock) {
		// Slow path: poll without holding the table, so that other
		// goroutines can release locks meanwhile.
		e.pending = true
		lt.mu.Unlock()
		err = t.ofd(lockType(write), off, 1, true)
		lt.mu.Lock()
		e.pending = false
		lt.cond.Broadcast()
	}
	if err != nil {
		return err
	}
	if write {
		e.writer = true
	} else {
		e.readers = 1
	}
	return nil
}

func (t *DB) unlockByte(off uint32, write bool) {
	lt := &t.locks
	lt.mu.Lock()
	defer lt.mu.Unlock()
	e := &lt.fixed[off/4]
	if !e.held() {
		return
	}
	if write {
		e.writer = false
	} else {
		e.readers--
	}
	if e.readers == 0 && !e.writer {
		_ = t.ofd(unix.F_UNLCK, off, 1, false)
		lt.cond.Broadcast()
	}
}

// lockAll takes the all-record lock: the chain-lock range, gradually as
// libtdb does, then the record region to end of file. In-process it is
// exclusive against every chain lock of this handle. t.mu is not held.
func (t *DB) lockAll(write, wait bool) error {
	ct := &t.chains
	t.mu.Lock()
	for ct.all.pending || ct.all.writer || ct.all.readers > 0 || ct.rd > 0 || ct.wr > 0 {
		if !wait {
			t.mu.Unlock()
			return fmt.Errorf("tdbcore: %s: all-record lock held by another goroutine: %w", t.path, ErrWouldBlock)
		}
		ct.cond.Wait()
	}
	ct.all.pending = true
	t.mu.Unlock()
	typ := lockType(write)
	err := t.ofdGradual(typ, freelistTop, 4*t.hashSize, wait)
	if err == nil {
		err = t.ofd(typ, chainLockOff(t.hashSize), 0, wait)
		if err != nil {
			_ = t.ofd(unix.F_UNLCK, freelistTop, 4*t.hashSize, false)
		}
	}
	t.mu.Lock()
	ct.all.pending = false
	if err == nil {
		ct.all.writer = true // exclusive in-process whatever the kernel type
	}
	ct.cond.Broadcast()
	t.mu.Unlock()
	return err
}

func (t *DB) ofdGradual(typ int16, off, n uint32, wait bool) error {
	if n <= 4 {
		return t.ofd(typ, off, n, wait)
	}
	if t.ofd(typ, off, n, false) == nil {
		return nil
	}
	if err := t.ofdGradual(typ, off, n/2, wait); err != nil {
		return err
	}
	if err := t.ofdGradual(typ, off+n/2, n-n/2, wait); err != nil {
		_ = t.ofd(unix.F_UNLCK, off, n/2, false)
		return err
	}
	return nil
}

// upgradeAll turns a held read all-record lock into a write lock.
func (t *DB) upgradeAll() error {
	return t.ofd(unix.F_WRLCK, freelistTop, 0, true)
}

// unlockAll releases lockAll. t.mu is not held.
func (t *DB) unlockAll() {
	_ = t.ofd(unix.F_UNLCK, freelistTop, 0, false)
	t.mu.Lock()
	t.chains.all.writer = false
	t.chains.cond.Broadcast()
	t.mu.Unlock()
}

// setlk is fcntl(fd, F_OFD_SETLK, fl). The call never sleeps (waiting is
// done by polling in ofd), so it is made as a raw system call, without
// the scheduler hand-off of a blocking one.
func setlk(fd int, fl *unix.Flock_t) error {
	_, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), uintptr(unix.F_OFD_SETLK), uintptr(unsafe.Pointer(fl)))
	if e != 0 {
		return e
	}
	return nil
}
