package tdbcore

import (
	"bytes"
	"fmt"
	"sort"
)

func (t *DB) bucket(hash uint32) uint32 { return hash % t.hashSize }

// withChain runs fn under the chain lock of hash (skipped when this handle
// holds the all-record lock, as in libtdb) and the handle mutex. It runs a
// pending transaction recovery first when this is the handle's first data
// lock, as libtdb does.
func (t *DB) withChain(hash uint32, write, wait bool, fn func() error) error {
	off := chainLockOff(t.bucket(hash))
	for {
		if t.closed.Load() {
			return fmt.Errorf("tdbcore: %s: %w", t.path, ErrClosed)
		}
		// allHeld is read before the chain lock and checked again once
		// it is held: a change in between means retrying with the other
		// kind.
		inAll := t.allHeld.Load()
		if err := t.lockChainHoldMu(off, write, wait, inAll); err != nil {
			return err
		}
		if t.allHeld.Load() != inAll || t.closed.Load() {
			t.unlockChainDropMu(off, write, inAll)
			continue
		}
		var err error
		switch {
		case inAll && write && !t.allWrite:
			err = fmt.Errorf("tdbcore: %s: write inside a read all-record lock: %w", t.path, ErrLockState)
		case !inAll && t.tx == nil && t.needsRecovery():
			err = errRetry
		default:
			err = fn()
		}
		if err == errRetry {
			t.unlockChainDropMu(off, write, inAll)
			t.mu.Lock()
			err = t.lockAndRecover()
			t.mu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		t.unlockChainDropMu(off, write, inAll)
		return err
	}
}

// lockChainHoldMu takes a chain lock and then holds t.mu (not held
// before): the chain lock is taken in the kernel and in-process
// normally, only in-process while this handle holds the all-record lock.
// On error t.mu is not held.
func (t *DB) lockChainHoldMu(off uint32, write, wait, inAll bool) error {
	if inAll {
		if err := t.lockLocal(off, write, wait); err != nil {
			return err
		}
		t.mu.Lock()
		return nil
	}
	t.mu.Lock()
	if err := t.lockChainMu(off, write, wait); err != nil {
		t.mu.Unlock()
		return err
	}
	return nil
}

// unlockChainDropMu releases a chain lock taken by lockChainHoldMu and
// t.mu.
func (t *DB) unlockChainDropMu(off uint32, write, inAll bool) {
	if inAll {
		t.mu.Unlock()
		t.unlockLocal(off, write)
		return
	}
	t.unlockChainMu(off, write)
	t.mu.Unlock()
}

// lockChainFor takes a chain lock as lockChainHoldMu, without keeping t.mu.
func (t *DB) lockChainFor(off uint32, write, wait, inAll bool) error {
	if err := t.lockChainHoldMu(off, write, wait, inAll); err != nil {
		return err
	}
	t.mu.Unlock()
	return nil
}

// unlockChainFor releases a chain lock taken by lockChainFor. t.mu is not
// held.
func (t *DB) unlockChainFor(off uint32, write, inAll bool) {
	if inAll {
		t.unlockLocal(off, write)
		return
	}
	t.mu.Lock()
	t.unlockChainMu(off, write)
	t.mu.Unlock()
}

// chainWalk bounds a walk along a chain: it fails after more steps than
// the file can hold records, and detects cycles Brent-style.
type chainWalk struct {
	t     *DB
	start uint32
	power uint32
	lam   uint32
	mark  uint32
	steps uint64
}

func (t *DB) newWalk(start uint32) chainWalk {
	return chainWalk{t: t, start: start, power: 1, mark: start}
}

// step is called with each next pointer; it returns an error on a cycle.
func (w *chainWalk) step(from, next uint32) error {
	if next == 0 {
		return nil
	}
	if next == w.mark {
		return w.t.corrupt(from, "hash chain starting at %d loops back to offset %d", w.start, next)
	}
	w.lam++
	if w.lam == w.power {
		w.mark = next
		w.power *= 2
		w.lam = 0
	}
	w.steps++
	if w.steps > uint64(w.t.mapSize)/recHdrSize+1 {
		return w.t.corrupt(from, "hash chain starting at %d longer than the file can hold", w.start)
	}
	return nil
}

// find returns the offset of the live record for key, or 0, and reads its
// header into r.
func (t *DB) find(key []byte, hash uint32, r *record) (uint32, error) {
	top := hashTop(t.bucket(hash))
	ptr, err := t.readOff(top)
	if err != nil {
		return 0, err
	}
	w := t.newWalk(ptr)
	for ptr != 0 {
		if err := t.loadRec(ptr, r); err != nil {
			return 0, err
		}
		if !r.dead() && r.fullHash == hash && r.keyLen == uint32(len(key)) {
			k, err := t.read(ptr+recHdrSize, r.keyLen)
			if err != nil {
				return 0, err
			}
			if bytes.Equal(k, key) {
				return ptr, nil
			}
		}
		if err := w.step(ptr, r.next); err != nil {
			return 0, err
		}
		ptr = r.next
	}
	return 0, nil
}

// Fetch returns a copy of the value stored under key, or ErrNotFound.
func (t *DB) Fetch(key []byte) ([]byte, error) {
	var out []byte
	h := t.hashFn(key)
	err := t.withChain(h, false, true, func() error {
		var err error
		out, err = t.fetchLocked(key, h)
		return err
	})
	return out, err
}

func (t *DB) fetchLocked(key []byte, h uint32) ([]byte, error) {
	var r record
	ptr, err := t.find(key, h, &r)
	if err != nil {
		return nil, err
	}
	if ptr == 0 {
		return nil, ErrNotFound
	}
	d, err := t.read(ptr+recHdrSize+r.keyLen, r.dataLen)
	if err != nil {
		return nil, err
	}
	return clone(d), nil
}

// clone is bytes.Clone without its append (cheaper for small values).
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// Parse calls fn with the value under key without copying it. fn runs
// under the chain's read lock and the handle mutex: it must not keep the
// slice or call back into this DB.
func (t *DB) Parse(key []byte, fn func(value []byte) error) error {
	h := t.hashFn(key)
	return t.withChain(h, false, true, func() error {
		var r record
		ptr, err := t.find(key, h, &r)
		if err != nil {
			return err
		}
		if ptr == 0 {
			return ErrNotFound
		}
		d, err := t.read(ptr+recHdrSize+r.keyLen, r.dataLen)
		if err != nil {
			return err
		}
		if d == nil {
			d = []byte{}
		}
		return fn(d)
	})
}

// Exists reports whether key is present.
func (t *DB) Exists(key []byte) (bool, error) {
	var ok bool
	h := t.hashFn(key)
	err := t.withChain(h, false, true, func() error {
		var r record
		ptr, err := t.find(key, h, &r)
		ok = ptr != 0
		return err
	})
	return ok, err
}

// Store writes value under key according to flag.
func (t *DB) Store(key, value []byte, flag StoreFlag) error {
	if t.readOnly {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrReadOnly)
	}
	h := t.hashFn(key)
	return t.withChain(h, true, true, func() error { return t.storeLocked(key, value, flag, h) })
}

