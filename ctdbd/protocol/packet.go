package protocol

import (
	"bytes"
	"fmt"
)

// Packet is the body of one operation: everything after the 32-byte header.
// The concrete types are the *Req* and *Reply* types of this file.
type Packet interface {
	// Operation is the header operation of this body.
	Operation() Operation
	putBody(e *encoder)
	getBody(d *decoder, length int)
	// minLength is sizeof the C struct ctdbd allocates for this operation;
	// ctdbd never sends a shorter packet, so neither do we.
	minLength() int
}

// Marshal encodes one packet: the header (with h.Operation taken from p and
// h.Length computed) and the body, zero padded to a multiple of Alignment.
// The result is valid on both TCP and the Unix socket and has the length the
// C daemon would send for the same contents.
func Marshal(h Header, p Packet) ([]byte, error) {
	return AppendPacket(nil, h, p)
}

// AppendPacket is Marshal appending to b.
func AppendPacket(b []byte, h Header, p Packet) ([]byte, error) {
	start := len(b)
	h.Operation = p.Operation()
	h.Length = 0
	e := &encoder{b: b}
	h.put(e)
	p.putBody(e)
	if e.err != nil {
		return b[:start], e.err
	}
	n := len(e.b) - start
	n = max(n, p.minLength())
	n = alignUp(n)
	if n > MaxPacketSize {
		return b[:start], &FieldError{Field: "header.length", Err: fmt.Errorf("%w: packet of %d bytes exceeds %d", ErrTooLarge, n, MaxPacketSize)}
	}
	e.pad(n - (len(e.b) - start))
	order.PutUint32(e.b[start:], uint32(n))
	return e.b, nil
}

// Unmarshal decodes one whole packet: buf must hold exactly the header's
// Length bytes (a frame as read from a socket). Padding after the body is
// ignored. Operations this package does not know return ErrUnknown with the
// header filled in.
func Unmarshal(buf []byte) (Header, Packet, error) {
	h, err := ParseHeader(buf)
	if err != nil {
		return h, nil, err
	}
	if int(h.Length) != len(buf) {
		kind := ErrShort
		if len(buf) > int(h.Length) {
			kind = ErrInvalid
		}
		return h, nil, &FieldError{Field: "header.length", Err: fmt.Errorf("%w: header says %d bytes, buffer has %d", kind, h.Length, len(buf))}
	}
	p := newPacket(h.Operation)
	if p == nil {
		return h, nil, &FieldError{Field: "header.operation", Offset: 16, Err: fmt.Errorf("%w: operation %d", ErrUnknown, uint32(h.Operation))}
	}
	d := newDecoder(buf[HeaderSize:], HeaderSize)
	p.getBody(d, len(buf))
	if d.err != nil {
		return h, nil, d.err
	}
	return h, p, nil
}

func newPacket(op Operation) Packet {
	switch op {
	case OpReqCall:
		return &ReqCall{}
	case OpReplyCall:
		return &ReplyCall{}
	case OpReqDMaster:
		return &ReqDMaster{}
	case OpReplyDMaster:
		return &ReplyDMaster{}
	case OpReplyError:
		return &ReplyError{}
	case OpReqMessage:
		return &ReqMessage{}
	case OpReqControl:
		return &ReqControl{}
	case OpReplyControl:
		return &ReplyControl{}
	case OpReqKeepalive:
		return &ReqKeepalive{}
	case OpReqTunnel:
		return &ReqTunnel{}
	}
	return nil
}

// Call flags (ReqCall.Flags).
const (
	CallImmediateMigration uint32 = 0x1
	CallVacuumMigration    uint32 = 0x2
	CallWantReadonly       uint32 = 0x4
)

// Built-in call ids registered for every database.
const (
	CallNullFunc            uint32 = 0xFF000001 // does nothing; forces a migration
	CallFetchFunc           uint32 = 0xFF000002 // reply data = record data
	CallFetchWithHeaderFunc uint32 = 0xFF000003 // reply data = ltdb header + record data
)

