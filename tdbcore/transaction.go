package tdbcore

import (
	"encoding/binary"
	"fmt"
)

// transaction keeps every write of a transaction in page-sized copies of
// the file's blocks until commit (libtdb's design, so that a crash in the
// middle of a commit is recoverable by libtdb and by us).
type transaction struct {
	blocks        [][]byte
	blockSize     uint32
	lastBlockSize uint32
	oldMapSize    uint32
	nesting       int
	prepared      bool
	failed        bool
	expanded      bool
	magicOffset   uint32
	openLocked    bool
}

func (tx *transaction) fail(t *DB, off uint32, err error) error {
	tx.failed = true
	return err
}

func (tx *transaction) read(t *DB, off, n uint32) ([]byte, error) {
	if uint64(off)+uint64(n) > uint64(t.mapSize) {
		return nil, t.corrupt(off, "access of %d bytes beyond end of database (size %d)", n, t.mapSize)
	}
	bs := tx.blockSize
	if off%bs+n <= bs {
		return tx.readBlock(t, off, n)
	}
	buf := make([]byte, 0, n)
	for n > 0 {
		l := min(n, bs-off%bs)
		b, err := tx.readBlock(t, off, l)
		if err != nil {
			return nil, err
		}
		buf = append(buf, b...)
		off += l
		n -= l
	}
	return buf, nil
}

func (tx *transaction) readBlock(t *DB, off, n uint32) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	blk := off / tx.blockSize
	if int(blk) >= len(tx.blocks) || tx.blocks[blk] == nil {
		b, err := t.rawRead(off, n)
		if err != nil {
			return nil, tx.fail(t, off, err)
		}
		return b, nil
	}
	o := off % tx.blockSize
	if int(blk) == len(tx.blocks)-1 && o+n > tx.lastBlockSize {
		return nil, tx.fail(t, off, t.corrupt(off, "transaction read of %d bytes past the data written", n))
	}
	return tx.blocks[blk][o : o+n : o+n], nil
}

// write records b (all zeros when b is nil-filled) at off.
func (tx *transaction) write(t *DB, off uint32, b []byte) error {
	if tx.prepared {
		tx.failed = true
		return fmt.Errorf("tdbcore: %s: write to a prepared transaction: %w", t.path, ErrTxFailed)
	}
	bs := tx.blockSize
	for len(b) > 0 {
		l := min(uint32(len(b)), bs-off%bs)
		if err := tx.writeBlock(t, off, b[:l]); err != nil {
			return err
		}
		b = b[l:]
		off += l
	}
	return nil
}

func (tx *transaction) writeBlock(t *DB, off uint32, b []byte) error {
	bs := tx.blockSize
	blk := off / bs
	o := off % bs
	if int(blk) >= len(tx.blocks) {
		nb := make([][]byte, blk+1)
		copy(nb, tx.blocks)
		tx.blocks = nb
		tx.lastBlockSize = 0
	}
	if tx.blocks[blk] == nil {
		blkData := make([]byte, bs)
		start := blk * bs
		if tx.oldMapSize > start {
			l := min(bs, tx.oldMapSize-start)
			old, err := t.rawRead(start, l)
			if err != nil {
				return tx.fail(t, off, err)
			}
			copy(blkData, old)
			if int(blk) == len(tx.blocks)-1 {
				tx.lastBlockSize = l
			}
		}
		tx.blocks[blk] = blkData
	}
	copy(tx.blocks[blk][o:], b)
	if int(blk) == len(tx.blocks)-1 && o+uint32(len(b)) > tx.lastBlockSize {
		tx.lastBlockSize = o + uint32(len(b))
	}
	return nil
}

