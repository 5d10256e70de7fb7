package tdbcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Flags are libtdb's open flags (tdb.h values); only the ones listed are
// meaningful here.
type Flags uint32

// Open flags.
const (
	// ClearIfFirst wipes the database when the opener is its only user
	// (CTDB's volatile databases). Every opener with the flag holds a read
	// lock on the active-lock byte while the file is open.
	ClearIfFirst Flags = 1
	// NoLock takes no kernel locks (private files only). In-process
	// exclusion between goroutines still applies.
	NoLock Flags = 4
	// NoMmap uses pread/pwrite instead of a shared mapping.
	NoMmap Flags = 8
	// NoSync skips fsync in transactions: still safe against a process
	// crash, not against a machine crash.
	NoSync Flags = 64
	// Seqnum increments the header's sequence number on every change.
	Seqnum Flags = 128
	// Volatile is accepted for compatibility; it has no effect.
	Volatile Flags = 256
	// AllowNesting makes TransactionStart inside a transaction nest (the
	// libtdb default).
	AllowNesting Flags = 512
	// DisallowNesting makes TransactionStart inside a transaction fail.
	DisallowNesting Flags = 1024
	// IncompatibleHash creates new files with the Jenkins hash and the
	// marker that makes old libtdb versions refuse them.
	IncompatibleHash Flags = 2048
	// MutexLocking is refused: see the package comment.
	MutexLocking Flags = 4096
)

// StoreFlag selects the behaviour of Store (libtdb's TDB_REPLACE etc.).
type StoreFlag int

// Store flags.
const (
	Replace StoreFlag = 1 // insert or overwrite
	Insert  StoreFlag = 2 // fail with ErrExists if the key exists
	Modify  StoreFlag = 3 // fail with ErrNotFound if the key is absent
)

// Options control Open. The zero value opens read-write, creates the
// file if missing with mode 0600, the default hash size and hash.
type Options struct {
	HashSize int // hash chains for a new file; 0 means 131
	Flags    Flags
	ReadOnly bool // open O_RDONLY: no writes, and (as libtdb) no kernel locks
	NoCreate bool // fail if the file does not exist or is not a TDB
	Mode     os.FileMode
	// MaxDead is the number of deleted records kept per chain before they
	// are purged (CTDB's DatabaseMaxDead); 0 frees space immediately.
	MaxDead int
}

// DB is an open TDB file.
//
// A DB is safe for concurrent use by multiple goroutines: every operation
// takes the libtdb chain lock both in-process and in the kernel, and the
// operation body runs under a handle mutex. Transactions and the
// all-record lock belong to the handle, not to a goroutine: while one is
// active, operations by any goroutine on this handle run inside it. Use a
// separate DB (Open the file again) for independent work.
type DB struct {
	path     string
	f        *os.File
	fd       int
	flags    Flags
	readOnly bool
	hashSize uint32
	hashFn   func([]byte) uint32
	jenkins  bool
	maxDead  int

	locks lockTable

	// allHeld (the all-record lock is held by this handle) and closed are
	// written under mu; they are atomic so that operations can look at
	// them before taking mu (and check again under it).
	allHeld atomic.Bool
	closed  atomic.Bool

	mu            sync.Mutex // serializes operation bodies; guards the fields below
	chains        chainTable // in-process chain locks and all-record lock
	m             []byte     // shared mapping of the first fileSize bytes (nil: pread)
	fileSize      uint32     // size of the file as last seen
	mapSize       uint32     // logical size (bigger than fileSize inside a transaction)
	tx            *transaction
	allWrite      bool
	allCount      int
	traverseWrite int
	traversals    int
	flCount       int       // nesting of the free-list lock
	travPos       []travEnt // offsets where traversals of this handle stand
}

// Path returns the file name the database was opened with.
func (t *DB) Path() string { return t.path }

// HashSize returns the number of hash chains.
func (t *DB) HashSize() int { return int(t.hashSize) }

// Jenkins reports whether the file uses the Jenkins (incompatible) hash.
func (t *DB) Jenkins() bool { return t.jenkins }

// Hash returns the hash of key under this file's hash function.
func (t *DB) Hash(key []byte) uint32 { return t.hashFn(key) }

