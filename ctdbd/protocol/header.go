// Package protocol encodes and decodes CTDB protocol version 1 packets and
// control payloads byte for byte as CTDB 4.17 does on x86_64: host (little)
// byte order, the 64-bit C struct layout with its padding, 28-byte socket
// addresses, and packets padded to 8 bytes.
//
// The package is pure: it performs no I/O and keeps no state. Every decoder
// checks each length against the bytes that remain before it allocates, never
// panics on any input, and refuses packets longer than MaxPacketSize (the
// original has no bound). Errors are *FieldError values naming the field and
// its offset; they wrap the sentinel errors of this package.
//
// Layout of the package: header.go (the 32-byte header, framing),
// packet.go (one type per operation), opcode.go (control opcodes),
// srvid.go (message ports), types.go and stats.go (marshalled structs),
// control.go (typed control payloads per opcode).
package protocol

import (
	"fmt"
)

// Protocol constants.
const (
	// Magic is the header magic: the bytes "BDTC" on the wire ("CTDB" read as big-endian).
	Magic uint32 = 0x43544442
	// Version is the protocol version carried by every packet.
	Version uint32 = 1
	// HeaderSize is the size of the packet header.
	HeaderSize = 32
	// Alignment is the multiple of which every packet CTDB sends is long
	// (zero padded). TCP receivers require it; the Unix socket does not.
	Alignment = 8
	// MaxPacketSize bounds the length field of any packet accepted by this
	// package. CTDB itself has no bound; a record buffer during recovery is
	// limited by RecBufferSizeLimit (1 MB by default), so 64 MiB leaves ample
	// room while stopping a corrupt or hostile length from exhausting memory.
	MaxPacketSize = 64 << 20
	// Port is CTDB's TCP port.
	Port = 4379
)

// Special node numbers used as destination.
const (
	CurrentNode         uint32 = 0xF0000001 // the local daemon (Unix socket)
	BroadcastAll        uint32 = 0xF0000002 // every node, active or not
	BroadcastActive     uint32 = 0xF0000003 // every node in the VNN map
	BroadcastConnected  uint32 = 0xF0000004 // every connected node
	Multicast           uint32 = 0xF0000005 // selected connected nodes
	UnknownPNN          uint32 = 0xFFFFFFFF // no node / unknown leader
	InvalidGeneration   uint32 = 1          // generation of a node before its first recovery
	LMasterAny          uint32 = 0xFFFFFFFF // DB_PULL: records of any lmaster
	DBSeqnumKey                = "__db_sequence_number__"
	DefaultSocketPath          = "/run/ctdb/ctdbd.socket"
	DefaultLegacySocket        = "/var/run/ctdb/ctdbd.socket"
)

// Operation is the packet type in the header.
type Operation uint32

// Operations (enum ctdb_operation). Value 6 was removed from the protocol.
const (
	OpReqCall      Operation = 0
	OpReplyCall    Operation = 1
	OpReqDMaster   Operation = 2
	OpReplyDMaster Operation = 3
	OpReplyError   Operation = 4
	OpReqMessage   Operation = 5
	OpReqControl   Operation = 7
	OpReplyControl Operation = 8
	OpReqKeepalive Operation = 9
	OpReqTunnel    Operation = 10
)

var opNames = map[Operation]string{
	OpReqCall:      "REQ_CALL",
	OpReplyCall:    "REPLY_CALL",
	OpReqDMaster:   "REQ_DMASTER",
	OpReplyDMaster: "REPLY_DMASTER",
	OpReplyError:   "REPLY_ERROR",
	OpReqMessage:   "REQ_MESSAGE",
	OpReqControl:   "REQ_CONTROL",
	OpReplyControl: "REPLY_CONTROL",
	OpReqKeepalive: "REQ_KEEPALIVE",
	OpReqTunnel:    "REQ_TUNNEL",
}

// String returns CTDB's name without the CTDB_ prefix, e.g. "REQ_CONTROL".
func (o Operation) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("OPERATION(%d)", uint32(o))
}

// Header is the 32-byte packet header minus its constant fields (magic and
// version are written by Marshal and checked by the decoders).
type Header struct {
	// Length is the total packet length including the header and the
	// padding. Marshal computes it; decoders report what the packet said.
	Length     uint32
	Generation uint32 // VNN map generation of the sender; clients send 0
	Operation  Operation
	DestNode   uint32 // PNN or one of the special node numbers
	SrcNode    uint32 // PNN of the sender
	ReqID      uint32 // request id, echoed in replies
}

func (h *Header) put(e *encoder) {
	e.u32(h.Length)
	e.u32(Magic)
	e.u32(Version)
	e.u32(h.Generation)
	e.u32(uint32(h.Operation))
	e.u32(h.DestNode)
	e.u32(h.SrcNode)
	e.u32(h.ReqID)
}

func (h *Header) get(d *decoder) {
	h.Length = d.u32("header.length")
	at := d.off
	if m := d.u32("header.magic"); d.err == nil && m != Magic {
		d.off = at
		d.failf("header.magic", ErrBadMagic, "0x%08x", m)
	}
	at = d.off
	if v := d.u32("header.version"); d.err == nil && v != Version {
		d.off = at
		d.failf("header.version", ErrBadVersion, "%d", v)
	}
	h.Generation = d.u32("header.generation")
	h.Operation = Operation(d.u32("header.operation"))
	h.DestNode = d.u32("header.destnode")
	h.SrcNode = d.u32("header.srcnode")
	h.ReqID = d.u32("header.reqid")
}

// ParseHeader decodes and checks the header at the start of buf: magic,
// version, and a length of at least HeaderSize and at most MaxPacketSize.
// It does not require buf to hold the whole packet.
func ParseHeader(buf []byte) (Header, error) {
	var h Header
	d := newDecoder(buf, 0)
	h.get(d)
	if d.err != nil {
		return h, d.err
	}
	if err := checkLength(h.Length); err != nil {
		return h, err
	}
	return h, nil
}

func checkLength(n uint32) error {
	if n < HeaderSize {
		return &FieldError{Field: "header.length", Err: fmt.Errorf("%w: %d is less than the %d-byte header", ErrInvalid, n, HeaderSize)}
	}
	if n > MaxPacketSize {
		return &FieldError{Field: "header.length", Err: fmt.Errorf("%w: %d exceeds %d", ErrTooLarge, n, MaxPacketSize)}
	}
	return nil
}

// FrameLength returns the packet length announced by the first four bytes of
// a stream, for readers that frame packets: read 4 bytes, call FrameLength,
// read the rest. It refuses lengths below HeaderSize or above MaxPacketSize.
func FrameLength(prefix []byte) (int, error) {
	if len(prefix) < 4 {
		return 0, &FieldError{Field: "header.length", Err: fmt.Errorf("%w: need 4 bytes, have %d", ErrShort, len(prefix))}
	}
	n := order.Uint32(prefix)
	if err := checkLength(n); err != nil {
		return 0, err
	}
	return int(n), nil
}

// CheckTCPLength enforces the node-to-node rule that a packet length is a
// multiple of Alignment; CTDB drops the connection otherwise.
func CheckTCPLength(n uint32) error {
	if n%Alignment != 0 {
		return &FieldError{Field: "header.length", Err: fmt.Errorf("%w: %d is not a multiple of %d", ErrInvalid, n, Alignment)}
	}
	return checkLength(n)
}

func alignUp(n int) int { return (n + Alignment - 1) &^ (Alignment - 1) }