// writeExisting updates blocks already in the transaction only, so that
// the commit does not overwrite what was written directly to the file.
func (tx *transaction) writeExisting(off uint32, b []byte) {
	bs := tx.blockSize
	for len(b) > 0 {
		l := min(uint32(len(b)), bs-off%bs)
		blk, o := off/bs, off%bs
		if int(blk) < len(tx.blocks) && tx.blocks[blk] != nil {
			n := l
			if int(blk) == len(tx.blocks)-1 && o+n > tx.lastBlockSize {
				if o >= tx.lastBlockSize {
					n = 0
				} else {
					n = tx.lastBlockSize - o
				}
			}
			copy(tx.blocks[blk][o:o+n], b[:n])
		}
		b = b[l:]
		off += l
	}
}

func (tx *transaction) blockLen(i int) uint32 {
	if i == len(tx.blocks)-1 {
		return tx.lastBlockSize
	}
	return tx.blockSize
}

// TransactionStart begins a transaction on this handle, waiting for any
// other transaction on the file. Inside a transaction, nesting is allowed
// unless the file was opened with DisallowNesting: an inner start only
// counts, an inner commit does nothing and an inner cancel makes the
// outer commit fail. While the transaction is open, operations of every
// goroutine on this handle are part of it; other processes can read but
// not write until it ends.
func (t *DB) TransactionStart() error { return t.transactionStart(true) }

// TransactionStartNonblock is TransactionStart failing with ErrWouldBlock
// when another transaction holds the file.
func (t *DB) TransactionStartNonblock() error { return t.transactionStart(false) }

func (t *DB) transactionStart(wait bool) error {
	if t.readOnly {
		return fmt.Errorf("tdbcore: %s: cannot start a transaction: %w", t.path, ErrReadOnly)
	}
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrClosed)
	}
	if t.tx != nil {
		defer t.mu.Unlock()
		if t.flags&AllowNesting == 0 {
			return fmt.Errorf("tdbcore: %s: %w", t.path, ErrNesting)
		}
		t.tx.nesting++
		return nil
	}
	if t.allHeld.Load() || t.traversals > 0 {
		t.mu.Unlock()
		return fmt.Errorf("tdbcore: %s: cannot start a transaction while this handle holds the all-record lock or traverses: %w", t.path, ErrLockState)
	}
	t.mu.Unlock()
	if err := t.lockByte(transactionLockOff, true, wait); err != nil {
		return err
	}
	for {
		if err := t.lockAll(false, true); err != nil {
			t.unlockByte(transactionLockOff, true)
			return err
		}
		t.mu.Lock()
		if !t.needsRecovery() {
			break
		}
		t.mu.Unlock()
		t.unlockAll()
		t.mu.Lock()
		err := t.lockAndRecover()
		t.mu.Unlock()
		if err != nil {
			t.unlockByte(transactionLockOff, true)
			return err
		}
	}
	defer t.mu.Unlock()
	_ = t.rawOob(t.fileSize, 1) // learn the current size
	t.mapSize = t.fileSize
	t.allHeld.Store(true)
	t.allWrite, t.allCount = true, 1
	t.tx = &transaction{blockSize: pageSize, oldMapSize: t.mapSize}
	return nil
}

// releaseTx ends the transaction: removes the recovery marker if one was
// set and releases the transaction's locks. t.mu is held.
func (t *DB) cancelLocked() error {
	tx := t.tx
	if tx.nesting != 0 {
		tx.failed = true
		tx.nesting--
		return nil
	}
	var err error
	if tx.magicOffset != 0 {
		t.tx = nil
		crashPoint("before-magic-clear")
		if err = t.rawWriteOff(tx.magicOffset, recoveryInvalid); err == nil {
			err = t.sync()
		}
	}
	t.tx = nil
	_ = t.rawOob(t.fileSize, 1)
	t.mapSize = t.fileSize
	t.allHeld.Store(false)
	t.allCount = 0
	t.mu.Unlock()
	t.unlockAll()
	if tx.openLocked {
		t.unlockByte(openLockOff, true)
	}
	t.unlockByte(transactionLockOff, true)
	t.mu.Lock()
	return err
}

// TransactionCancel abandons the transaction (or, nested, marks the outer
// one as failed).
func (t *DB) TransactionCancel() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tx == nil {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrNoTransaction)
	}
	return t.cancelLocked()
}

