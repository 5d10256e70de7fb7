package tdbcore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// On-disk constants of the libtdb 1.4 format (little-endian files only).
const (
	magicFood        = "TDB file\n"
	tdbVersion       = 0x26011967 + 6
	recMagic         = 0x26011999
	freeMagic        = 0xd9fee666 // ^recMagic
	deadMagic        = 0xfee1dead
	recoveryMagic    = 0xf53bc0e7
	recoveryInvalid  = 0
	hashRWLockMagic  = 0x0bad1a51
	featureFlagMagic = 0x0bad1a52
	featureMutex     = 0x1
	padU32           = 0x42424242

	headerSize      = 168
	freelistTop     = 168
	recHdrSize      = 24
	DefaultHashSize = 131
	pageSize        = 4096

	offVersion       = 32
	offHashSize      = 36
	offRWLocks       = 40
	offRecoveryStart = 44
	offSeqnum        = 48
	offMagic1        = 52
	offMagic2        = 56
	offFeatureFlags  = 60
	offMutexSize     = 64

	openLockOff        = 0
	activeLockOff      = 4
	transactionLockOff = 8
	freelistLockOff    = freelistTop - 4

	minRecSize = recHdrSize + 4 + 8
)

// hashTop is the offset of the head pointer of hash chain b.
func hashTop(b uint32) uint32 { return freelistTop + 4*(b+1) }

// chainLockOff is the byte libtdb locks for hash chain b.
func chainLockOff(b uint32) uint32 { return freelistTop + 4*b }

func dataStart(hashSize uint32) uint32 { return freelistTop + 4*(hashSize+1) }

// record is the 24-byte header in front of every record in the data area.
type record struct {
	next, recLen, keyLen, dataLen, fullHash, magic uint32
}

func decodeRecord(b []byte) record {
	var r record
	r.decode(b)
	return r
}

// decode sets r from the 24 bytes of b. Hot paths decode into a record
// in place rather than returning one: returning the struct makes the
// compiler copy it with wide moves right after narrow stores, which
// stalls store forwarding.
func (r *record) decode(b []byte) {
	le := binary.LittleEndian
	_ = b[recHdrSize-1]
	r.next, r.recLen, r.keyLen = le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])
	r.dataLen, r.fullHash, r.magic = le.Uint32(b[12:]), le.Uint32(b[16:]), le.Uint32(b[20:])
}

func (r *record) encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b, r.next)
	le.PutUint32(b[4:], r.recLen)
	le.PutUint32(b[8:], r.keyLen)
	le.PutUint32(b[12:], r.dataLen)
	le.PutUint32(b[16:], r.fullHash)
	le.PutUint32(b[20:], r.magic)
}

func (r *record) dead() bool { return r.magic == deadMagic }

func (r *record) badMagic() bool { return r.magic != recMagic && r.magic != deadMagic }

// magicHashes returns the header's magic1/magic2 values for a hash function.
func magicHashes(h func([]byte) uint32) (uint32, uint32) {
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], recMagic)
	return h([]byte(magicFood + "\x00")), h(m[:])
}

func alignUp(v, a uint32) uint32 { return (v + a - 1) &^ (a - 1) }

// Sentinel errors. Errors returned by this package wrap one of these where
// it applies, so callers can test with errors.Is.
var (
	ErrNotFound      = errors.New("tdbcore: record not found")
	ErrExists        = errors.New("tdbcore: record exists")
	ErrCorrupt       = errors.New("tdbcore: database corrupt")
	ErrReadOnly      = errors.New("tdbcore: database opened read-only")
	ErrWouldBlock    = errors.New("tdbcore: lock held by someone else")
	ErrNesting       = errors.New("tdbcore: nested transactions are disabled on this database")
	ErrNoTransaction = errors.New("tdbcore: no transaction in progress")
	ErrLockState     = errors.New("tdbcore: invalid lock state")
	ErrUnsupported   = errors.New("tdbcore: unsupported database")
	ErrClosed        = errors.New("tdbcore: database closed")
	ErrTxFailed      = errors.New("tdbcore: transaction failed")
)

// CorruptError reports a structural problem in a file, with the offset at
// which it was found. It matches ErrCorrupt with errors.Is.
type CorruptError struct {
	Path   string
	Offset uint32
	Msg    string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("tdbcore: %s: corrupt at offset %d: %s (check it with `tdbtool %s check`; restore it from a backup or rebuild it with `tdbbackup`)", e.Path, e.Offset, e.Msg, e.Path)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
