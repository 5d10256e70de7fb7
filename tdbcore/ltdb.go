package tdbcore

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// LtdbHeaderSize is the size of CTDB's record header (struct
// ctdb_ltdb_header) on 64-bit builds: 20 bytes of fields padded to 24.
// 32-bit builds wrote 20-byte headers (LtdbHeaderSize32).
const (
	LtdbHeaderSize   = 24
	LtdbHeaderSize32 = 20
)

// Record flags of the ltdb header (CTDB_REC_*).
const (
	LtdbFlagDefault              uint32 = 0x00000000
	LtdbFlagPersistent           uint32 = 0x00000001
	LtdbFlagPersistentInProgress uint32 = 0x00000002
	LtdbFlagMigratedWithData     uint32 = 0x00010000
	LtdbFlagVacuumMigrated       uint32 = 0x00020000 // transient, never stored
	LtdbFlagAutomatic            uint32 = 0x00040000
	LtdbFlagROHaveDelegations    uint32 = 0x01000000
	LtdbFlagROHaveReadonly       uint32 = 0x02000000
	LtdbFlagRORevokingReadonly   uint32 = 0x04000000
	LtdbFlagRORevokeComplete     uint32 = 0x08000000
)

// LtdbHeader is the header CTDB keeps in front of every value of its local
// copies of clustered databases. On disk (little-endian, x86_64 layout):
// rsn u64 at 0, dmaster u32 at 8, reserved1 u32 at 12, flags u32 at 16,
// 4 bytes of padding at 20. A value that is exactly a header, with no
// data, is an empty (deleted) record. LtdbHeader is a plain value.
type LtdbHeader struct {
	RSN       uint64 // record sequence number
	DMaster   uint32 // PNN of the node holding the current copy
	Reserved1 uint32
	Flags     uint32
}

// AppendTo appends the 24-byte encoding of h to b.
func (h LtdbHeader) AppendTo(b []byte) []byte {
	var e [LtdbHeaderSize]byte
	h.encode(e[:])
	return append(b, e[:]...)
}

func (h LtdbHeader) encode(e []byte) {
	le := binary.LittleEndian
	le.PutUint64(e[0:], h.RSN)
	le.PutUint32(e[8:], h.DMaster)
	le.PutUint32(e[12:], h.Reserved1)
	le.PutUint32(e[16:], h.Flags)
}

// Bytes returns the 24-byte encoding of h.
func (h LtdbHeader) Bytes() []byte { return h.AppendTo(nil) }

// String formats h as ltdbtool -p prints it (without the data line).
func (h LtdbHeader) String() string {
	return fmt.Sprintf("dmaster: %d\nrsn: %d\nflags: 0x%x", int32(h.DMaster), h.RSN, h.Flags)
}

// SplitLtdb splits a stored value into its header and data. It fails if
// the value is shorter than a header.
func SplitLtdb(value []byte) (LtdbHeader, []byte, error) {
	if len(value) < LtdbHeaderSize {
		return LtdbHeader{}, nil, fmt.Errorf("tdbcore: value of %d bytes too short for a %d-byte ctdb header", len(value), LtdbHeaderSize)
	}
	return decodeLtdb(value, LtdbHeaderSize), value[LtdbHeaderSize:], nil
}

// SplitLtdbSize is SplitLtdb for a header of size bytes (0, 20 or 24, or
// any other size up to 24 as ltdbtool's -S allows): the header fields are
// taken from the first min(size, 24) bytes, over defaults of rsn 0,
// dmaster 0xffffffff, flags 0, as ltdbtool does.
func SplitLtdbSize(value []byte, size int) (LtdbHeader, []byte, error) {
	size = min(max(size, 0), LtdbHeaderSize)
	if len(value) < size {
		return LtdbHeader{}, nil, fmt.Errorf("tdbcore: value of %d bytes too short for a %d-byte ctdb header", len(value), size)
	}
	return decodeLtdb(value, size), value[size:], nil
}

func decodeLtdb(value []byte, size int) LtdbHeader {
	var raw [LtdbHeaderSize]byte
	LtdbHeader{DMaster: 0xffffffff}.encode(raw[:])
	copy(raw[:], value[:size])
	le := binary.LittleEndian
	return LtdbHeader{
		RSN:       le.Uint64(raw[0:]),
		DMaster:   le.Uint32(raw[8:]),
		Reserved1: le.Uint32(raw[12:]),
		Flags:     le.Uint32(raw[16:]),
	}
}

// JoinLtdb returns header followed by data, the value CTDB stores.
func JoinLtdb(h LtdbHeader, data []byte) []byte {
	return append(h.AppendTo(make([]byte, 0, LtdbHeaderSize+len(data))), data...)
}

// JoinLtdbSize is JoinLtdb with a header of size bytes (truncated or
// zero-padded encoding; 20 for 32-bit peers, 0 for none).
func JoinLtdbSize(h LtdbHeader, data []byte, size int) []byte {
	size = min(max(size, 0), LtdbHeaderSize)
	out := make([]byte, 0, size+len(data))
	out = append(out, h.Bytes()[:size]...)
	return append(out, data...)
}

// DumpString formats b the way tdbdump prints keys and values: printable
// ASCII except '"' and '\' as is, every other byte as \XX (upper-case hex).
func DumpString(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\%02X", c)
		}
	}
	return sb.String()
}