// TransactionPrepareCommit does the first phase of a commit: it writes and
// syncs the recovery data and takes the open lock, so that the following
// TransactionCommit cannot fail for lack of space. After it, only Commit
// or Cancel are allowed.
func (t *DB) TransactionPrepareCommit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.prepareLocked()
}

func (t *DB) prepareLocked() error {
	tx := t.tx
	if tx == nil {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrNoTransaction)
	}
	if tx.prepared {
		tx.nesting = 0
		t.cancelLocked()
		return fmt.Errorf("tdbcore: %s: transaction already prepared: %w", t.path, ErrTxFailed)
	}
	if tx.failed {
		tx.nesting = 0
		t.cancelLocked()
		return fmt.Errorf("tdbcore: %s: an earlier error or a cancelled nested transaction failed it: %w", t.path, ErrTxFailed)
	}
	if tx.nesting != 0 || len(tx.blocks) == 0 {
		return nil
	}
	fail := func(err error) error {
		t.cancelLocked()
		return err
	}
	t.locks.mu.Lock()
	held := len(t.locks.local)
	t.locks.mu.Unlock()
	if held > 0 {
		// As libtdb: locks still held at commit fail the transaction.
		return fail(fmt.Errorf("tdbcore: %s: %d chain locks still held at commit: %w", t.path, held, ErrLockState))
	}
	if err := t.upgradeAll(); err != nil {
		return fail(err)
	}
	t.mu.Unlock()
	err := t.lockByte(openLockOff, true, true)
	t.mu.Lock()
	if err != nil {
		return fail(err)
	}
	tx.openLocked = true
	if err := t.setupRecovery(); err != nil {
		return fail(err)
	}
	tx.prepared = true
	if t.mapSize > tx.oldMapSize {
		if err := t.rawExpandFile(tx.oldMapSize, t.mapSize-tx.oldMapSize); err != nil {
			return fail(err)
		}
		tx.oldMapSize = t.fileSize
	}
	return nil
}

func (t *DB) recoverySize() uint32 {
	tx := t.tx
	size := uint32(4)
	for i, b := range tx.blocks {
		if uint32(i)*tx.blockSize >= tx.oldMapSize {
			break
		}
		if b == nil {
			continue
		}
		size += 8 + tx.blockLen(i)
	}
	return size
}

func (t *DB) setupRecovery() error {
	tx := t.tx
	oldMap := tx.oldMapSize
	head, err := t.rawReadOff(offRecoveryStart)
	if err != nil {
		return err
	}
	var rec record
	if head != 0 {
		b, err := t.rawRead(head, recHdrSize)
		if err != nil {
			return err
		}
		rec = decodeRecord(b)
		if rec.magic != recoveryMagic && rec.magic != recoveryInvalid {
			head, rec = 0, record{}
		}
	}
	size := t.recoverySize()
	var maxSize uint32
	if head != 0 && size <= rec.recLen {
		maxSize = rec.recLen
	} else {
		if head == 0 || uint64(head)+recHdrSize+uint64(rec.recLen) != uint64(t.mapSize) {
			if head != 0 {
				if err := t.free(head, rec); err != nil {
					return err
				}
				size = t.recoverySize()
			}
			head = t.mapSize
		}
		maxSize = expandAdjust(t.mapSize, size) - recHdrSize
		newEnd := uint64(head) + recHdrSize + uint64(maxSize)
		if newEnd > 1<<32-1 {
			return fmt.Errorf("tdbcore: %s: recovery area would exceed 4 GiB", t.path)
		}
		if err := t.rawExpandFile(tx.oldMapSize, uint32(newEnd)-tx.oldMapSize); err != nil {
			return err
		}
		t.mapSize = t.fileSize
		tx.oldMapSize = t.mapSize
		var hb [4]byte
		binary.LittleEndian.PutUint32(hb[:], head)
		if err := t.rawWrite(offRecoveryStart, hb[:]); err != nil {
			return err
		}
		tx.writeExisting(offRecoveryStart, hb[:])
	}
	data := make([]byte, recHdrSize, recHdrSize+int(size))
	r := record{magic: recoveryInvalid, dataLen: size, recLen: maxSize, keyLen: oldMap}
	r.encode(data)
	le := binary.LittleEndian
	for i, b := range tx.blocks {
		if b == nil {
			continue
		}
		off := uint32(i) * tx.blockSize
		n := tx.blockLen(i)
		if off >= oldMap {
			continue
		}
		if uint64(off)+uint64(n) > uint64(tx.oldMapSize) {
			return fmt.Errorf("tdbcore: %s: transaction data crosses the old end of file at %d: %w", t.path, off, ErrCorrupt)
		}
		old, err := t.rawRead(off, n)
		if err != nil {
			return err
		}
		data = le.AppendUint32(data, off)
		data = le.AppendUint32(data, n)
		data = append(data, old...)
	}
	data = le.AppendUint32(data, recHdrSize+maxSize)
	if err := t.rawWrite(head, data); err != nil {
		return err
	}
	tx.writeExisting(head, data)
	crashPoint("recovery-data-written")
	if err := t.sync(); err != nil {
		return err
	}
	var mb [4]byte
	le.PutUint32(mb[:], recoveryMagic)
	tx.magicOffset = head + 20
	if err := t.rawWrite(tx.magicOffset, mb[:]); err != nil {
		return err
	}
	tx.writeExisting(tx.magicOffset, mb[:])
	crashPoint("recovery-magic-written")
	return t.sync()
}

