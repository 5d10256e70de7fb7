package protocol

import (
	"fmt"
	"net/netip"
	"time"
)

// Payload is a marshalled CTDB type: a control payload, a message payload,
// or a piece of one. The set is closed: every Payload is a type of this
// package. Use MarshalPayload and UnmarshalPayload to convert.
type Payload interface {
	put(e *encoder)
	get(d *decoder)
}

// MarshalPayload encodes p in CTDB's wire layout.
func MarshalPayload(p Payload) ([]byte, error) {
	e := &encoder{}
	p.put(e)
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

// UnmarshalPayload decodes data into p. The payload must use all of data:
// trailing bytes are an error (a control's data length is exact).
func UnmarshalPayload(data []byte, p Payload) error {
	d := newDecoder(data, 0)
	p.get(d)
	d.end(fmt.Sprintf("%T", p))
	return d.err
}

// ---------------------------------------------------------------------------
// Scalars and strings.

// Empty is the payload of controls that carry no data.
type Empty struct{}

func (*Empty) put(*encoder) {}
func (*Empty) get(*decoder) {}

// Uint32 is a bare u32 payload (db_id, log level, recovery mode, role ...).
type Uint32 uint32

func (v *Uint32) put(e *encoder) { e.u32(uint32(*v)) }
func (v *Uint32) get(d *decoder) { *v = Uint32(d.u32("uint32")) }

// Blob is an opaque payload: its bytes as they are, for messages whose format is
// the business of the sender and the receiver alone (ctdb-go's own srvids).
type Blob []byte

func (b *Blob) put(e *encoder) { e.raw(*b) }
func (b *Blob) get(d *decoder) { *b = d.bytes("blob", d.remaining()) }

// Int32 is a bare i32 payload (pid, tdb open flags).
type Int32 int32

func (v *Int32) put(e *encoder) { e.i32(int32(*v)) }
func (v *Int32) get(d *decoder) { *v = Int32(d.i32("int32")) }

// Uint64 is a bare u64 payload (a srvid, a database sequence number).
type Uint64 uint64

func (v *Uint64) put(e *encoder) { e.u64(uint64(*v)) }
func (v *Uint64) get(d *decoder) { *v = Uint64(d.u64("uint64")) }

// Double is a bare IEEE 754 double payload (reclock latency).
type Double float64

func (v *Double) put(e *encoder) { e.f64(float64(*v)) }
func (v *Double) get(d *decoder) { *v = Double(d.f64("double")) }

// String is a payload that is one NUL-terminated string filling the whole
// buffer (a database name or path). The empty string is sent as no bytes,
// as CTDB sends a NULL string; a lone NUL also decodes as "".
type String string

func (v *String) put(e *encoder) { e.cstring("string", string(*v)) }
func (v *String) get(d *decoder) { *v = String(d.cstring("string", d.remaining())) }

// StringN is a u32 length (counting the NUL) followed by a NUL-terminated
// string: the GET_TUNABLE request.
type StringN string

func (v *StringN) put(e *encoder) { e.stringn("stringn", string(*v)) }
func (v *StringN) get(d *decoder) { *v = StringN(d.stringn("stringn")) }

// DBIDPadded is a db_id followed by 4 zero bytes: the GET_DB_SEQNUM request.
type DBIDPadded uint32

func (v *DBIDPadded) put(e *encoder) { e.u32(uint32(*v)); e.pad(4) }
func (v *DBIDPadded) get(d *decoder) {
	*v = DBIDPadded(d.u32("db_id"))
	d.pad("db_id.pad", 4)
}

// ---------------------------------------------------------------------------
// Time.

// Timeval is a struct timeval of 64-bit Linux: seconds and microseconds, 16 bytes.
type Timeval struct {
	Sec  int64
	Usec int64
}

// TimevalOf converts t; the zero time.Time becomes the zero Timeval.
func TimevalOf(t time.Time) Timeval {
	if t.IsZero() {
		return Timeval{}
	}
	us := t.UnixMicro()
	return Timeval{Sec: us / 1e6, Usec: us % 1e6}
}

// Time converts tv; the zero Timeval becomes the zero time.Time.
func (tv Timeval) Time() time.Time {
	if tv == (Timeval{}) {
		return time.Time{}
	}
	return time.Unix(tv.Sec, tv.Usec*1000)
}

func (tv *Timeval) put(e *encoder) { e.i64(tv.Sec); e.i64(tv.Usec) }
func (tv *Timeval) getf(d *decoder, f string) {
	tv.Sec = d.i64(f + ".tv_sec")
	tv.Usec = d.i64(f + ".tv_usec")
}
func (tv *Timeval) get(d *decoder) { tv.getf(d, "timeval") }

// Uptime is the UPTIME reply: four timevals.
type Uptime struct {
	CurrentTime          Timeval
	CtdbdStartTime       Timeval
	LastRecoveryStarted  Timeval
	LastRecoveryFinished Timeval
}

func (u *Uptime) put(e *encoder) {
	u.CurrentTime.put(e)
	u.CtdbdStartTime.put(e)
	u.LastRecoveryStarted.put(e)
	u.LastRecoveryFinished.put(e)
}

func (u *Uptime) get(d *decoder) {
	u.CurrentTime.getf(d, "uptime.current_time")
	u.CtdbdStartTime.getf(d, "uptime.ctdbd_start_time")
	u.LastRecoveryStarted.getf(d, "uptime.last_recovery_started")
	u.LastRecoveryFinished.getf(d, "uptime.last_recovery_finished")
}

// ---------------------------------------------------------------------------
// Socket addresses.

// SockAddrSize is the wire size of a ctdb_sock_addr (sizeof sockaddr_in6).
const SockAddrSize = 28

// Address families as Linux numbers them.
const (
	afUnspec = 0
	afInet   = 2
	afInet6  = 10
)

// SockAddr is a ctdb_sock_addr: the raw 28-byte union of sockaddr_in and
// sockaddr_in6 (family in host order, port and address in network order).
// The zero value (no address) is sent as 28 zero bytes (AF_UNSPEC).
type SockAddr struct {
	Addr    netip.Addr // IPv4 or IPv6; invalid means AF_UNSPEC
	Port    uint16
	ScopeID uint32 // sin6_scope_id, IPv6 only
}

// SockAddrOf returns the SockAddr of ap. IPv4-mapped IPv6 addresses are
// sent as IPv4, as CTDB canonicalises them.
func SockAddrOf(ap netip.AddrPort) SockAddr {
	return SockAddr{Addr: ap.Addr().Unmap(), Port: ap.Port()}
}

// AddrPort returns the address and port.
func (s SockAddr) AddrPort() netip.AddrPort { return netip.AddrPortFrom(s.Addr, s.Port) }

func (s SockAddr) String() string {
	if !s.Addr.IsValid() {
		return "unspec"
	}
	if s.Port == 0 {
		return s.Addr.String()
	}
	return s.AddrPort().String()
}

func (s *SockAddr) put(e *encoder) {
	start := len(e.b)
	switch {
	case !s.Addr.IsValid():
	case s.Addr.Is4():
		e.u16(afInet)
		e.b = append(e.b, byte(s.Port>>8), byte(s.Port))
		a := s.Addr.As4()
		e.raw(a[:])
	default:
		e.u16(afInet6)
		e.b = append(e.b, byte(s.Port>>8), byte(s.Port))
		e.u32(0) // flowinfo
		a := s.Addr.As16()
		e.raw(a[:])
		e.u32(s.ScopeID)
	}
	e.pad(SockAddrSize - (len(e.b) - start))
}

func (s *SockAddr) getf(d *decoder, f string) {
	at := d.off
	b := d.take(f, SockAddrSize)
	if b == nil {
		return
	}
	*s = SockAddr{}
	fam := order.Uint16(b)
	port := uint16(b[2])<<8 | uint16(b[3])
	switch fam {
	case afUnspec:
	case afInet:
		s.Addr = netip.AddrFrom4([4]byte(b[4:8]))
		s.Port = port
	case afInet6:
		s.Addr = netip.AddrFrom16([16]byte(b[8:24]))
		s.Port = port
		s.ScopeID = order.Uint32(b[24:28])
	default:
		d.off = at
		d.failf(f+".family", ErrInvalid, "address family %d", fam)
	}
}

func (s *SockAddr) get(d *decoder) { s.getf(d, "sock_addr") }

// Connection is a TCP connection: Src and Dst (CTDB also calls them server
// and client; in TCP_CLIENT from smbd Src is the client, Dst the public IP).
type Connection struct {
	Src SockAddr
	Dst SockAddr
}

func (c *Connection) put(e *encoder) { c.Src.put(e); c.Dst.put(e) }
func (c *Connection) getf(d *decoder, f string) {
	c.Src.getf(d, f+".src")
	c.Dst.getf(d, f+".dst")
}
func (c *Connection) get(d *decoder) { c.getf(d, "connection") }

// ConnectionList is a u32 count followed by connections.
type ConnectionList struct {
	Conns []Connection
}

func (l *ConnectionList) put(e *encoder) {
	e.u32(uint32(len(l.Conns)))
	for i := range l.Conns {
		l.Conns[i].put(e)
	}
}

func (l *ConnectionList) get(d *decoder) {
	l.Conns = getConns(d, "connection_list")
}

func getConns(d *decoder, f string) []Connection {
	n := d.count(f+".num", 2*SockAddrSize)
	if n == 0 {
		return nil
	}
	out := make([]Connection, n)
	for i := range out {
		out[i].getf(d, fmt.Sprintf("%s.conn[%d]", f, i))
	}
	return out
}

// TickleList is the tickle list of a public address: the address, a u32
// count and the connections to tickle.
type TickleList struct {
	Addr  SockAddr
	Conns []Connection
}

func (t *TickleList) put(e *encoder) {
	t.Addr.put(e)
	e.u32(uint32(len(t.Conns)))
	for i := range t.Conns {
		t.Conns[i].put(e)
	}
}

func (t *TickleList) get(d *decoder) {
	t.Addr.getf(d, "tickle_list.addr")
	t.Conns = getConns(d, "tickle_list")
}

// AddrInfo is an address with netmask bits and interface name.
type AddrInfo struct {
	Addr  SockAddr
	Mask  uint32
	Iface string
}

func (a *AddrInfo) put(e *encoder) {
	a.Addr.put(e)
	e.u32(a.Mask)
	e.stringn("addr_info.iface", a.Iface)
}

func (a *AddrInfo) get(d *decoder) {
	a.Addr.getf(d, "addr_info.addr")
	a.Mask = d.u32("addr_info.mask")
	a.Iface = d.stringn("addr_info.iface")
}

// ---------------------------------------------------------------------------
// Nodes, VNN map, databases.

// Node flags.
const (
	NodeFlagsDisconnected        uint32 = 0x01
	NodeFlagsUnhealthy           uint32 = 0x02
	NodeFlagsPermanentlyDisabled uint32 = 0x04
	NodeFlagsBanned              uint32 = 0x08
	NodeFlagsDeleted             uint32 = 0x10
	NodeFlagsStopped             uint32 = 0x20
	NodeFlagsDisabled                   = NodeFlagsUnhealthy | NodeFlagsPermanentlyDisabled
	NodeFlagsInactive                   = NodeFlagsDeleted | NodeFlagsDisconnected | NodeFlagsBanned | NodeFlagsStopped
)

// Node capabilities (GET_CAPABILITIES reply).
const (
	CapRecMaster          uint32 = 0x00000001 // may become leader
	CapLMaster            uint32 = 0x00000002 // may be in the VNN map
	CapLVS                uint32 = 0x00000004 // obsolete
	CapNATGW              uint32 = 0x00000008 // obsolete
	CapParallelRecovery   uint32 = 0x00010000
	CapFragmentedControls uint32 = 0x00020000
	CapFeatures                  = CapParallelRecovery | CapFragmentedControls
	CapDefault                   = CapRecMaster | CapLMaster | CapFeatures
)

// Recovery modes (GET_RECMODE status, SET_RECMODE payload).
const (
	RecoveryNormal uint32 = 0
	RecoveryActive uint32 = 1
)

// Runstate is a node's run state (GET_RUNSTATE reply).
type Runstate uint32

// Runstates.
const (
	RunstateUnknown Runstate = iota
	RunstateInit
	RunstateSetup
	RunstateFirstRecovery
	RunstateStartup
	RunstateRunning
	RunstateShutdown
)

var runstateNames = [...]string{"UNKNOWN", "INIT", "SETUP", "FIRST_RECOVERY", "STARTUP", "RUNNING", "SHUTDOWN"}

// String returns the name the ctdb tool prints, e.g. "RUNNING".
func (r Runstate) String() string {
	if int(r) < len(runstateNames) {
		return runstateNames[r]
	}
	return "UNKNOWN"
}

// NodeAndFlags is one node map entry: pnn, flags and address (36 bytes).
type NodeAndFlags struct {
	PNN   uint32
	Flags uint32
	Addr  SockAddr
}

// NodeMap is the node map: a u32 count followed by the nodes.
type NodeMap struct {
	Nodes []NodeAndFlags
}

func (m *NodeMap) put(e *encoder) {
	e.u32(uint32(len(m.Nodes)))
	for i := range m.Nodes {
		n := &m.Nodes[i]
		e.u32(n.PNN)
		e.u32(n.Flags)
		n.Addr.put(e)
	}
}

func (m *NodeMap) get(d *decoder) {
	n := d.count("node_map.num", 8+SockAddrSize)
	m.Nodes = nil
	if n == 0 {
		return
	}
	m.Nodes = make([]NodeAndFlags, n)
	for i := range m.Nodes {
		f := fmt.Sprintf("node_map.node[%d]", i)
		m.Nodes[i].PNN = d.u32(f + ".pnn")
		m.Nodes[i].Flags = d.u32(f + ".flags")
		m.Nodes[i].Addr.getf(d, f+".addr")
	}
}

// VNNMap maps hash slots to lmaster PNNs, with the cluster generation.
type VNNMap struct {
	Generation uint32
	Map        []uint32
}

func (m *VNNMap) put(e *encoder) {
	e.u32(m.Generation)
	e.u32(uint32(len(m.Map)))
	for _, p := range m.Map {
		e.u32(p)
	}
}

func (m *VNNMap) get(d *decoder) {
	m.Generation = d.u32("vnn_map.generation")
	n := d.count("vnn_map.size", 4)
	m.Map = nil
	if n == 0 {
		return
	}
	m.Map = make([]uint32, n)
	for i := range m.Map {
		m.Map[i] = d.u32("vnn_map.map")
	}
}

// Database flags (DBID.Flags).
const (
	DBFlagsPersistent uint8 = 0x01
	DBFlagsReadonly   uint8 = 0x02
	DBFlagsSticky     uint8 = 0x04
	DBFlagsReplicated uint8 = 0x08
)

// DBID is one database map entry: db_id, flags, 3 bytes of padding.
type DBID struct {
	DBID  uint32
	Flags uint8
}

// DBMap is the database map (GET_DBMAP reply).
type DBMap struct {
	DBs []DBID
}

func (m *DBMap) put(e *encoder) {
	e.u32(uint32(len(m.DBs)))
	for _, db := range m.DBs {
		e.u32(db.DBID)
		e.u8(db.Flags)
		e.pad(3)
	}
}

func (m *DBMap) get(d *decoder) {
	n := d.count("dbid_map.num", 8)
	m.DBs = nil
	if n == 0 {
		return
	}
	m.DBs = make([]DBID, n)
	for i := range m.DBs {
		m.DBs[i].DBID = d.u32("dbid_map.db_id")
		m.DBs[i].Flags = d.u8("dbid_map.flags")
		d.pad("dbid_map.pad", 3)
	}
}

// PullDB is the obsolete PULL_DB request: db_id and lmaster.
type PullDB struct {
	DBID    uint32
	LMaster uint32
}

func (p *PullDB) put(e *encoder) { e.u32(p.DBID); e.u32(p.LMaster) }
func (p *PullDB) get(d *decoder) {
	p.DBID = d.u32("pulldb.db_id")
	p.LMaster = d.u32("pulldb.lmaster")
}

// PullDBExt is the DB_PULL and DB_PUSH_START request: records travel as
// messages to SrvID.
type PullDBExt struct {
	DBID    uint32
	LMaster uint32
	SrvID   uint64
}

func (p *PullDBExt) put(e *encoder) { e.u32(p.DBID); e.u32(p.LMaster); e.u64(p.SrvID) }
func (p *PullDBExt) get(d *decoder) {
	p.DBID = d.u32("pulldb_ext.db_id")
	p.LMaster = d.u32("pulldb_ext.lmaster")
	p.SrvID = d.u64("pulldb_ext.srvid")
}

// TransDB names a database and a transaction id (the recovery generation).
type TransDB struct {
	DBID uint32
	TID  uint32
}

func (t *TransDB) put(e *encoder) { e.u32(t.DBID); e.u32(t.TID) }
func (t *TransDB) get(d *decoder) {
	t.DBID = d.u32("transdb.db_id")
	t.TID = d.u32("transdb.tid")
}

// DBVacuum is the DB_VACUUM request (5 bytes: db_id and a bool).
type DBVacuum struct {
	DBID          uint32
	FullVacuumRun bool
}

func (v *DBVacuum) put(e *encoder) { e.u32(v.DBID); e.boolean(v.FullVacuumRun) }
func (v *DBVacuum) get(d *decoder) {
	v.DBID = d.u32("db_vacuum.db_id")
	v.FullVacuumRun = d.boolean("db_vacuum.full_vacuum_run")
}

// ---------------------------------------------------------------------------
// Records.

// LTDBHeaderSize is the size of the record header on 64-bit builds.
const LTDBHeaderSize = 24

// Record flags (LTDBHeader.Flags).
const (
	RecFlagDefault            uint32 = 0x00000000
	RecFlagMigratedWithData   uint32 = 0x00010000
	RecFlagVacuumMigrated     uint32 = 0x00020000
	RecFlagAutomatic          uint32 = 0x00040000
	RecFlagROHaveDelegations  uint32 = 0x01000000
	RecFlagROHaveReadonly     uint32 = 0x02000000
	RecFlagRORevokingReadonly uint32 = 0x04000000
	RecFlagRORevokeComplete   uint32 = 0x08000000
	RecFlagsRO                       = RecFlagROHaveDelegations | RecFlagROHaveReadonly | RecFlagRORevokingReadonly | RecFlagRORevokeComplete
)

// LTDBHeader is struct ctdb_ltdb_header, stored in front of every record
// value: rsn u64, dmaster, reserved1, flags, 4 bytes of padding.
type LTDBHeader struct {
	RSN       uint64
	DMaster   uint32
	Reserved1 uint32
	Flags     uint32
}

func (h *LTDBHeader) put(e *encoder) {
	e.u64(h.RSN)
	e.u32(h.DMaster)
	e.u32(h.Reserved1)
	e.u32(h.Flags)
	e.pad(4)
}

func (h *LTDBHeader) getf(d *decoder, f string) {
	h.RSN = d.u64(f + ".rsn")
	h.DMaster = d.u32(f + ".dmaster")
	h.Reserved1 = d.u32(f + ".reserved1")
	h.Flags = d.u32(f + ".flags")
	d.pad(f+".pad", 4)
}

func (h *LTDBHeader) get(d *decoder) { h.getf(d, "ltdb_header") }

// Bytes returns the 24-byte encoding of h.
func (h LTDBHeader) Bytes() []byte {
	e := &encoder{b: make([]byte, 0, LTDBHeaderSize)}
	h.put(e)
	return e.b
}

// SplitLTDB splits a stored record value (or a record's data in a record
// buffer) into its header and the data that follows it.
func SplitLTDB(value []byte) (LTDBHeader, []byte, error) {
	var h LTDBHeader
	d := newDecoder(value, 0)
	h.get(d)
	if d.err != nil {
		return h, nil, d.err
	}
	return h, value[LTDBHeaderSize:], nil
}

// RecDataHeaderSize is the size of the fixed part of a marshalled record.
const RecDataHeaderSize = 16

// RecData is one marshalled record: length u32 (of the whole record),
// reqid, keylen, datalen, key, data. When a record carries an ltdb header,
// the header is the first 24 bytes of Data (see SplitLTDB, WithHeader).
type RecData struct {
	ReqID uint32
	Key   []byte
	Data  []byte
}

// RecDataWithHeader builds a record whose data is the header followed by data.
func RecDataWithHeader(reqid uint32, h LTDBHeader, key, data []byte) RecData {
	v := make([]byte, 0, LTDBHeaderSize+len(data))
	v = append(v, h.Bytes()...)
	v = append(v, data...)
	return RecData{ReqID: reqid, Key: key, Data: v}
}

func (r *RecData) put(e *encoder) {
	n := uint64(RecDataHeaderSize) + uint64(len(r.Key)) + uint64(len(r.Data))
	if !e.checkLen("rec_data.length", int(min(n, 1<<40))) {
		return
	}
	e.u32(uint32(n))
	e.u32(r.ReqID)
	e.u32(uint32(len(r.Key)))
	e.u32(uint32(len(r.Data)))
	e.raw(r.Key)
	e.raw(r.Data)
}

// getf decodes a record. Unlike CTDB's library, which trusts keylen and
// datalen and ignores the length field, the length must equal 16 + keylen
// + datalen: the daemon's own walker advances by the length field, so a
// disagreement would make the two read different records.
func (r *RecData) getf(d *decoder, f string) {
	at := d.off
	n := d.u32(f + ".length")
	r.ReqID = d.u32(f + ".reqid")
	kl := d.u32(f + ".keylen")
	dl := d.u32(f + ".datalen")
	if d.err != nil {
		return
	}
	if uint64(n) != RecDataHeaderSize+uint64(kl)+uint64(dl) {
		d.off = at
		d.failf(f+".length", ErrInvalid, "length %d != 16 + keylen %d + datalen %d", n, kl, dl)
		return
	}
	if uint64(kl)+uint64(dl) > uint64(d.remaining()) {
		d.off = at
		d.failf(f+".length", ErrTooLarge, "record of %d bytes, %d left", n, d.remaining()+RecDataHeaderSize)
		return
	}
	r.Key = d.bytes(f+".key", int(kl))
	r.Data = d.bytes(f+".data", int(dl))
}

func (r *RecData) get(d *decoder) { r.getf(d, "rec_data") }

// RecBuffer is a buffer of records of one database: db_id, count, records
// back to back (no padding between them).
type RecBuffer struct {
	DBID    uint32
	Records []RecData
}

func (b *RecBuffer) put(e *encoder) {
	e.u32(b.DBID)
	e.u32(uint32(len(b.Records)))
	for i := range b.Records {
		b.Records[i].put(e)
	}
}

func (b *RecBuffer) get(d *decoder) {
	b.DBID = d.u32("rec_buffer.db_id")
	n := d.count("rec_buffer.count", RecDataHeaderSize)
	b.Records = nil
	if n == 0 {
		return
	}
	b.Records = make([]RecData, n)
	for i := range b.Records {
		b.Records[i].getf(d, fmt.Sprintf("rec_buffer.record[%d]", i))
	}
}

// KeyData names a record by key with its header (SCHEDULE_FOR_DELETION):
// db_id, 4 bytes of padding, ltdb header, u32 keylen, key.
type KeyData struct {
	DBID   uint32
	Header LTDBHeader
	Key    []byte
}

func (k *KeyData) put(e *encoder) {
	e.u32(k.DBID)
	e.pad(4)
	k.Header.put(e)
	e.datan("key_data.key", k.Key)
}

func (k *KeyData) get(d *decoder) {
	k.DBID = d.u32("key_data.db_id")
	d.pad("key_data.pad", 4)
	k.Header.getf(d, "key_data.header")
	k.Key = d.datan("key_data.key")
}

// TraverseStart starts a traverse whose records are sent as messages to SrvID.
type TraverseStart struct {
	DBID  uint32
	ReqID uint32
	SrvID uint64
}

func (t *TraverseStart) put(e *encoder) { e.u32(t.DBID); e.u32(t.ReqID); e.u64(t.SrvID) }
func (t *TraverseStart) get(d *decoder) {
	t.DBID = d.u32("traverse_start.db_id")
	t.ReqID = d.u32("traverse_start.reqid")
	t.SrvID = d.u64("traverse_start.srvid")
}

// TraverseStartExt is TraverseStart with a flag to include empty records
// (then 7 bytes of padding).
type TraverseStartExt struct {
	DBID             uint32
	ReqID            uint32
	SrvID            uint64
	WithEmptyRecords bool
}

func (t *TraverseStartExt) put(e *encoder) {
	e.u32(t.DBID)
	e.u32(t.ReqID)
	e.u64(t.SrvID)
	e.boolean(t.WithEmptyRecords)
	e.pad(7)
}

func (t *TraverseStartExt) get(d *decoder) {
	t.DBID = d.u32("traverse_start_ext.db_id")
	t.ReqID = d.u32("traverse_start_ext.reqid")
	t.SrvID = d.u64("traverse_start_ext.srvid")
	t.WithEmptyRecords = d.boolean("traverse_start_ext.withemptyrecords")
	d.pad("traverse_start_ext.pad", 7)
}

// TraverseAll is the node-to-node traverse request.
type TraverseAll struct {
	DBID        uint32
	ReqID       uint32
	PNN         uint32
	ClientReqID uint32
	SrvID       uint64
}

func (t *TraverseAll) put(e *encoder) {
	e.u32(t.DBID)
	e.u32(t.ReqID)
	e.u32(t.PNN)
	e.u32(t.ClientReqID)
	e.u64(t.SrvID)
}

func (t *TraverseAll) get(d *decoder) {
	t.DBID = d.u32("traverse_all.db_id")
	t.ReqID = d.u32("traverse_all.reqid")
	t.PNN = d.u32("traverse_all.pnn")
	t.ClientReqID = d.u32("traverse_all.client_reqid")
	t.SrvID = d.u64("traverse_all.srvid")
}

// TraverseAllExt is TraverseAll with the empty-records flag and 7 bytes of padding.
type TraverseAllExt struct {
	TraverseAll
	WithEmptyRecords bool
}

func (t *TraverseAllExt) put(e *encoder) {
	t.TraverseAll.put(e)
	e.boolean(t.WithEmptyRecords)
	e.pad(7)
}

func (t *TraverseAllExt) get(d *decoder) {
	t.TraverseAll.get(d)
	t.WithEmptyRecords = d.boolean("traverse_all_ext.withemptyrecords")
	d.pad("traverse_all_ext.pad", 7)
}

// ---------------------------------------------------------------------------
// Tunables, flags, bans.

// Tunable is the SET_TUNABLE request: value, then the name as a StringN.
type Tunable struct {
	Value uint32
	Name  string
}

func (t *Tunable) put(e *encoder) { e.u32(t.Value); e.stringn("tunable.name", t.Name) }
func (t *Tunable) get(d *decoder) {
	t.Value = d.u32("tunable.value")
	t.Name = d.stringn("tunable.name")
}

// VarList is the LIST_TUNABLES reply: a u32 length, then the names joined
// by ':' with one terminating NUL. Empty names are dropped when decoding,
// as CTDB's tokenizer drops them.
type VarList struct {
	Names []string
}

func (v *VarList) put(e *encoder) {
	n := 0
	for _, s := range v.Names {
		n += len(s) + 1
	}
	e.u32(uint32(n))
	for i, s := range v.Names {
		if s == "" || !e.checkString("var_list.var", s) {
			e.fail("var_list.var", fmt.Errorf("%w: empty name or name with NUL", ErrInvalid))
			return
		}
		for j := 0; j < len(s); j++ {
			if s[j] == ':' {
				e.fail("var_list.var", fmt.Errorf("%w: name %q contains ':'", ErrInvalid, s))
				return
			}
		}
		e.b = append(e.b, s...)
		if i < len(v.Names)-1 {
			e.b = append(e.b, ':')
		} else {
			e.b = append(e.b, 0)
		}
	}
}

func (v *VarList) get(d *decoder) {
	n := d.length("var_list.length")
	s := d.cstring("var_list", n)
	v.Names = nil
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			if i > start {
				v.Names = append(v.Names, s[start:i])
			}
			start = i + 1
		}
	}
}