// Open opens or creates the TDB file at path. A missing or empty file is
// initialised (unless NoCreate or ReadOnly); a non-empty file that is not
// a TDB is refused, never overwritten. Open takes libtdb's open lock while
// it reads the header, wipes the file if ClearIfFirst and it is the only
// user, and replays the recovery area of a transaction interrupted by a
// crash, so the first opener after a crash repairs the file.
func Open(path string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Flags&MutexLocking != 0 {
		return nil, fmt.Errorf("tdbcore: %s: TDB_MUTEX_LOCKING is not supported (pthread mutexes in the file cannot be shared with Go); open without it: %w", path, ErrUnsupported)
	}
	if o.HashSize <= 0 {
		o.HashSize = DefaultHashSize
	}
	if o.HashSize > 1<<26 {
		return nil, fmt.Errorf("tdbcore: %s: hash size %d too large", path, o.HashSize)
	}
	if o.Mode == 0 {
		o.Mode = 0o600
	}
	t := &DB{path: path, flags: o.Flags, readOnly: o.ReadOnly, maxDead: o.MaxDead}
	if t.flags&DisallowNesting == 0 {
		t.flags |= AllowNesting
	}
	if os.Getenv("TDB_NO_FSYNC") != "" {
		t.flags |= NoSync
	}
	mode := os.O_RDWR
	if o.ReadOnly {
		mode = os.O_RDONLY
		// As libtdb: read-only opens take no kernel locks and never clear.
		t.flags |= NoLock
		t.flags &^= ClearIfFirst | IncompatibleHash
	} else if !o.NoCreate {
		mode |= os.O_CREATE
	}
	f, err := os.OpenFile(path, mode, o.Mode)
	if err != nil {
		return nil, fmt.Errorf("tdbcore: open: %w", err)
	}
	t.f = f
	t.fd = int(f.Fd())
	t.locks.init()
	t.chains.cond.L = &t.mu
	if err := t.open(&o); err != nil {
		t.unmap()
		f.Close()
		return nil, err
	}
	return t, nil
}