// Delete removes key, or returns ErrNotFound.
func (t *DB) Delete(key []byte) error {
	if t.readOnly {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrReadOnly)
	}
	h := t.hashFn(key)
	return t.withChain(h, true, true, func() error { return t.deleteLocked(key, h) })
}

// Append adds value to the end of the record under key, creating it.
func (t *DB) Append(key, value []byte) error {
	h := t.hashFn(key)
	return t.withChain(h, true, true, func() error {
		old, err := t.fetchLocked(key, h)
		if err != nil && err != ErrNotFound {
			return err
		}
		return t.storeLocked(key, append(old, value...), Replace, h)
	})
}

func (t *DB) storeLocked(key, value []byte, flag StoreFlag, h uint32) error {
	if uint64(len(key))+uint64(len(value)) > 1<<31 {
		return fmt.Errorf("tdbcore: %s: record of %d bytes too large", t.path, len(key)+len(value))
	}
	if flag == Insert {
		var r record
		ptr, err := t.find(key, h, &r)
		if err != nil {
			return err
		}
		if ptr != 0 {
			return ErrExists
		}
	} else {
		done, found, err := t.updateInPlace(key, value, h)
		if err != nil {
			return err
		}
		if done {
			t.incSeqnum()
			return nil
		}
		if !found && flag == Modify {
			return ErrNotFound
		}
		if found {
			if err := t.deleteLocked(key, h); err != nil && err != ErrNotFound {
				return err
			}
		}
	}
	recLen := uint32(len(key) + len(value))
	ptr, r, err := t.allocate(h, recLen)
	if err != nil {
		return err
	}
	top := hashTop(t.bucket(h))
	if r.next, err = t.readOff(top); err != nil {
		return err
	}
	r.keyLen, r.dataLen, r.fullHash, r.magic = uint32(len(key)), uint32(len(value)), h, recMagic
	if err := t.writeRec(ptr, &r); err != nil {
		return err
	}
	if err := t.write(ptr+recHdrSize, key); err != nil {
		return err
	}
	if err := t.write(ptr+recHdrSize+uint32(len(key)), value); err != nil {
		return err
	}
	if err := t.writeOff(top, ptr); err != nil {
		return err
	}
	t.incSeqnum()
	return nil
}