// NodeFlagChange reports a node's flags (MODIFY_FLAGS, PUSH_NODE_FLAGS).
type NodeFlagChange struct {
	PNN      uint32
	NewFlags uint32
	OldFlags uint32
}

func (c *NodeFlagChange) put(e *encoder) { e.u32(c.PNN); e.u32(c.NewFlags); e.u32(c.OldFlags) }
func (c *NodeFlagChange) get(d *decoder) {
	c.PNN = d.u32("node_flag_change.pnn")
	c.NewFlags = d.u32("node_flag_change.new_flags")
	c.OldFlags = d.u32("node_flag_change.old_flags")
}

// BanState is a ban: the node and the ban time in seconds (0 = unban).
type BanState struct {
	PNN  uint32
	Time uint32
}

func (b *BanState) put(e *encoder) { e.u32(b.PNN); e.u32(b.Time) }
func (b *BanState) get(d *decoder) {
	b.PNN = d.u32("ban_state.pnn")
	b.Time = d.u32("ban_state.time")
}

// ---------------------------------------------------------------------------
// Public addresses and interfaces.

// PublicIP is a public address and the node that hosts it (32 bytes).
type PublicIP struct {
	PNN  uint32
	Addr SockAddr
}

func (p *PublicIP) put(e *encoder) { e.u32(p.PNN); p.Addr.put(e) }
func (p *PublicIP) getf(d *decoder, f string) {
	p.PNN = d.u32(f + ".pnn")
	p.Addr.getf(d, f+".addr")
}
func (p *PublicIP) get(d *decoder) { p.getf(d, "public_ip") }