// ReqCall asks the dmaster of a record to run a call function on it
// (in practice: migrate the record to the caller). Body at offset 32:
// flags, db_id, callid, hopcount, keylen, calldatalen, key, calldata.
type ReqCall struct {
	Flags    uint32
	DBID     uint32
	CallID   uint32
	HopCount uint32
	Key      []byte
	CallData []byte
}

func (*ReqCall) Operation() Operation { return OpReqCall }
func (*ReqCall) minLength() int       { return 60 }

func (p *ReqCall) putBody(e *encoder) {
	e.u32(p.Flags)
	e.u32(p.DBID)
	e.u32(p.CallID)
	e.u32(p.HopCount)
	if !e.checkLen("req_call.key", len(p.Key)) || !e.checkLen("req_call.calldata", len(p.CallData)) {
		return
	}
	e.u32(uint32(len(p.Key)))
	e.u32(uint32(len(p.CallData)))
	e.raw(p.Key)
	e.raw(p.CallData)
}

func (p *ReqCall) getBody(d *decoder, _ int) {
	p.Flags = d.u32("req_call.flags")
	p.DBID = d.u32("req_call.db_id")
	p.CallID = d.u32("req_call.callid")
	p.HopCount = d.u32("req_call.hopcount")
	kl := d.u32("req_call.keylen")
	cl := d.u32("req_call.calldatalen")
	if d.err == nil && uint64(kl)+uint64(cl) > uint64(d.remaining()) {
		d.failf("req_call.keylen", ErrTooLarge, "key %d + calldata %d bytes, %d left", kl, cl, d.remaining())
	}
	p.Key = d.bytes("req_call.key", int(kl))
	p.CallData = d.bytes("req_call.calldata", int(cl))
}

// ReplyCall answers a ReqCall. Body: status, datalen, data.
type ReplyCall struct {
	Status int32
	Data   []byte
}

func (*ReplyCall) Operation() Operation { return OpReplyCall }
func (*ReplyCall) minLength() int       { return 44 }

func (p *ReplyCall) putBody(e *encoder) {
	e.i32(p.Status)
	e.datan("reply_call.data", p.Data)
}

func (p *ReplyCall) getBody(d *decoder, _ int) {
	p.Status = d.i32("reply_call.status")
	p.Data = d.datan("reply_call.data")
}

// ReqDMaster is sent by the old dmaster of a record to the lmaster to hand
// the record over to a new dmaster. Body: db_id, pad 4, rsn, dmaster,
// keylen, datalen, key, data, then the record flags (u32, not counted in
// datalen; absent in packets of old senders, then RecordFlags is 0).
type ReqDMaster struct {
	DBID        uint32
	RSN         uint64
	DMaster     uint32
	Key         []byte
	Data        []byte
	RecordFlags uint32
}

func (*ReqDMaster) Operation() Operation { return OpReqDMaster }
func (*ReqDMaster) minLength() int       { return 64 }

func (p *ReqDMaster) putBody(e *encoder) {
	e.u32(p.DBID)
	e.pad(4)
	e.u64(p.RSN)
	e.u32(p.DMaster)
	putKeyData(e, "req_dmaster", p.Key, p.Data)
	e.u32(p.RecordFlags)
}

func (p *ReqDMaster) getBody(d *decoder, _ int) {
	p.DBID = d.u32("req_dmaster.db_id")
	d.pad("req_dmaster.pad", 4)
	p.RSN = d.u64("req_dmaster.rsn")
	p.DMaster = d.u32("req_dmaster.dmaster")
	p.Key, p.Data = getKeyData(d, "req_dmaster")
	if d.err == nil && d.remaining() >= 4 {
		p.RecordFlags = d.u32("req_dmaster.record_flags")
	}
}

// ReplyDMaster is sent by the lmaster to the new dmaster of a record.
// Body: db_id, pad 4, rsn, keylen, datalen, key, data, record flags (u32,
// optional like in ReqDMaster).
type ReplyDMaster struct {
	DBID        uint32
	RSN         uint64
	Key         []byte
	Data        []byte
	RecordFlags uint32
}

func (*ReplyDMaster) Operation() Operation { return OpReplyDMaster }
func (*ReplyDMaster) minLength() int       { return 64 }

