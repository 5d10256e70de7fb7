package tdbcore

import "golang.org/x/sys/unix"

const (
	wrlck = unix.F_WRLCK
	unlck = unix.F_UNLCK
)

// lockFreelist takes the free-list lock (byte 164). The handle mutex is
// held, so only other processes and handles can contend. Inside the
// all-record lock (or a transaction) it is not needed, as in libtdb.
func (t *DB) lockFreelist(wait bool) error {
	if t.allHeld.Load() {
		return nil
	}
	if t.flCount > 0 {
		t.flCount++
		return nil
	}
	if err := t.ofd(wrlck, freelistLockOff, 1, wait); err != nil {
		return err
	}
	t.flCount = 1
	return nil
}

func (t *DB) unlockFreelist() {
	if t.allHeld.Load() {
		return
	}
	t.flCount--
	if t.flCount == 0 {
		_ = t.ofd(unlck, freelistLockOff, 1, false)
	}
}

func (t *DB) updateTailer(off uint32, r *record) error {
	total := recHdrSize + r.recLen
	return t.writeOff(off+total-4, total)
}

// mergeLeft merges the free-to-be record r at off into the record
// directly on its left when that one is free. It reports whether it did,
// and returns the enlarged left record.
func (t *DB) mergeLeft(off uint32, r *record) (bool, uint32, record, error) {
	ds := dataStart(t.hashSize)
	if off < 4 || off-4 <= ds {
		return false, 0, record{}, nil
	}
	size, err := t.readOff(off - 4)
	if err != nil || size == 0 || size == padU32 || size > off {
		return false, 0, record{}, nil
	}
	left := off - size
	if left < ds {
		return false, 0, record{}, nil
	}
	l, err := t.readRecRaw(left)
	if err != nil || l.magic != freeMagic {
		return false, 0, record{}, nil
	}
	l.recLen += recHdrSize + r.recLen
	if err := t.writeRec(left, &l); err != nil {
		return false, 0, l, err
	}
	if err := t.updateTailer(left, &l); err != nil {
		return false, 0, l, err
	}
	return true, left, l, nil
}

// free puts the record at off on the free list, merging it into a free
// record directly on its left. The caller has unlinked it from its chain.
func (t *DB) free(off uint32, r record) error {
	if err := t.lockFreelist(true); err != nil {
		return err
	}
	defer t.unlockFreelist()
	if err := t.updateTailer(off, &r); err != nil {
		return err
	}
	if merged, _, _, err := t.mergeLeft(off, &r); err != nil || merged {
		return err
	}
	r.magic = freeMagic
	head, err := t.readOff(freelistTop)
	if err != nil {
		return err
	}
	r.next = head
	if err := t.writeRec(off, &r); err != nil {
		return err
	}
	return t.writeOff(freelistTop, off)
}

// readFree reads a free-list entry, repairing a live magic left by a
// process killed in the middle of a delete, as libtdb does.
func (t *DB) readFree(off uint32) (record, error) {
	r, err := t.readRecRaw(off)
	if err != nil {
		return r, err
	}
	if r.magic == recMagic {
		r.magic = freeMagic
		if err := t.writeRec(off, &r); err != nil {
			return r, err
		}
	}
	if r.magic != freeMagic {
		return r, t.corrupt(off, "free-list entry has bad magic %#x", r.magic)
	}
	if r.next != 0 {
		if r.next < dataStart(t.hashSize) {
			return r, t.corrupt(off, "free-list next pointer %d points into the header", r.next)
		}
		if err := t.oob(r.next, recHdrSize); err != nil {
			return r, t.corrupt(off, "free-list next pointer %d beyond end of file", r.next)
		}
	}
	return r, nil
}