// PublicIPList is a u32 count followed by public addresses.
type PublicIPList struct {
	IPs []PublicIP
}

func (l *PublicIPList) put(e *encoder) {
	e.u32(uint32(len(l.IPs)))
	for i := range l.IPs {
		l.IPs[i].put(e)
	}
}

func (l *PublicIPList) get(d *decoder) {
	n := d.count("public_ip_list.num", 4+SockAddrSize)
	l.IPs = nil
	if n == 0 {
		return
	}
	l.IPs = make([]PublicIP, n)
	for i := range l.IPs {
		l.IPs[i].getf(d, fmt.Sprintf("public_ip_list.ip[%d]", i))
	}
}

// IfaceNameSize is the size of the name array of an interface (IFNAMSIZ + 2).
const IfaceNameSize = 18

// Iface is an interface: name (up to 17 bytes), link state (1 = up),
// and the number of public addresses using it (24 bytes).
type Iface struct {
	Name       string
	LinkState  uint16
	References uint32
}

func (i *Iface) put(e *encoder) {
	e.chararray("iface.name", i.Name, IfaceNameSize)
	e.u16(i.LinkState)
	e.u32(i.References)
}

func (i *Iface) getf(d *decoder, f string) {
	i.Name = d.chararray(f+".name", IfaceNameSize)
	i.LinkState = d.u16(f + ".link_state")
	i.References = d.u32(f + ".references")
}