// updateInPlace overwrites the value when the record has room.
func (t *DB) updateInPlace(key, value []byte, h uint32) (done, found bool, err error) {
	var r record
	ptr, err := t.find(key, h, &r)
	if err != nil || ptr == 0 {
		return false, false, err
	}
	dataOff := ptr + recHdrSize + r.keyLen
	if r.dataLen == uint32(len(value)) {
		old, err := t.read(dataOff, r.dataLen)
		if err != nil {
			return false, true, err
		}
		if bytes.Equal(old, value) {
			return true, true, nil
		}
	}
	if uint64(r.recLen) < uint64(len(key))+uint64(len(value))+4 {
		return false, true, nil
	}
	if err := t.write(dataOff, value); err != nil {
		return false, true, err
	}
	if r.dataLen != uint32(len(value)) {
		r.dataLen = uint32(len(value))
		if err := t.writeRec(ptr, &r); err != nil {
			return false, true, err
		}
	}
	return true, true, nil
}

func (t *DB) deleteLocked(key []byte, h uint32) error {
	var r record
	ptr, err := t.find(key, h, &r)
	if err != nil {
		return err
	}
	if ptr == 0 {
		return ErrNotFound
	}
	// As libtdb 1.4: mark it dead, then give dead records beyond MaxDead
	// back to the free list.
	r.magic = deadMagic
	if err := t.writeRec(ptr, &r); err != nil {
		return err
	}
	t.incSeqnum()
	return t.trimDead(h, t.maxDead)
}

// doDelete unlinks the record at ptr and frees it, or only marks it dead
// while a traversal may be positioned on it.
func (t *DB) doDelete(ptr uint32, r record) error {
	if t.readOnly {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrReadOnly)
	}
	if (t.traverseWrite > 0 && !r.dead()) || t.recordInUse(ptr) {
		r.magic = deadMagic
		return t.writeRec(ptr, &r)
	}
	// Mark it dead first (as libtdb 1.4.8 does): a crash before the
	// unlink leaves a dead record, not a live one outside any chain.
	if !r.dead() {
		r.magic = deadMagic
		if err := t.writeOff(ptr+20, deadMagic); err != nil {
			return err
		}
	}
	top := hashTop(t.bucket(r.fullHash))
	last := top
	i, err := t.readOff(top)
	if err != nil {
		return err
	}
	w := t.newWalk(i)
	for i != ptr {
		if i == 0 {
			return t.corrupt(ptr, "record to delete is not on its hash chain")
		}
		lr, err := t.readRec(i)
		if err != nil {
			return err
		}
		if err := w.step(i, lr.next); err != nil {
			return err
		}
		last, i = i, lr.next
	}
	if err := t.writeOff(last, r.next); err != nil {
		return err
	}
	return t.free(ptr, r)
}

// recordInUse reports whether a traversal (ours or another process's)
// holds the record lock at ptr.
func (t *DB) recordInUse(ptr uint32) bool {
	if e := t.travEnt(ptr); e != nil && e.pos > 0 {
		return true
	}
	if t.allHeld.Load() || t.flags&NoLock != 0 {
		return false
	}
	if err := t.ofd(wrlck, ptr, 1, false); err != nil {
		return true
	}
	_ = t.ofd(unlck, ptr, 1, false)
	return false
}

func (t *DB) incSeqnum() {
	if t.flags&Seqnum == 0 {
		return
	}
	if t.tx == nil && !t.allHeld.Load() {
		if t.ofd(wrlck, offSeqnum, 1, true) != nil {
			return
		}
		defer t.ofd(unlck, offSeqnum, 1, false)
	}
	if v, err := t.readOff(offSeqnum); err == nil {
		_ = t.writeOff(offSeqnum, v+1)
	}
}

// Seqnum returns the header's sequence number.
func (t *DB) Seqnum() (uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readOff(offSeqnum)
}

// ---- chain locks for callers ---------------------------------------------

// Chain is a held chain lock (see DB.ChainLock). Its methods run under the
// lock; it must be released with Unlock exactly once and must not be used
// after that. A Chain is not for concurrent use by several goroutines.
type Chain struct {
	t     *DB
	hash  uint32
	write bool
	inAll bool
	done  bool
}

