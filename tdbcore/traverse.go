package tdbcore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrStopTraverse may be returned by a traverse callback to end the
// traversal early without an error.
var ErrStopTraverse = errors.New("tdbcore: stop traverse")

type travLock struct {
	hash    uint32
	off     uint32
	write   bool
	recover bool // check for a pending recovery first
	walk    chainWalk
}

// Traverse calls fn for every live record in chain order (the order
// tdbdump prints) and returns how many it visited. fn gets copies and may
// store and delete records, including the current one, through this DB: as
// in libtdb, records deleted while a traversal is positioned on them are
// only marked dead and reclaimed later. Records added during the traversal
// may or may not be visited. Returning ErrStopTraverse ends it early; any
// other error ends it and is returned. Holds the transaction lock for
// write, so transactions of other handles wait until it ends.
func (t *DB) Traverse(fn func(key, value []byte) error) (int, error) {
	return t.traverse(fn, !t.readOnly)
}

// TraverseRead is Traverse taking only read locks; it does not reclaim
// dead records and does not block other readers' traversals.
func (t *DB) TraverseRead(fn func(key, value []byte) error) (int, error) {
	return t.traverse(fn, false)
}

func (t *DB) traverse(fn func(key, value []byte) error, write bool) (int, error) {
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		return 0, fmt.Errorf("tdbcore: %s: %w", t.path, ErrClosed)
	}
	inAll := t.allHeld.Load()
	t.traversals++
	if write {
		t.traverseWrite++
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.traversals--
		if write {
			t.traverseWrite--
		}
		t.mu.Unlock()
	}()
	if !inAll {
		if err := t.lockByte(transactionLockOff, write, true); err != nil {
			return 0, err
		}
		defer t.unlockByte(transactionLockOff, write)
	}
	// A pending recovery is run by the first nextLock (under t.mu).
	tl := travLock{write: write, recover: !inAll}
	count := 0
	for {
		key, val, ok, err := t.nextLock(&tl)
		if err != nil {
			return count, err
		}
		if !ok {
			return count, nil
		}
		count++
		if ferr := fn(key, val); ferr != nil {
			t.mu.Lock()
			t.unlockRecord(tl.off)
			t.mu.Unlock()
			if ferr == ErrStopTraverse {
				return count, nil
			}
			return count, ferr
		}
	}
}

// travEnt is what this handle's traversals hold at a record offset.
type travEnt struct {
	off    uint32
	pos    int32 // traversals standing on the record
	locked int32 // holds of the kernel record lock (taken by the first)
}

// travEnt returns the entry for off in t.travPos, or nil. Each traversal
// stands on at most one record, so the list is short. t.mu is held.
func (t *DB) travEnt(off uint32) *travEnt {
	for i := range t.travPos {
		if t.travPos[i].off == off {
			return &t.travPos[i]
		}
	}
	return nil
}

// lockRecord marks off as a traversal position (so that deletes leave the
// record dead instead of freeing it) and takes its record lock, which
// tells other processes the same. t.mu is held (also while waiting for
// the kernel lock), so the record locks need no table of their own.
func (t *DB) lockRecord(off uint32) error {
	if off == 0 {
		return nil
	}
	e := t.travEnt(off)
	if !t.allHeld.Load() && (e == nil || e.locked == 0) {
		if err := t.ofd(unix.F_RDLCK, off, 1, true); err != nil {
			return err
		}
	}
	if e == nil {
		t.travPos = append(t.travPos, travEnt{off: off})
		e = &t.travPos[len(t.travPos)-1]
	}
	if !t.allHeld.Load() {
		e.locked++
	}
	e.pos++
	return nil
}

func (t *DB) unlockRecord(off uint32) {
	if off == 0 {
		return
	}
	e := t.travEnt(off)
	if e == nil || e.pos == 0 {
		return
	}
	e.pos--
	if !t.allHeld.Load() && e.locked > 0 {
		if e.locked--; e.locked == 0 {
			_ = t.ofd(unix.F_UNLCK, off, 1, false)
		}
	}
	if e.pos == 0 && e.locked == 0 {
		last := len(t.travPos) - 1
		*e = t.travPos[last]
		t.travPos = t.travPos[:last]
	}
}