func (i *Iface) get(d *decoder) { i.getf(d, "iface") }

// IfaceList is a u32 count followed by interfaces.
type IfaceList struct {
	Ifaces []Iface
}

func (l *IfaceList) put(e *encoder) {
	e.u32(uint32(len(l.Ifaces)))
	for i := range l.Ifaces {
		l.Ifaces[i].put(e)
	}
}

func (l *IfaceList) get(d *decoder) {
	n := d.count("iface_list.num", 24)
	l.Ifaces = nil
	if n == 0 {
		return
	}
	l.Ifaces = make([]Iface, n)
	for i := range l.Ifaces {
		l.Ifaces[i].getf(d, fmt.Sprintf("iface_list.iface[%d]", i))
	}
}

// PublicIPInfo is the GET_PUBLIC_IP_INFO reply.
type PublicIPInfo struct {
	IP        PublicIP
	ActiveIdx uint32 // index into Ifaces of the active interface
	Ifaces    IfaceList
}

func (p *PublicIPInfo) put(e *encoder) { p.IP.put(e); e.u32(p.ActiveIdx); p.Ifaces.put(e) }
func (p *PublicIPInfo) get(d *decoder) {
	p.IP.getf(d, "public_ip_info.ip")
	p.ActiveIdx = d.u32("public_ip_info.active_idx")
	p.Ifaces.get(d)
}

