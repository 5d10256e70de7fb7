package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The byte order of every integer on the wire. CTDB copies its C structs
// with memcpy, so the wire order is the host order of the sender; every
// supported CTDB platform (x86_64, aarch64, ppc64le) is little-endian and
// mixed-endian clusters do not work with the original either.
var order = binary.LittleEndian

// Sentinel errors. Decoding errors are *FieldError values that wrap one of
// these, so callers can test with errors.Is and still print which field at
// which offset was wrong.
var (
	// ErrShort means the input ended before a field it announces.
	ErrShort = errors.New("protocol: truncated input")
	// ErrTooLarge means a length exceeds MaxPacketSize or the space left.
	ErrTooLarge = errors.New("protocol: length too large")
	// ErrBadMagic means the header magic is not "CTDB".
	ErrBadMagic = errors.New("protocol: bad magic")
	// ErrBadVersion means the header carries a protocol version other than 1.
	ErrBadVersion = errors.New("protocol: unsupported protocol version")
	// ErrInvalid means a field holds a value the protocol does not allow
	// (a bool other than 0 or 1, a string without its NUL, trailing bytes ...).
	ErrInvalid = errors.New("protocol: invalid value")
	// ErrUnknown means an operation or control opcode this package does not
	// know how to type.
	ErrUnknown = errors.New("protocol: unknown operation or opcode")
)

// FieldError reports a decoding or encoding failure: which field, at which
// byte offset of the buffer handed to the decoder, and why.
type FieldError struct {
	Field  string // e.g. "node_map.node[3].addr"
	Offset int    // byte offset of the field in the decoded buffer
	Err    error  // one of the sentinel errors, possibly wrapped with detail
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d", e.Err, e.Field, e.Offset)
}

func (e *FieldError) Unwrap() error { return e.Err }

// decoder reads little-endian fields from buf with a sticky error: after the
// first failure every read returns a zero value and err keeps the first cause.
// It never allocates more than the input can back: every count is checked
// against the bytes that remain before anything is allocated.
type decoder struct {
	buf  []byte
	off  int
	base int // added to offsets in error messages (position of buf in the packet)
	err  error
}

func newDecoder(buf []byte, base int) *decoder { return &decoder{buf: buf, base: base} }

func (d *decoder) remaining() int { return len(d.buf) - d.off }

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = &FieldError{Field: field, Offset: d.base + d.off, Err: err}
	}
}

func (d *decoder) failf(field string, base error, format string, args ...any) {
	d.fail(field, fmt.Errorf("%w: "+format, append([]any{base}, args...)...))
}