// allocate returns an unlinked record with room for length bytes of key
// and data, reusing a dead record of the chain, free space, or growing the
// file. The chain of hash is locked.
func (t *DB) allocate(hash, length uint32) (uint32, record, error) {
	if t.maxDead > 0 {
		// libtdb tries the chains from this one on with non-blocking
		// locks; uncontended, that is this chain, then the free list.
		if ptr, r, last, err := t.findDead(hash, length); err != nil {
			return 0, r, err
		} else if ptr != 0 {
			return ptr, r, t.writeOff(last, r.next)
		}
	}
	if err := t.lockFreelist(true); err != nil {
		return 0, record{}, err
	}
	defer t.unlockFreelist()
	// Dead records can exist even with MaxDead 0 (deleted under a
	// traversal): give this chain's back first.
	if err := t.trimDead(hash, 0); err != nil {
		return 0, record{}, err
	}
	return t.allocateFromFreelist(length)
}

// trimDead frees the dead records of hash's chain beyond the first keep,
// except ones a traversal is positioned on.
func (t *DB) trimDead(hash uint32, keep int) error {
	last := hashTop(t.bucket(hash))
	ptr, err := t.readOff(last)
	if err != nil {
		return err
	}
	locked := false
	defer func() {
		if locked {
			t.unlockFreelist()
		}
	}()
	w := t.newWalk(ptr)
	dead := 0
	for ptr != 0 {
		r, err := t.readRec(ptr)
		if err != nil {
			return err
		}
		next := r.next
		deleted := false
		if r.dead() {
			dead++
			if dead > keep && !t.recordInUse(ptr) {
				if !locked {
					if err := t.lockFreelist(true); err != nil {
						return err
					}
					locked = true
				}
				if err := t.writeOff(last, next); err != nil {
					return err
				}
				if err := t.free(ptr, r); err != nil {
					return err
				}
				deleted = true
			}
		}
		if !deleted {
			last = ptr
			if err := w.step(ptr, next); err != nil {
				return err
			}
		}
		ptr = next
	}
	return nil
}

func (t *DB) findDead(hash, length uint32) (uint32, record, uint32, error) {
	need := uint64(length) + 4
	last := hashTop(t.bucket(hash))
	ptr, err := t.readOff(last)
	if err != nil {
		return 0, record{}, 0, err
	}
	var best record
	var bestPtr, bestLast uint32
	w := t.newWalk(ptr)
	for ptr != 0 {
		r, err := t.readRec(ptr)
		if err != nil {
			return 0, r, 0, err
		}
		// A dead record a traversal of this handle stands on is not reused: the
		// traversal continues from it, and reuse would move it to the chain's head.
		if r.dead() && uint64(r.recLen) >= need && (bestPtr == 0 || r.recLen < best.recLen) && t.travEnt(ptr) == nil {
			best, bestPtr, bestLast = r, ptr, last
		}
		if err := w.step(ptr, r.next); err != nil {
			return 0, r, 0, err
		}
		last, ptr = ptr, r.next
	}
	return bestPtr, best, bestLast, nil
}