func (p *ReplyDMaster) putBody(e *encoder) {
	e.u32(p.DBID)
	e.pad(4)
	e.u64(p.RSN)
	putKeyData(e, "reply_dmaster", p.Key, p.Data)
	e.u32(p.RecordFlags)
}

func (p *ReplyDMaster) getBody(d *decoder, _ int) {
	p.DBID = d.u32("reply_dmaster.db_id")
	d.pad("reply_dmaster.pad", 4)
	p.RSN = d.u64("reply_dmaster.rsn")
	p.Key, p.Data = getKeyData(d, "reply_dmaster")
	if d.err == nil && d.remaining() >= 4 {
		p.RecordFlags = d.u32("reply_dmaster.record_flags")
	}
}

func putKeyData(e *encoder, what string, key, data []byte) {
	if !e.checkLen(what+".key", len(key)) || !e.checkLen(what+".data", len(data)) {
		return
	}
	e.u32(uint32(len(key)))
	e.u32(uint32(len(data)))
	e.raw(key)
	e.raw(data)
}

func getKeyData(d *decoder, what string) (key, data []byte) {
	kl := d.u32(what + ".keylen")
	dl := d.u32(what + ".datalen")
	if d.err == nil && uint64(kl)+uint64(dl) > uint64(d.remaining()) {
		d.failf(what+".keylen", ErrTooLarge, "key %d + data %d bytes, %d left", kl, dl, d.remaining())
		return nil, nil
	}
	return d.bytes(what+".key", int(kl)), d.bytes(what+".data", int(dl))
}

// ReplyError reports a failed call. Body: status, msglen, msg.
type ReplyError struct {
	Status int32
	Msg    []byte
}

func (*ReplyError) Operation() Operation { return OpReplyError }
func (*ReplyError) minLength() int       { return 44 }

func (p *ReplyError) putBody(e *encoder) {
	e.i32(p.Status)
	e.datan("reply_error.msg", p.Msg)
}

func (p *ReplyError) getBody(d *decoder, _ int) {
	p.Status = d.i32("reply_error.status")
	p.Msg = d.datan("reply_error.msg")
}

// ReqMessage delivers Data to the clients that registered SrvID.
// Body: srvid u64, datalen, data (data at offset 44).
type ReqMessage struct {
	SrvID uint64
	Data  []byte
}

func (*ReqMessage) Operation() Operation { return OpReqMessage }
func (*ReqMessage) minLength() int       { return 48 }

func (p *ReqMessage) putBody(e *encoder) {
	e.u64(p.SrvID)
	e.datan("req_message.data", p.Data)
}

func (p *ReqMessage) getBody(d *decoder, _ int) {
	p.SrvID = d.u64("req_message.srvid")
	p.Data = d.datan("req_message.data")
}

// Control flags (ReqControl.Flags). The upper 16 bits are opcode specific.
const (
	ControlFlagNoReply         uint32 = 0x1
	ControlFlagOpcodeSpecific  uint32 = 0xFFFF0000
	PublicIPFlagsOnlyAvailable uint32 = 0x00010000 // GET_PUBLIC_IPS
	ControlFlagAttachRecovery  uint32 = 0x00020000 // DB_ATTACH* from recovery
)

// ReqControl is a control request. Body: opcode, pad 4, srvid u64,
// client_id, flags, datalen, data (data at offset 60). Data is the raw
// payload; DecodeRequest / NewReqControl convert it to and from the typed
// payload of the opcode.
type ReqControl struct {
	Opcode   Opcode
	SrvID    uint64 // used by REGISTER_SRVID, DEREGISTER_SRVID, TUNNEL_*
	ClientID uint32 // filled in by the daemon for client requests
	Flags    uint32
	Data     []byte
}

func (*ReqControl) Operation() Operation { return OpReqControl }
func (*ReqControl) minLength() int       { return 64 }

func (p *ReqControl) putBody(e *encoder) {
	e.u32(uint32(p.Opcode))
	e.u32(0)
	e.u64(p.SrvID)
	e.u32(p.ClientID)
	e.u32(p.Flags)
	e.datan("req_control.data", p.Data)
}

