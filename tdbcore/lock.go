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
// handle would not exclude each other through the kernel. lockTable adds
// that in-process exclusion: every lock is first taken in the table (which
// blocks goroutines of this handle) and the kernel lock is taken by the
// first holder and dropped by the last one.

type lockEnt struct {
	readers int
	writer  bool
	pending bool
}

type lockTable struct {
	mu      sync.Mutex
	cond    sync.Cond
	ents    map[uint32]lockEnt
	local   map[uint32]*lockEnt // chain locks between goroutines inside an all-record lock
	all     lockEnt             // the all-record lock
	chainRd int                 // chain/record entries held for read
	chainWr int                 // chain/record entries held for write
}

func (lt *lockTable) init() {
	lt.cond.L = &lt.mu
	lt.ents = make(map[uint32]lockEnt)
	lt.local = make(map[uint32]*lockEnt)
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

// lockByte takes the 1-byte lock at off. counted marks chain and record
// locks, which conflict with the all-record lock.
func (t *DB) lockByte(off uint32, write, wait, counted bool) error {
	lt := &t.locks
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for {
		e, held := lt.ents[off]
		conflict := held && (e.pending || e.writer || (write && e.readers > 0))
		if counted && (lt.all.pending || lt.all.writer || (write && lt.all.readers > 0)) {
			conflict = true
		}
		if !conflict {
			if held && e.readers > 0 && !write {
				e.readers++
				lt.ents[off] = e
				lt.chainRd += b2i(counted)
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
		lt.ents[off] = lockEnt{pending: true}
		lt.mu.Unlock()
		err = t.ofd(lockType(write), off, 1, true)
		lt.mu.Lock()
		delete(lt.ents, off)
		lt.cond.Broadcast()
	}
	if err != nil {
		return err
	}
	if write {
		lt.ents[off] = lockEnt{writer: true}
		lt.chainWr += b2i(counted)
	} else {
		lt.ents[off] = lockEnt{readers: 1}
		lt.chainRd += b2i(counted)
	}
	return nil
}

func (t *DB) unlockByte(off uint32, write, counted bool) {
	lt := &t.locks
	lt.mu.Lock()
	defer lt.mu.Unlock()
	e, ok := lt.ents[off]
	if !ok {
		return
	}
	if write {
		e.writer = false
		lt.chainWr -= b2i(counted)
	} else {
		e.readers--
		lt.chainRd -= b2i(counted)
	}
	if e.readers == 0 && !e.writer {
		delete(lt.ents, off)
		_ = t.ofd(unix.F_UNLCK, off, 1, false)
		lt.cond.Broadcast()
		return
	}
	lt.ents[off] = e
}

// lockAll takes the all-record lock: the chain-lock range, gradually as
// libtdb does, then the record region to end of file. In-process it is
// exclusive against every chain and record lock of this handle.
func (t *DB) lockAll(write, wait bool) error {
	lt := &t.locks
	lt.mu.Lock()
	for lt.all.pending || lt.all.writer || lt.all.readers > 0 || lt.chainRd > 0 || lt.chainWr > 0 {
		if !wait {
			lt.mu.Unlock()
			return fmt.Errorf("tdbcore: %s: all-record lock held by another goroutine: %w", t.path, ErrWouldBlock)
		}
		lt.cond.Wait()
	}
	lt.all.pending = true
	lt.mu.Unlock()
	typ := lockType(write)
	err := t.ofdGradual(typ, freelistTop, 4*t.hashSize, wait)
	if err == nil {
		err = t.ofd(typ, chainLockOff(t.hashSize), 0, wait)
		if err != nil {
			_ = t.ofd(unix.F_UNLCK, freelistTop, 4*t.hashSize, false)
		}
	}
	lt.mu.Lock()
	lt.all.pending = false
	if err == nil {
		lt.all.writer = true // exclusive in-process whatever the kernel type
	}
	lt.cond.Broadcast()
	lt.mu.Unlock()
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

func (t *DB) unlockAll() {
	_ = t.ofd(unix.F_UNLCK, freelistTop, 0, false)
	lt := &t.locks
	lt.mu.Lock()
	lt.all.writer = false
	lt.cond.Broadcast()
	lt.mu.Unlock()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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