// ---------------------------------------------------------------------------
// Messages and miscellany.

// NotifyData is the REGISTER_NOTIFY request: a srvid and the data to send
// to it when the client disconnects.
type NotifyData struct {
	SrvID uint64
	Data  []byte
}

func (n *NotifyData) put(e *encoder) { e.u64(n.SrvID); e.datan("notify_data.data", n.Data) }
func (n *NotifyData) get(d *decoder) {
	n.SrvID = d.u64("notify_data.srvid")
	n.Data = d.datan("notify_data.data")
}

// PIDSrvID is the CHECK_PID_SRVID request: pid (4 bytes) and srvid, packed
// (12 bytes, no padding).
type PIDSrvID struct {
	PID   int32
	SrvID uint64
}

func (p *PIDSrvID) put(e *encoder) { e.i32(p.PID); e.u64(p.SrvID) }
func (p *PIDSrvID) get(d *decoder) {
	p.PID = d.i32("pid_srvid.pid")
	p.SrvID = d.u64("pid_srvid.srvid")
}

// EchoData is the ECHO_DATA request and reply.
type EchoData struct {
	Timeout uint32
	Buf     []byte
}

func (x *EchoData) put(e *encoder) { e.u32(x.Timeout); e.datan("echo_data.buf", x.Buf) }
func (x *EchoData) get(d *decoder) {
	x.Timeout = d.u32("echo_data.timeout")
	x.Buf = d.datan("echo_data.buf")
}