// ChainLock takes the write lock of the hash chain holding key (libtdb's
// tdb_chainlock), blocking until it is free. Other processes and other
// goroutines of this handle cannot read or write any key of that chain
// until Unlock. Use it for read-modify-write of a record.
func (t *DB) ChainLock(key []byte) (*Chain, error) { return t.chainLock(key, true, true) }

// ChainLockNonblock is ChainLock failing with ErrWouldBlock when busy.
func (t *DB) ChainLockNonblock(key []byte) (*Chain, error) { return t.chainLock(key, true, false) }

// ChainLockRead takes the chain's read lock (tdb_chainlock_read).
func (t *DB) ChainLockRead(key []byte) (*Chain, error) { return t.chainLock(key, false, true) }

func (t *DB) chainLock(key []byte, write, wait bool) (*Chain, error) {
	h := t.hashFn(key)
	if write && t.readOnly {
		return nil, fmt.Errorf("tdbcore: %s: %w", t.path, ErrReadOnly)
	}
	for {
		t.mu.Lock()
		inAll := t.allHeld.Load()
		t.mu.Unlock()
		if err := t.lockChainFor(chainLockOff(t.bucket(h)), write, wait, inAll); err != nil {
			return nil, err
		}
		t.mu.Lock()
		same := t.allHeld.Load() == inAll
		var err error
		if same && !inAll && t.tx == nil && t.needsRecovery() {
			err = errRetry
		}
		t.mu.Unlock()
		if same && err == nil {
			return &Chain{t: t, hash: h, write: write, inAll: inAll}, nil
		}
		t.unlockChainFor(chainLockOff(t.bucket(h)), write, inAll)
		if err == errRetry {
			t.mu.Lock()
			err = t.lockAndRecover()
			t.mu.Unlock()
			if err != nil {
				return nil, err
			}
		}
	}
}

// Unlock releases the chain lock.
func (c *Chain) Unlock() {
	if c.done {
		return
	}
	c.done = true
	c.t.unlockChainFor(chainLockOff(c.t.bucket(c.hash)), c.write, c.inAll)
}

func (c *Chain) run(key []byte, write bool, fn func(h uint32) error) error {
	if c.done {
		return fmt.Errorf("tdbcore: %s: chain already unlocked: %w", c.t.path, ErrLockState)
	}
	h := c.t.hashFn(key)
	if c.t.bucket(h) != c.t.bucket(c.hash) {
		return fmt.Errorf("tdbcore: %s: key is not on the locked chain: %w", c.t.path, ErrLockState)
	}
	if write && !c.write {
		return fmt.Errorf("tdbcore: %s: write under a read chain lock: %w", c.t.path, ErrLockState)
	}
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if c.t.closed.Load() {
		return fmt.Errorf("tdbcore: %s: %w", c.t.path, ErrClosed)
	}
	return fn(h)
}

// Fetch reads key, which must hash to the locked chain.
func (c *Chain) Fetch(key []byte) ([]byte, error) {
	var out []byte
	err := c.run(key, false, func(h uint32) (err error) {
		out, err = c.t.fetchLocked(key, h)
		return err
	})
	return out, err
}

// Store writes key, which must hash to the locked chain.
func (c *Chain) Store(key, value []byte, flag StoreFlag) error {
	return c.run(key, true, func(h uint32) error { return c.t.storeLocked(key, value, flag, h) })
}

// Delete removes key, which must hash to the locked chain.
func (c *Chain) Delete(key []byte) error {
	return c.run(key, true, func(h uint32) error { return c.t.deleteLocked(key, h) })
}

// ---- all-record lock ------------------------------------------------------

// LockAll takes the all-record write lock (tdb_lockall): no other process
// or handle can read or write any record until UnlockAll. Operations on
// this handle by any goroutine keep working. It waits for chain locks held
// by other goroutines of this handle, and fails with ErrLockState while a
// traversal of this handle is in progress.
func (t *DB) LockAll() error { return t.lockAllAPI(true, true) }

// LockAllNonblock is LockAll failing with ErrWouldBlock when busy.
func (t *DB) LockAllNonblock() error { return t.lockAllAPI(true, false) }

// LockAllRead takes the all-record read lock (tdb_lockall_read).
func (t *DB) LockAllRead() error { return t.lockAllAPI(false, true) }