// allocateFromFreelist is libtdb's best-fit search, with its exact
// over-allocation, float arithmetic and merging of adjacent free records
// during the scan, so that files evolve byte for byte as with libtdb.
func (t *DB) allocateFromFreelist(length uint32) (uint32, record, error) {
	length = uint32(float64(length) * 1.25)
	length += 4
	length = alignUp(length, 4)
	for expanded := false; ; {
		last := uint32(freelistTop)
		ptr, err := t.readOff(freelistTop)
		if err != nil {
			return 0, record{}, err
		}
		var bestPtr, bestLast, bestLen uint32
		multiplier := float32(1.0)
		mergedCandidate := false
		w := t.newWalk(ptr)
		for steps := uint64(0); ptr != 0; steps++ {
			if steps > uint64(t.mapSize)/recHdrSize+1 {
				return 0, record{}, t.corrupt(freelistTop, "free list longer than the file can hold")
			}
			r, err := t.readFree(ptr)
			if err != nil {
				return 0, r, err
			}
			merged, left, l, err := t.mergeLeft(ptr, &r)
			if err != nil {
				return 0, r, err
			}
			if merged {
				ptr = r.next
				if err := t.writeOff(last, r.next); err != nil {
					return 0, r, err
				}
				if bestPtr == left {
					bestLen = l.recLen
				}
				if l.recLen > length {
					mergedCandidate = true
				}
				w = t.newWalk(ptr)
				continue
			}
			if r.recLen >= length && (bestPtr == 0 || r.recLen < bestLen) {
				bestLen, bestPtr, bestLast = r.recLen, ptr, last
			}
			if err := w.step(ptr, r.next); err != nil {
				return 0, r, err
			}
			last, ptr = ptr, r.next
			if bestLen > 0 && float32(bestLen) < float32(length)*multiplier {
				break
			}
			multiplier = float32(float64(multiplier) * 1.05)
		}
		if bestPtr != 0 {
			r, err := t.readFree(bestPtr)
			if err != nil {
				return 0, r, err
			}
			return t.allocateOfs(length, bestPtr, r, bestLast)
		}
		if mergedCandidate {
			continue
		}
		if expanded {
			return 0, record{}, t.corrupt(freelistTop, "no free space after expanding the file")
		}
		if err := t.expand(length + recHdrSize); err != nil {
			return 0, record{}, err
		}
		expanded = true
	}
}

// allocateOfs takes length bytes from the end of the free record at ptr,
// or all of it when the rest would be too small to be useful.
func (t *DB) allocateOfs(length, ptr uint32, r record, last uint32) (uint32, record, error) {
	if uint64(r.recLen) < uint64(length)+minRecSize {
		if err := t.writeOff(last, r.next); err != nil {
			return 0, r, err
		}
		r.magic = recMagic
		if err := t.writeRec(ptr, &r); err != nil {
			return 0, r, err
		}
		return ptr, r, nil
	}
	r.recLen -= length + recHdrSize
	if err := t.writeRec(ptr, &r); err != nil {
		return 0, r, err
	}
	if err := t.updateTailer(ptr, &r); err != nil {
		return 0, r, err
	}
	ptr += recHdrSize + r.recLen
	n := record{recLen: length, magic: recMagic}
	if err := t.writeRec(ptr, &n); err != nil {
		return 0, n, err
	}
	if err := t.updateTailer(ptr, &n); err != nil {
		return 0, n, err
	}
	return ptr, n, nil
}

// expandAdjust is how much libtdb grows a file of mapSize that needs size
// more bytes: room for 100 such records (2 for huge ones), at least 25%
// (10% above 100 MiB), rounded to a page.
func expandAdjust(mapSize, size uint32) uint32 {
	var top uint32
	if size > 100*1024 {
		top = mapSize + size*2
	} else {
		top = mapSize + size*100
	}
	var newSize uint32
	if mapSize > 100*1024*1024 {
		newSize = uint32(float64(mapSize) * 1.10)
	} else {
		newSize = uint32(float64(mapSize) * 1.25)
	}
	newSize = max(top, newSize)
	return alignUp(newSize, pageSize) - mapSize
}

// expand grows the database by at least size bytes, as one free record.
func (t *DB) expand(size uint32) error {
	if err := t.lockFreelist(true); err != nil {
		return err
	}
	defer t.unlockFreelist()
	if t.tx == nil {
		// Learn about growth by other processes.
		_ = t.rawOob(t.fileSize, 1)
		t.mapSize = t.fileSize
	}
	add := expandAdjust(t.mapSize, size)
	off := t.mapSize
	if uint64(off)+uint64(add) > 1<<32-1 {
		return t.corrupt(off, "database would exceed 4 GiB")
	}
	if t.tx != nil {
		if err := t.tx.write(t, off, make([]byte, add)); err != nil {
			return err
		}
		t.tx.expanded = true
		t.mapSize += add
	} else {
		if err := t.rawExpandFile(off, add); err != nil {
			return err
		}
	}
	return t.free(off, record{recLen: add - recHdrSize})
}