func (t *DB) open(o *Options) error {
	if err := t.lockByte(openLockOff, true, true); err != nil {
		return err
	}
	defer t.unlockByte(openLockOff, true)
	activeLocked := false
	if t.flags&ClearIfFirst != 0 && !t.readOnly {
		if t.lockByte(activeLockOff, true, false) == nil {
			activeLocked = true
			if err := t.ofd(unix.F_WRLCK, freelistTop, 0, true); err != nil {
				return err
			}
			err := t.newDatabase(uint32(o.HashSize))
			_ = t.ofd(unix.F_UNLCK, freelistTop, 0, false)
			if err != nil {
				return err
			}
		}
	}
	var hdr [headerSize]byte
	n, err := t.f.ReadAt(hdr[:], 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("tdbcore: %s: reading header: %w", t.path, err)
	}
	if n < headerSize || !bytes.Equal(hdr[:len(magicFood)+1], []byte(magicFood+"\x00")) {
		if o.NoCreate || t.readOnly || n != 0 {
			if n == 0 {
				return fmt.Errorf("tdbcore: %s: empty file, not a TDB database", t.path)
			}
			return &CorruptError{Path: t.path, Offset: 0, Msg: "no TDB header (bad magic or short file); not a TDB database"}
		}
		if err := t.newDatabase(uint32(o.HashSize)); err != nil {
			return err
		}
		if _, err := t.f.ReadAt(hdr[:], 0); err != nil {
			return fmt.Errorf("tdbcore: %s: reading new header: %w", t.path, err)
		}
	}
	le := binary.LittleEndian
	switch v := le.Uint32(hdr[offVersion:]); {
	case v == tdbVersion:
	case v == bswap(tdbVersion):
		return fmt.Errorf("tdbcore: %s: big-endian (byte-swapped) TDB files are not supported; convert it on its native host with tdbbackup: %w", t.path, ErrUnsupported)
	default:
		return &CorruptError{Path: t.path, Offset: offVersion, Msg: fmt.Sprintf("unknown TDB version %#x", v)}
	}
	switch rw := le.Uint32(hdr[offRWLocks:]); rw {
	case 0, hashRWLockMagic:
	case featureFlagMagic:
		ff := le.Uint32(hdr[offFeatureFlags:])
		if ff&featureMutex != 0 {
			return fmt.Errorf("tdbcore: %s: file uses pthread mutex locking (TDB_MUTEX_LOCKING), which cannot be shared safely with Go; recreate it without mutexes (tdbbackup) or open it with C tools only: %w", t.path, ErrUnsupported)
		}
		if ff != 0 {
			return fmt.Errorf("tdbcore: %s: unknown feature flags %#x: %w", t.path, ff, ErrUnsupported)
		}
	default:
		return &CorruptError{Path: t.path, Offset: offRWLocks, Msg: fmt.Sprintf("unknown rwlocks value %#x (spinlock files are not supported)", rw)}
	}
	t.hashSize = le.Uint32(hdr[offHashSize:])
	if t.hashSize == 0 || t.hashSize > 1<<26 {
		return &CorruptError{Path: t.path, Offset: offHashSize, Msg: fmt.Sprintf("invalid hash size %d", t.hashSize)}
	}
	m1, m2 := le.Uint32(hdr[offMagic1:]), le.Uint32(hdr[offMagic2:])
	o1, o2 := magicHashes(OldHash)
	j1, j2 := magicHashes(JenkinsHash)
	switch {
	case m1 == 0 && m2 == 0, m1 == o1 && m2 == o2:
		t.hashFn = OldHash
	case m1 == j1 && m2 == j2:
		t.hashFn, t.jenkins = JenkinsHash, true
	default:
		return &CorruptError{Path: t.path, Offset: offMagic1, Msg: fmt.Sprintf("magic hashes %#x/%#x match neither the default nor the Jenkins hash", m1, m2)}
	}
	var st unix.Stat_t
	if err := unix.Fstat(t.fd, &st); err != nil {
		return fmt.Errorf("tdbcore: %s: fstat: %w", t.path, err)
	}
	if st.Size > 1<<32-1 {
		return &CorruptError{Path: t.path, Offset: 0, Msg: "file larger than 4 GiB"}
	}
	if uint64(st.Size) < uint64(dataStart(t.hashSize)) {
		return &CorruptError{Path: t.path, Offset: uint32(st.Size), Msg: fmt.Sprintf("file truncated: %d bytes, hash table of %d chains needs %d", st.Size, t.hashSize, dataStart(t.hashSize))}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.remap(uint32(st.Size)); err != nil {
		return err
	}
	if activeLocked {
		t.unlockByte(activeLockOff, true)
	}
	if t.flags&ClearIfFirst != 0 {
		if err := t.lockByte(activeLockOff, false, true); err != nil {
			return err
		}
	}
	return t.recover()
}

func bswap(v uint32) uint32 {
	return v>>24 | (v>>8)&0xff00 | (v<<8)&0xff0000 | v<<24
}

// newDatabase truncates the file and writes an empty database.
func (t *DB) newDatabase(hashSize uint32) error {
	hashFn := OldHash
	buf := make([]byte, dataStart(hashSize))
	copy(buf, magicFood)
	le := binary.LittleEndian
	le.PutUint32(buf[offVersion:], tdbVersion)
	le.PutUint32(buf[offHashSize:], hashSize)
	if t.flags&IncompatibleHash != 0 {
		le.PutUint32(buf[offRWLocks:], hashRWLockMagic)
		hashFn = JenkinsHash
	}
	m1, m2 := magicHashes(hashFn)
	le.PutUint32(buf[offMagic1:], m1)
	le.PutUint32(buf[offMagic2:], m2)
	if err := t.f.Truncate(0); err != nil {
		return fmt.Errorf("tdbcore: %s: truncate: %w", t.path, err)
	}
	if _, err := t.f.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("tdbcore: %s: writing new database: %w", t.path, err)
	}
	return nil
}

// Close cancels any transaction, unmaps and closes the file, which
// releases all its locks. Call it only after every other operation, chain
// lock and traversal on this handle has finished: the descriptor number
// could otherwise be reused under a late lock call.
func (t *DB) Close() error {
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		return nil
	}
	if t.tx != nil {
		t.tx.nesting = 0
		t.cancelLocked()
	}
	t.closed.Store(true)
	t.unmap()
	t.mu.Unlock()
	return t.f.Close()
}

// ---- raw I/O -------------------------------------------------------------

func (t *DB) unmap() {
	if t.m != nil {
		_ = unix.Munmap(t.m)
		t.m = nil
	}
}

// remap maps size bytes of the file (or records the size when not mapping).
func (t *DB) remap(size uint32) error {
	t.unmap()
	t.fileSize = size
	if t.tx == nil {
		t.mapSize = size
	}
	if t.flags&NoMmap != 0 || size == 0 {
		return nil
	}
	prot := unix.PROT_READ
	if !t.readOnly {
		prot |= unix.PROT_WRITE
	}
	m, err := unix.Mmap(t.fd, 0, int(size), prot, unix.MAP_SHARED)
	if err != nil {
		// As libtdb, fall back to pread/pwrite.
		return nil
	}
	t.m = m
	return nil
}