func (p *ReqControl) getBody(d *decoder, _ int) {
	p.Opcode = Opcode(d.u32("req_control.opcode"))
	d.pad("req_control.pad", 4)
	p.SrvID = d.u64("req_control.srvid")
	p.ClientID = d.u32("req_control.client_id")
	p.Flags = d.u32("req_control.flags")
	p.Data = d.datan("req_control.data")
}

// ReplyControl answers a ReqControl. Body: status i32, datalen, errorlen,
// data, error message (data at offset 44). Scalar controls (PING, GET_PID,
// GET_PNN, GET_RECMODE, PROCESS_EXISTS) carry their value in Status.
// ErrMsg is sent without a terminating NUL, as ctdbd does; a NUL sent by
// other implementations ends the message when decoding.
type ReplyControl struct {
	Status int32
	Data   []byte
	ErrMsg string
}

func (*ReplyControl) Operation() Operation { return OpReplyControl }
func (*ReplyControl) minLength() int       { return 48 }

func (p *ReplyControl) putBody(e *encoder) {
	e.i32(p.Status)
	if !e.checkLen("reply_control.data", len(p.Data)) || !e.checkString("reply_control.errmsg", p.ErrMsg) {
		return
	}
	e.u32(uint32(len(p.Data)))
	e.u32(uint32(len(p.ErrMsg)))
	e.raw(p.Data)
	e.b = append(e.b, p.ErrMsg...)
}

func (p *ReplyControl) getBody(d *decoder, _ int) {
	p.Status = d.i32("reply_control.status")
	dl := d.u32("reply_control.datalen")
	el := d.u32("reply_control.errorlen")
	if d.err == nil && uint64(dl)+uint64(el) > uint64(d.remaining()) {
		d.failf("reply_control.datalen", ErrTooLarge, "data %d + error %d bytes, %d left", dl, el, d.remaining())
		return
	}
	p.Data = d.bytes("reply_control.data", int(dl))
	msg := d.take("reply_control.errmsg", int(el))
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	p.ErrMsg = string(msg)
}

// ReqKeepalive is sent between nodes every KeepaliveInterval. Version is
// (Samba major << 16) | minor and Uptime the sender's uptime in seconds.
// Old peers send a bare header; such a packet decodes with Bare set.
type ReqKeepalive struct {
	Version uint32
	Uptime  uint32
	Bare    bool // the packet had no body (a pre-4.x peer)
}

func (*ReqKeepalive) Operation() Operation { return OpReqKeepalive }
func (p *ReqKeepalive) minLength() int {
	if p.Bare {
		return HeaderSize
	}
	return 40
}

func (p *ReqKeepalive) putBody(e *encoder) {
	if p.Bare {
		return
	}
	e.u32(p.Version)
	e.u32(p.Uptime)
}

func (p *ReqKeepalive) getBody(d *decoder, length int) {
	if length == HeaderSize {
		*p = ReqKeepalive{Bare: true}
		return
	}
	p.Version = d.u32("req_keepalive.version")
	p.Uptime = d.u32("req_keepalive.uptime")
}

// Tunnel flags and the test tunnel id.
const (
	TunnelFlagRequest uint32 = 0x1
	TunnelFlagReply   uint32 = 0x2
	TunnelFlagNoReply uint32 = 0x10
	TunnelTest        uint64 = 0xffffffff00000000
)

// ReqTunnel carries opaque data between tunnel endpoints. Body: tunnel_id
// u64, flags, datalen, data (data at offset 48).
type ReqTunnel struct {
	TunnelID uint64
	Flags    uint32
	Data     []byte
}

func (*ReqTunnel) Operation() Operation { return OpReqTunnel }
func (*ReqTunnel) minLength() int       { return 56 }

func (p *ReqTunnel) putBody(e *encoder) {
	e.u64(p.TunnelID)
	e.u32(p.Flags)
	e.datan("req_tunnel.data", p.Data)
}

func (p *ReqTunnel) getBody(d *decoder, _ int) {
	p.TunnelID = d.u64("req_tunnel.tunnel_id")
	p.Flags = d.u32("req_tunnel.flags")
	p.Data = d.datan("req_tunnel.data")
}