// TransactionCommit makes the transaction's changes durable (unless
// NoSync) and visible. A process killed during the commit leaves a file
// that the next opener (libtdb or tdbcore) rolls back to the state before
// it. Nested, it only ends the inner level.
func (t *DB) TransactionCommit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	tx := t.tx
	if tx == nil {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrNoTransaction)
	}
	if tx.failed {
		tx.nesting = 0
		t.cancelLocked()
		return fmt.Errorf("tdbcore: %s: an earlier error or a cancelled nested transaction failed it: %w", t.path, ErrTxFailed)
	}
	if tx.nesting != 0 {
		tx.nesting--
		return nil
	}
	if len(tx.blocks) == 0 {
		return t.cancelLocked()
	}
	if !tx.prepared {
		if err := t.prepareLocked(); err != nil {
			return err
		}
	}
	for i, b := range tx.blocks {
		if b == nil {
			continue
		}
		off := uint32(i) * tx.blockSize
		if err := t.rawWrite(off, b[:tx.blockLen(i)]); err != nil {
			t.tx = nil
			_ = t.recover()
			t.tx = tx
			t.cancelLocked()
			return fmt.Errorf("tdbcore: %s: commit write failed, rolled back: %w", t.path, err)
		}
		tx.blocks[i] = nil
		crashPoint("block-written")
	}
	needRepack := false
	if tx.expanded {
		t.tx = nil
		needRepack = t.repackWorthwhile()
		t.tx = tx
	}
	tx.blocks = nil
	if err := t.sync(); err != nil {
		return err
	}
	crashPoint("blocks-synced")
	if err := t.cancelLocked(); err != nil {
		return err
	}
	if needRepack {
		t.mu.Unlock()
		err := t.Repack()
		t.mu.Lock()
		return err
	}
	return nil
}

func (t *DB) repackWorthwhile() bool {
	ptr, err := t.readOff(freelistTop)
	if err != nil {
		return false
	}
	var total, largest uint64
	w := t.newWalk(ptr)
	for ptr != 0 {
		r, err := t.readFree(ptr)
		if err != nil {
			return false
		}
		total += uint64(r.recLen)
		largest = max(largest, uint64(r.recLen))
		if w.step(ptr, r.next) != nil {
			return false
		}
		ptr = r.next
	}
	return total > largest*2
}

// crashHook, when set (by tests only), is called at the points of a
// commit where a crash must leave a recoverable file.
var crashHook func(point string)

func crashPoint(p string) {
	if crashHook != nil {
		crashHook(p)
	}
}