// ElectionMessage is the payload of SrvIDElection (32 bytes).
type ElectionMessage struct {
	NumConnected uint32
	PriorityTime Timeval
	PNN          uint32
	NodeFlags    uint32
}

func (m *ElectionMessage) put(e *encoder) {
	e.u32(m.NumConnected)
	e.pad(4)
	m.PriorityTime.put(e)
	e.u32(m.PNN)
	e.u32(m.NodeFlags)
}

func (m *ElectionMessage) get(d *decoder) {
	m.NumConnected = d.u32("election.num_connected")
	d.pad("election.pad", 4)
	m.PriorityTime.getf(d, "election.priority_time")
	m.PNN = d.u32("election.pnn")
	m.NodeFlags = d.u32("election.node_flags")
}

// SrvIDMessage asks for a reply to SrvID on node PNN (TAKEOVER_RUN,
// MEM_DUMP): pnn, 4 bytes of padding, srvid (16 bytes).
type SrvIDMessage struct {
	PNN   uint32
	SrvID uint64
}

func (m *SrvIDMessage) put(e *encoder) { e.u32(m.PNN); e.pad(4); e.u64(m.SrvID) }
func (m *SrvIDMessage) get(d *decoder) {
	m.PNN = d.u32("srvid_message.pnn")
	d.pad("srvid_message.pad", 4)
	m.SrvID = d.u64("srvid_message.srvid")
}

// DisableMessage disables takeover runs or recoveries for Timeout seconds
// and asks for a reply to SrvID on node PNN (24 bytes).
type DisableMessage struct {
	PNN     uint32
	SrvID   uint64
	Timeout uint32
}

func (m *DisableMessage) put(e *encoder) {
	e.u32(m.PNN)
	e.pad(4)
	e.u64(m.SrvID)
	e.u32(m.Timeout)
	e.pad(4)
}

func (m *DisableMessage) get(d *decoder) {
	m.PNN = d.u32("disable_message.pnn")
	d.pad("disable_message.pad", 4)
	m.SrvID = d.u64("disable_message.srvid")
	m.Timeout = d.u32("disable_message.timeout")
	d.pad("disable_message.pad2", 4)
}
