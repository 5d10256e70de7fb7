package tdbcore

// Check verifies the whole file the way `tdbtool check` does: every
// record in the data area is well formed (magic, length, tailer, key hash
// and chain), every live or dead record is on exactly one chain, and every
// free record is on the free list exactly once. It returns the number of
// live records, or a *CorruptError naming the first problem's offset. It
// holds the all-record read lock while it runs (none on read-only opens;
// inside a transaction it checks the transaction's view).
func (t *DB) Check() (int, error) {
	t.mu.Lock()
	held := t.allHeld.Load()
	t.mu.Unlock()
	if !t.readOnly && !held {
		if err := t.LockAllRead(); err != nil {
			return 0, err
		}
		defer t.UnlockAll()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tx == nil {
		_ = t.rawOob(t.fileSize, 1)
		t.mapSize = t.fileSize
	}
	return t.checkLocked()
}

func (t *DB) checkLocked() (int, error) {
	size := t.mapSize
	ds := dataStart(t.hashSize)
	recHead, err := t.readOff(offRecoveryStart)
	if err != nil {
		return 0, err
	}
	if recHead != 0 && recHead < ds {
		return 0, t.corrupt(offRecoveryStart, "recovery area offset %d points into the hash table", recHead)
	}
	const (
		kindLive = iota + 1
		kindFree
	)
	kinds := map[uint32]int{}
	seenRecovery := false
	count := 0
	for off := ds; off < size; {
		if uint64(off)+recHdrSize > uint64(size) {
			return 0, t.corrupt(off, "partial record header at end of file")
		}
		r, err := t.readRecRaw(off)
		if err != nil {
			return 0, err
		}
		if (r.magic == recoveryInvalid || r.magic == padU32) && off != recHead {
			// Dead space: zeros or 0x42 filler left by a crash during
			// growth or a rolled-back transaction. As in libtdb's check it
			// runs to the end of the file (so nothing there may be
			// referenced), except that a recovery record the header points
			// to further on is still found.
			if recHead > off {
				off = recHead
				continue
			}
			break
		}
		total := uint64(recHdrSize) + uint64(r.recLen)
		if r.recLen%4 != 0 || r.recLen < 4 || uint64(off)+total > uint64(size) {
			return 0, t.corrupt(off, "record length %d invalid or beyond end of file (size %d)", r.recLen, size)
		}
		if r.next%4 != 0 {
			return 0, t.corrupt(off, "misaligned next pointer %d", r.next)
		}
		switch r.magic {
		case recMagic, deadMagic, freeMagic:
			tail, err := t.readOff(off + uint32(total) - 4)
			if err != nil {
				return 0, err
			}
			if uint64(tail) != total {
				return 0, t.corrupt(off, "tailer %d does not match record size %d", tail, total)
			}
			if r.magic == freeMagic {
				kinds[off] = kindFree
				break
			}
			kinds[off] = kindLive
			if r.magic == recMagic {
				if uint64(r.keyLen)+uint64(r.dataLen)+4 > uint64(r.recLen) {
					return 0, t.corrupt(off, "key and data (%d+%d bytes) overrun the record (%d bytes)", r.keyLen, r.dataLen, r.recLen)
				}
				k, err := t.read(off+recHdrSize, r.keyLen)
				if err != nil {
					return 0, err
				}
				if h := t.hashFn(k); h != r.fullHash {
					return 0, t.corrupt(off, "stored key hash %#x does not match the key (%#x)", r.fullHash, h)
				}
				count++
			}
		case recoveryMagic, recoveryInvalid, padU32:
			if off != recHead {
				return 0, t.corrupt(off, "recovery record not referenced by the header")
			}
			seenRecovery = true
		default:
			return 0, t.corrupt(off, "bad record magic %#x", r.magic)
		}
		off += uint32(total)
	}
	if recHead != 0 && !seenRecovery {
		return 0, t.corrupt(recHead, "header points to a recovery record that is not there")
	}
	refs := map[uint32]bool{}
	follow := func(start uint32, want int, bucket int64) error {
		w := t.newWalk(start)
		for ptr, from := start, uint32(0); ptr != 0; {
			if kinds[ptr] != want {
				return t.corrupt(from, "chain or free-list pointer %d does not point to a record of the right kind", ptr)
			}
			if refs[ptr] {
				return t.corrupt(ptr, "record referenced twice")
			}
			refs[ptr] = true
			r, err := t.readRecRaw(ptr)
			if err != nil {
				return err
			}
			if bucket >= 0 && int64(t.bucket(r.fullHash)) != bucket {
				return t.corrupt(ptr, "record with hash %#x is on chain %d", r.fullHash, bucket)
			}
			if err := w.step(ptr, r.next); err != nil {
				return err
			}
			from, ptr = ptr, r.next
		}
		return nil
	}
	for b := uint32(0); b < t.hashSize; b++ {
		head, err := t.readOff(hashTop(b))
		if err != nil {
			return 0, err
		}
		if err := follow(head, kindLive, int64(b)); err != nil {
			return 0, err
		}
	}
	head, err := t.readOff(freelistTop)
	if err != nil {
		return 0, err
	}
	if err := follow(head, kindFree, -1); err != nil {
		return 0, err
	}
	for off := range kinds {
		if !refs[off] {
			return 0, t.corrupt(off, "record is on no chain and not on the free list")
		}
	}
	return count, nil
}