func (t *DB) corrupt(off uint32, format string, args ...any) error {
	return &CorruptError{Path: t.path, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// rawOob checks that [off, off+n) lies in the file, noticing growth by
// other processes.
func (t *DB) rawOob(off, n uint32) error {
	end := uint64(off) + uint64(n)
	if end <= uint64(t.fileSize) {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(t.fd, &st); err != nil {
		return fmt.Errorf("tdbcore: %s: fstat: %w", t.path, err)
	}
	if st.Size > int64(t.fileSize) && st.Size <= 1<<32-1 {
		if err := t.remap(uint32(st.Size)); err != nil {
			return err
		}
	}
	if end <= uint64(t.fileSize) {
		return nil
	}
	return t.corrupt(off, "read/write of %d bytes beyond end of file (size %d)", n, t.fileSize)
}

// rawRead returns n bytes at off. The slice may alias the mapping and is
// only valid until the next write or remap.
func (t *DB) rawRead(off, n uint32) ([]byte, error) {
	if err := t.rawOob(off, n); err != nil {
		return nil, err
	}
	if t.m != nil {
		return t.m[off : off+n : off+n], nil
	}
	buf := make([]byte, n)
	if _, err := t.f.ReadAt(buf, int64(off)); err != nil {
		return nil, fmt.Errorf("tdbcore: %s: read %d bytes at offset %d: %w", t.path, n, off, err)
	}
	return buf, nil
}

func (t *DB) rawWrite(off uint32, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if t.readOnly {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrReadOnly)
	}
	if err := t.rawOob(off, uint32(len(b))); err != nil {
		return err
	}
	if t.m != nil {
		copy(t.m[off:], b)
		return nil
	}
	if _, err := t.f.WriteAt(b, int64(off)); err != nil {
		return fmt.Errorf("tdbcore: %s: write %d bytes at offset %d: %w", t.path, len(b), off, err)
	}
	return nil
}

// rawExpandFile grows the file from size by addition bytes of zeros,
// written (not sparse) so that a full disk shows up here, not as SIGBUS.
func (t *DB) rawExpandFile(size, addition uint32) error {
	if t.readOnly {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrReadOnly)
	}
	if uint64(size)+uint64(addition) > 1<<32-1 {
		return fmt.Errorf("tdbcore: %s: database would exceed 4 GiB", t.path)
	}
	if err := t.f.Truncate(int64(size) + int64(addition)); err != nil {
		return fmt.Errorf("tdbcore: %s: expanding file to %d bytes: %w (is the disk full?)", t.path, size+addition, err)
	}
	zero := make([]byte, 8192)
	for off, left := size, addition; left > 0; {
		n := min(left, uint32(len(zero)))
		if _, err := t.f.WriteAt(zero[:n], int64(off)); err != nil {
			return fmt.Errorf("tdbcore: %s: expanding file at offset %d: %w (is the disk full?)", t.path, off, err)
		}
		off += n
		left -= n
	}
	return t.remap(size + addition)
}

// ---- I/O through the transaction layer ----------------------------------

func (t *DB) oob(off, n uint32) error {
	if t.tx != nil {
		if uint64(off)+uint64(n) <= uint64(t.mapSize) {
			return nil
		}
		return t.corrupt(off, "access of %d bytes beyond end of database (size %d)", n, t.mapSize)
	}
	return t.rawOob(off, n)
}

func (t *DB) read(off, n uint32) ([]byte, error) {
	if t.tx == nil && uint64(off)+uint64(n) <= uint64(len(t.m)) {
		// Fast path of rawRead: inside the mapping (len(t.m) == t.fileSize).
		return t.m[off : off+n : off+n], nil
	}
	if t.tx != nil {
		return t.tx.read(t, off, n)
	}
	return t.rawRead(off, n)
}

func (t *DB) write(off uint32, b []byte) error {
	if t.readOnly {
		return fmt.Errorf("tdbcore: %s: %w", t.path, ErrReadOnly)
	}
	if t.tx != nil {
		return t.tx.write(t, off, b)
	}
	return t.rawWrite(off, b)
}

func (t *DB) readOff(off uint32) (uint32, error) {
	b, err := t.read(off, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (t *DB) writeOff(off, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return t.write(off, b[:])
}

func (t *DB) readRecRaw(off uint32) (record, error) {
	var r record
	err := t.loadRecRaw(off, &r)
	return r, err
}

// loadRecRaw reads the record header at off into r.
func (t *DB) loadRecRaw(off uint32, r *record) error {
	if t.tx == nil && uint64(off)+recHdrSize <= uint64(len(t.m)) {
		r.decode(t.m[off : off+recHdrSize])
		return nil
	}
	b, err := t.read(off, recHdrSize)
	if err != nil {
		*r = record{}
		return err
	}
	r.decode(b)
	return nil
}

// readRec reads a chain record header and checks its magic and next pointer.
func (t *DB) readRec(off uint32) (record, error) {
	var r record
	err := t.loadRec(off, &r)
	return r, err
}

// loadRec is readRec into r.
func (t *DB) loadRec(off uint32, r *record) error {
	if err := t.loadRecRaw(off, r); err != nil {
		return err
	}
	if r.badMagic() {
		return t.corrupt(off, "bad record magic %#x", r.magic)
	}
	if r.next != 0 {
		if r.next < dataStart(t.hashSize) {
			return t.corrupt(off, "record next pointer %d points into the header", r.next)
		}
		if err := t.oob(r.next, recHdrSize); err != nil {
			return t.corrupt(off, "record next pointer %d beyond end of file", r.next)
		}
	}
	return nil
}

func (t *DB) writeRec(off uint32, r *record) error {
	var b [recHdrSize]byte
	r.encode(b[:])
	return t.write(off, b[:])
}

// ---- recovery -------------------------------------------------------------

func (t *DB) needsRecovery() bool {
	if len(t.m) >= headerSize && binary.LittleEndian.Uint32(t.m[offRecoveryStart:]) == 0 {
		return false // the common case, straight from the mapping
	}
	head, err := t.rawReadOff(offRecoveryStart)
	if err != nil {
		return true
	}
	if head == 0 {
		return false
	}
	b, err := t.rawRead(head, recHdrSize)
	if err != nil {
		return true
	}
	return decodeRecord(b).magic == recoveryMagic
}

func (t *DB) rawReadOff(off uint32) (uint32, error) {
	b, err := t.rawRead(off, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// recover replays a committed-but-unfinished transaction's saved blocks.
// The caller holds the open lock or an exclusive all-record lock.
func (t *DB) recover() error {
	head, err := t.rawReadOff(offRecoveryStart)
	if err != nil || head == 0 {
		return err
	}
	b, err := t.rawRead(head, recHdrSize)
	if err != nil {
		return fmt.Errorf("tdbcore: %s: reading recovery record at offset %d: %w", t.path, head, err)
	}
	rec := decodeRecord(b)
	if rec.magic != recoveryMagic {
		return nil
	}
	if t.readOnly {
		return fmt.Errorf("tdbcore: %s: an interrupted transaction needs recovery; open the file read-write once: %w", t.path, ErrReadOnly)
	}
	eof := rec.keyLen
	data, err := t.rawRead(head+recHdrSize, rec.dataLen)
	if err != nil {
		return fmt.Errorf("tdbcore: %s: reading recovery data: %w", t.path, err)
	}
	data = bytes.Clone(data)
	le := binary.LittleEndian
	for p := uint32(0); uint64(p)+8 < uint64(len(data)); {
		ofs, n := le.Uint32(data[p:]), le.Uint32(data[p+4:])
		if uint64(p)+8+uint64(n) > uint64(len(data)) {
			return t.corrupt(head, "recovery data entry at %d overruns the record", p)
		}
		if err := t.rawWrite(ofs, data[p+8:p+8+n]); err != nil {
			return fmt.Errorf("tdbcore: %s: recovery failed to restore %d bytes at offset %d: %w", t.path, n, ofs, err)
		}
		p += 8 + n
	}
	if err := t.sync(); err != nil {
		return err
	}
	if eof <= head {
		if err := t.rawWriteOff(offRecoveryStart, 0); err != nil {
			return err
		}
	}
	if err := t.rawWriteOff(head+20, 0); err != nil {
		return err
	}
	return t.sync()
}

func (t *DB) rawWriteOff(off, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return t.rawWrite(off, b[:])
}

func (t *DB) sync() error {
	if t.flags&NoSync != 0 {
		return nil
	}
	if t.m != nil {
		if err := unix.Msync(t.m, unix.MS_SYNC); err != nil {
			return fmt.Errorf("tdbcore: %s: msync: %w", t.path, err)
		}
	}
	if err := unix.Fdatasync(t.fd); err != nil {
		return fmt.Errorf("tdbcore: %s: fdatasync: %w", t.path, err)
	}
	return nil
}

// lockAndRecover runs recovery under the same locks as a commit.
func (t *DB) lockAndRecover() error {
	if err := t.ofd(unix.F_WRLCK, freelistTop, 0, true); err != nil {
		return err
	}
	defer t.ofd(unix.F_UNLCK, freelistTop, 0, false)
	if err := t.ofd(unix.F_WRLCK, openLockOff, 1, true); err != nil {
		return err
	}
	defer t.ofd(unix.F_UNLCK, openLockOff, 1, false)
	return t.recover()
}

var errRetry = errors.New("retry")