func (t *DB) lockAllAPI(write, wait bool) error {
	if write && t.readOnly {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrReadOnly)
	}
	t.mu.Lock()
	if t.allHeld.Load() {
		defer t.mu.Unlock()
		if t.allWrite != write || t.tx != nil {
			return fmt.Errorf("tdbcore: %s: all-record lock of another kind held: %w", t.path, ErrLockState)
		}
		t.allCount++
		return nil
	}
	if t.traversals > 0 {
		// Its record locks would punch holes in the all-record lock.
		t.mu.Unlock()
		return fmt.Errorf("tdbcore: %s: all-record lock requested while this handle traverses: %w", t.path, ErrLockState)
	}
	t.mu.Unlock()
	if err := t.lockAll(write, wait); err != nil {
		return err
	}
	t.mu.Lock()
	if t.needsRecovery() {
		// As libtdb: drop the lock, recover under the commit's locks,
		// and take it again.
		t.mu.Unlock()
		t.unlockAll()
		t.mu.Lock()
		err := t.lockAndRecover()
		t.mu.Unlock()
		if err != nil {
			return err
		}
		return t.lockAllAPI(write, wait)
	}
	t.allHeld.Store(true)
	t.allWrite, t.allCount = write, 1
	t.mu.Unlock()
	return nil
}

// UnlockAll releases LockAll or LockAllRead.
func (t *DB) UnlockAll() error {
	t.mu.Lock()
	if !t.allHeld.Load() || t.tx != nil {
		t.mu.Unlock()
		return fmt.Errorf("tdbcore: %s: all-record lock not held: %w", t.path, ErrLockState)
	}
	t.allCount--
	if t.allCount > 0 {
		t.mu.Unlock()
		return nil
	}
	t.allHeld.Store(false)
	t.mu.Unlock()
	t.unlockAll()
	return nil
}

// Wipe deletes every record, keeping the recovery area (tdb_wipe_all).
func (t *DB) Wipe() error {
	t.mu.Lock()
	if t.tx != nil {
		defer t.mu.Unlock()
		return t.wipeLocked()
	}
	t.mu.Unlock()
	if err := t.LockAll(); err != nil {
		return err
	}
	defer t.UnlockAll()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wipeLocked()
}

func (t *DB) wipeLocked() error {
	recHead, err := t.readOff(offRecoveryStart)
	if err != nil {
		return err
	}
	var recSize uint32
	if recHead != 0 {
		r, err := t.readRecRaw(recHead)
		if err != nil {
			return err
		}
		recSize = r.recLen + recHdrSize
	}
	for i := uint32(0); i < t.hashSize; i++ {
		if err := t.writeOff(hashTop(i), 0); err != nil {
			return err
		}
	}
	if err := t.writeOff(freelistTop, 0); err != nil {
		return err
	}
	ds := dataStart(t.hashSize)
	if recSize == 0 {
		if err := t.freeRegion(ds, t.mapSize-ds); err != nil {
			return err
		}
	} else {
		if err := t.freeRegion(ds, recHead-ds); err != nil {
			return err
		}
		if err := t.freeRegion(recHead+recSize, t.mapSize-(recHead+recSize)); err != nil {
			return err
		}
	}
	if t.flags&Seqnum != 0 {
		if v, err := t.readOff(offSeqnum); err == nil {
			_ = t.writeOff(offSeqnum, v+1)
		}
	}
	return nil
}

func (t *DB) freeRegion(off, n uint32) error {
	if n <= recHdrSize {
		return nil
	}
	if uint64(off)+uint64(n) > uint64(t.mapSize) {
		return t.corrupt(off, "free region of %d bytes beyond end of file", n)
	}
	return t.free(off, record{recLen: n - recHdrSize})
}

// Repack rewrites the database compactly inside a transaction.
func (t *DB) Repack() error {
	if err := t.TransactionStart(); err != nil {
		return err
	}
	type kv struct{ k, v []byte }
	var all []kv
	_, err := t.TraverseRead(func(k, v []byte) error {
		all = append(all, kv{k, v})
		return nil
	})
	if err == nil {
		t.mu.Lock()
		err = t.wipeLocked()
		t.mu.Unlock()
	}
	if err == nil {
		// libtdb copies the records through an in-memory scratch
		// database (Jenkins hash, same hash size) and back; its traversal
		// order is by Jenkins bucket, newest first within a bucket.
		// Reinserting in that order gives the same file as libtdb.
		order := make([]int, len(all))
		for i := range order {
			order[i] = i
		}
		bucket := func(i int) uint32 { return JenkinsHash(all[i].k) % t.hashSize }
		sort.SliceStable(order, func(a, b int) bool {
			ba, bb := bucket(order[a]), bucket(order[b])
			if ba != bb {
				return ba < bb
			}
			return order[a] > order[b]
		})
		for _, i := range order {
			if err = t.Store(all[i].k, all[i].v, Insert); err != nil {
				break
			}
		}
	}
	if err != nil {
		_ = t.TransactionCancel()
		return err
	}
	return t.TransactionCommit()
}