// nextLock advances tl to the next live record, returning copies of its
// key and value with the record's traverse lock held.
func (t *DB) nextLock(tl *travLock) (key, val []byte, ok bool, err error) {
	wantNext := tl.off != 0
	// t.mu is held from chain to chain (released only to wait), so that a
	// step of the traversal takes it once.
	t.mu.Lock()
	defer t.mu.Unlock()
	if tl.recover {
		// First step: the check traverse would make right after taking
		// the transaction lock, before any chain lock.
		tl.recover = false
		if t.needsRecovery() {
			if err := t.lockAndRecover(); err != nil {
				return nil, nil, false, err
			}
		}
	}
	for ; tl.hash < t.hashSize; tl.hash++ {
		if tl.off == 0 && tl.hash != 0 {
			if tl.hash = t.nextChain(tl.hash); tl.hash == t.hashSize {
				break
			}
		}
		inAll := t.allHeld.Load()
		lockOff := chainLockOff(tl.hash)
		if inAll {
			t.mu.Unlock()
			err := t.lockLocal(lockOff, tl.write, true)
			t.mu.Lock()
			if err != nil {
				return nil, nil, false, err
			}
		} else if err := t.lockChainMu(lockOff, tl.write, true); err != nil {
			return nil, nil, false, err
		}
		key, val, ok, err = t.walkChain(tl, wantNext)
		if inAll {
			t.mu.Unlock()
			t.unlockLocal(lockOff, tl.write)
			t.mu.Lock()
		} else {
			t.unlockChainMu(lockOff, tl.write)
		}
		if err != nil || ok {
			if err != nil {
				tl.off = 0
			}
			return key, val, ok, err
		}
		wantNext = false
	}
	return nil, nil, false, nil
}

// nextChain returns the first chain from h on that is not empty (or whose
// head cannot be read), or the hash size. t.mu is held.
func (t *DB) nextChain(h uint32) uint32 {
	if t.tx == nil && uint64(len(t.m)) >= uint64(dataStart(t.hashSize)) {
		// The common case, straight from the mapping.
		le := binary.LittleEndian
		tab := t.m[hashTop(h):dataStart(t.hashSize)]
		for len(tab) >= 32 && le.Uint64(tab)|le.Uint64(tab[8:])|le.Uint64(tab[16:])|le.Uint64(tab[24:]) == 0 {
			tab = tab[32:]
			h += 8
		}
		for len(tab) >= 8 && le.Uint64(tab) == 0 {
			tab = tab[8:]
			h += 2
		}
		if len(tab) >= 4 && le.Uint32(tab) == 0 {
			h++
		}
		return h
	}
	for h < t.hashSize {
		v, err := t.readOff(hashTop(h))
		if err != nil || v != 0 {
			break
		}
		h++
	}
	return h
}

func (t *DB) walkChain(tl *travLock, wantNext bool) (key, val []byte, ok bool, err error) {
	if tl.off == 0 {
		if tl.off, err = t.readOff(hashTop(tl.hash)); err != nil {
			return
		}
		tl.walk = t.newWalk(tl.off)
	} else {
		t.unlockRecord(tl.off)
	}
	var r record
	if wantNext {
		if err := t.loadRec(tl.off, &r); err != nil {
			return nil, nil, false, err
		}
		if err := tl.walk.step(tl.off, r.next); err != nil {
			return nil, nil, false, err
		}
		tl.off = r.next
	}
	for tl.off != 0 {
		if err := t.loadRec(tl.off, &r); err != nil {
			return nil, nil, false, err
		}
		if tl.off == r.next {
			return nil, nil, false, t.corrupt(tl.off, "record points to itself")
		}
		if !r.dead() {
			kv, err := t.read(tl.off+recHdrSize, r.keyLen+r.dataLen)
			if uint64(r.keyLen)+uint64(r.dataLen) > uint64(r.recLen) {
				err = t.corrupt(tl.off, "key and data (%d+%d bytes) overrun the record (%d bytes)", r.keyLen, r.dataLen, r.recLen)
			}
			if err != nil {
				return nil, nil, false, err
			}
			kv = clone(kv)
			if err := t.lockRecord(tl.off); err != nil {
				return nil, nil, false, err
			}
			return kv[:r.keyLen:r.keyLen], kv[r.keyLen:], true, nil
		}
		cur := tl.off
		if err := tl.walk.step(tl.off, r.next); err != nil {
			return nil, nil, false, err
		}
		tl.off = r.next
		if tl.write && !t.readOnly {
			if err := t.doDelete(cur, r); err != nil {
				return nil, nil, false, err
			}
		}
	}
	return nil, nil, false, nil
}

// Keys returns every key, in traversal order.
func (t *DB) Keys() ([][]byte, error) {
	var keys [][]byte
	_, err := t.TraverseRead(func(k, _ []byte) error {
		keys = append(keys, k)
		return nil
	})
	return keys, err
}