// take returns the next n bytes (aliasing buf) or nil after recording an error.
func (d *decoder) take(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.failf(field, ErrShort, "need %d bytes, have %d", n, d.remaining())
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

func (d *decoder) u8(field string) uint8 {
	b := d.take(field, 1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u16(field string) uint16 {
	b := d.take(field, 2)
	if b == nil {
		return 0
	}
	return order.Uint16(b)
}

func (d *decoder) u32(field string) uint32 {
	b := d.take(field, 4)
	if b == nil {
		return 0
	}
	return order.Uint32(b)
}

func (d *decoder) i32(field string) int32 { return int32(d.u32(field)) }

func (d *decoder) u64(field string) uint64 {
	b := d.take(field, 8)
	if b == nil {
		return 0
	}
	return order.Uint64(b)
}

func (d *decoder) i64(field string) int64 { return int64(d.u64(field)) }

func (d *decoder) f64(field string) float64 { return math.Float64frombits(d.u64(field)) }

// boolean reads a one-byte bool; like CTDB, values other than 0 and 1 are refused.
func (d *decoder) boolean(field string) bool {
	at := d.off
	v := d.u8(field)
	if d.err == nil && v > 1 {
		d.off = at
		d.failf(field, ErrInvalid, "bool byte %d", v)
	}
	return v == 1
}

// pad skips n padding bytes. Their content is ignored, as CTDB ignores it:
// the daemon sends some structs straight from uninitialised memory.
func (d *decoder) pad(field string, n int) { d.take(field, n) }

// bytes returns a copy of the next n bytes (nil when n is 0).
func (d *decoder) bytes(field string, n int) []byte {
	b := d.take(field, n)
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// length reads a u32 length and checks that that many bytes remain.
func (d *decoder) length(field string) int {
	at := d.off
	n := d.u32(field)
	if d.err != nil {
		return 0
	}
	if uint64(n) > uint64(d.remaining()) {
		d.off = at
		d.failf(field, ErrTooLarge, "length %d, %d bytes left", n, d.remaining())
		return 0
	}
	return int(n)
}

// count reads a u32 element count and checks that count elements of at
// least minElem bytes each can still follow, so that a hostile count cannot
// make the caller allocate more than the input backs.
func (d *decoder) count(field string, minElem int) int {
	at := d.off
	n := d.u32(field)
	if d.err != nil {
		return 0
	}
	if minElem < 1 {
		minElem = 1
	}
	if uint64(n)*uint64(minElem) > uint64(d.remaining()) {
		d.off = at
		d.failf(field, ErrTooLarge, "count %d of %d-byte elements, %d bytes left", n, minElem, d.remaining())
		return 0
	}
	return int(n)
}

// datan reads a u32 length followed by that many bytes (CTDB's "TDB_DATA n").
func (d *decoder) datan(field string) []byte {
	n := d.length(field + ".len")
	return d.bytes(field, n)
}

// cstring decodes n bytes holding a NUL-terminated string. An empty buffer
// is the empty (NULL) string. The string must end with its only NUL.
func (d *decoder) cstring(field string, n int) string {
	at := d.off
	b := d.take(field, n)
	if d.err != nil || n == 0 {
		return ""
	}
	s, ok := parseCString(b)
	if !ok {
		d.off = at
		d.failf(field, ErrInvalid, "string of %d bytes is not NUL-terminated exactly once", n)
		return ""
	}
	return s
}

// stringn reads a u32 length (including the NUL) followed by the string.
func (d *decoder) stringn(field string) string {
	n := d.length(field + ".len")
	return d.cstring(field, n)
}

// chararray reads a fixed-size, NUL-padded char array. Like CTDB it forces
// the last byte to NUL; the value is the text before the first NUL.
func (d *decoder) chararray(field string, n int) string {
	b := d.take(field, n)
	if b == nil {
		return ""
	}
	b = b[:n-1]
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// end records an error if bytes remain after a payload that must fill its buffer.
func (d *decoder) end(what string) {
	if d.err == nil && d.remaining() != 0 {
		d.failf(what, ErrInvalid, "%d trailing bytes", d.remaining())
	}
}

func parseCString(b []byte) (string, bool) {
	if len(b) == 0 || b[len(b)-1] != 0 {
		return "", false
	}
	for _, c := range b[:len(b)-1] {
		if c == 0 {
			return "", false
		}
	}
	return string(b[:len(b)-1]), true
}

// encoder appends little-endian fields to b. Like decoder its error is
// sticky; encoding fails only for values the wire cannot carry (a string
// with an embedded NUL, a length above 4 GiB, a name too long for its array).
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) fail(field string, err error) {
	if e.err == nil {
		e.err = &FieldError{Field: field, Offset: len(e.b), Err: err}
	}
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = order.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = order.AppendUint32(e.b, v) }
func (e *encoder) i32(v int32)  { e.u32(uint32(v)) }
func (e *encoder) u64(v uint64) { e.b = order.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *encoder) f64(v float64) {
	e.u64(math.Float64bits(v))
}

func (e *encoder) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

func (e *encoder) pad(n int) {
	for range n {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) raw(b []byte) { e.b = append(e.b, b...) }

func (e *encoder) checkLen(field string, n int) bool {
	if uint64(n) > math.MaxUint32 {
		e.fail(field, fmt.Errorf("%w: %d bytes", ErrTooLarge, n))
		return false
	}
	return true
}

func (e *encoder) datan(field string, b []byte) {
	if !e.checkLen(field, len(b)) {
		return
	}
	e.u32(uint32(len(b)))
	e.raw(b)
}

// cstringLen is the encoded size of s as a NUL-terminated string: 0 for "".
func cstringLen(s string) int {
	if s == "" {
		return 0
	}
	return len(s) + 1
}

func (e *encoder) checkString(field, s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			e.fail(field, fmt.Errorf("%w: string contains NUL at %d", ErrInvalid, i))
			return false
		}
	}
	return true
}

// cstring appends s with its NUL; the empty string is encoded as nothing,
// which is how CTDB sends a NULL string.
func (e *encoder) cstring(field, s string) {
	if s == "" || !e.checkString(field, s) {
		return
	}
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

func (e *encoder) stringn(field, s string) {
	if !e.checkString(field, s) || !e.checkLen(field, cstringLen(s)) {
		return
	}
	e.u32(uint32(cstringLen(s)))
	e.cstring(field, s)
}

func (e *encoder) chararray(field, s string, n int) {
	if !e.checkString(field, s) {
		return
	}
	if len(s) > n-1 {
		e.fail(field, fmt.Errorf("%w: %q longer than %d bytes", ErrInvalid, s, n-1))
		return
	}
	e.b = append(e.b, s...)
	e.pad(n - len(s))
}
