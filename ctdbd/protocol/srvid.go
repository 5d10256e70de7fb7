package protocol

import "fmt"

// Message ports (SRVIDs). A REQ_MESSAGE is delivered to every client that
// registered its srvid with CONTROL_REGISTER_SRVID. Values ending in zeros
// are also range prefixes: the top 8 or 16 bits select the owner.
const (
	SrvIDAll                 uint64 = 0xFFFFFFFFFFFFFFFF // catch-all registration
	SrvIDRecovery            uint64 = 0xF001000000000000 // prefix for DB pull/push during recovery
	SrvIDBanning             uint64 = 0xF002000000000000 // payload: u32 pnn (ban credits)
	SrvIDElection            uint64 = 0xF100000000000000 // payload: ElectionMessage
	SrvIDLeader              uint64 = 0xF101000000000000 // payload: u32 pnn (UnknownPNN = election running)
	SrvIDReconfigure         uint64 = 0xF200000000000000 // no payload; sent to clients after recovery
	SrvIDReleaseIP           uint64 = 0xF300000000000000 // payload: NUL-terminated address
	SrvIDTakeIP              uint64 = 0xF301000000000000 // payload: NUL-terminated address
	SrvIDIPReallocated       uint64 = 0xF302000000000000 // not in 4.17's protocol.h; reserved by later versions
	SrvIDStartIPReallocate   uint64 = 0xF303000000000000 // not in 4.17's protocol.h; reserved by later versions
	SrvIDSetNodeFlags        uint64 = 0xF400000000000000 // obsolete; payload: NodeFlagChange
	SrvIDRecdUpdateIP        uint64 = 0xF500000000000000 // payload: PublicIP
	SrvIDVacuumFetch         uint64 = 0xF700000000000000 // payload: RecBuffer
	SrvIDDetachDatabase      uint64 = 0xF701000000000000 // payload: u32 db_id
	SrvIDMemDump             uint64 = 0xF800000000000000 // payload: SrvIDMessage
	SrvIDGetLog              uint64 = 0xF801000000000000 // obsolete
	SrvIDClearLog            uint64 = 0xF802000000000000 // obsolete
	SrvIDPushNodeFlags       uint64 = 0xF900000000000000 // payload: NodeFlagChange
	SrvIDReloadNodes         uint64 = 0xFA00000000000000 // no payload
	SrvIDTakeoverRun         uint64 = 0xFB00000000000000 // payload: SrvIDMessage; reply: i32 status
	SrvIDRebalanceNode       uint64 = 0xFB01000000000000 // payload: u32 pnn
	SrvIDDisableTakeoverRuns uint64 = 0xFB03000000000000 // payload: DisableMessage
	SrvIDDisableRecoveries   uint64 = 0xFB04000000000000 // payload: DisableMessage
	SrvIDDisableIPCheck      uint64 = 0xFC00000000000000 // payload: u32 timeout

	// SrvIDEventRun is ctdb-go's own (not CTDB's): `ctdb event run` asks the local
	// daemon to run an event. Payload: Blob with JSON {timeout_ms, event, args,
	// reply_srvid}; the daemon answers on reply_srvid with JSON {result, error}.
	SrvIDEventRun uint64 = 0xF6C7000000000000

	SrvIDPIDRange    uint64 = 0x0000000000000000 // srvid == a process id
	SrvIDSambaNotify uint64 = 0xFE00000000000000
	SrvIDSambaRange  uint64 = 0xFE00000000000000
	SrvIDNFSDRange   uint64 = 0xEE00000000000000
	SrvIDISCSIDRange uint64 = 0xDE00000000000000
	SrvIDToolRange   uint64 = 0xCE00000000000000
	SrvIDClientRange uint64 = 0xBE00000000000000
	SrvIDTestRange   uint64 = 0xAE00000000000000

	// SrvIDSambaProcess is what smbd registers for cross-node messaging.
	SrvIDSambaProcess uint64 = 0xFE00000000000002

	// SrvIDCTDBTool is the base of the srvids the ctdb tool registers for
	// replies; it ORs (pid & 0xFFFF) << 16 and a counter into it.
	SrvIDCTDBTool uint64 = 0xCE01000000000000
)

// MessagePayload returns a new zero value of the typed payload CTDB sends to
// a well-known srvid, or ErrUnknown for srvids whose data is opaque (client
// ranges, recovery pull/push ports, replies to the ctdb tool).
func MessagePayload(srvid uint64) (Payload, error) {
	switch srvid {
	case SrvIDBanning, SrvIDLeader, SrvIDDetachDatabase, SrvIDRebalanceNode, SrvIDDisableIPCheck:
		return new(Uint32), nil
	case SrvIDElection:
		return &ElectionMessage{}, nil
	case SrvIDReconfigure, SrvIDGetLog, SrvIDClearLog, SrvIDReloadNodes:
		return &Empty{}, nil
	case SrvIDReleaseIP, SrvIDTakeIP:
		return new(String), nil
	case SrvIDSetNodeFlags, SrvIDPushNodeFlags:
		return &NodeFlagChange{}, nil
	case SrvIDRecdUpdateIP:
		return &PublicIP{}, nil
	case SrvIDVacuumFetch:
		return &RecBuffer{}, nil
	case SrvIDMemDump, SrvIDTakeoverRun:
		return &SrvIDMessage{}, nil
	case SrvIDDisableTakeoverRuns, SrvIDDisableRecoveries:
		return &DisableMessage{}, nil
	}
	return nil, fmt.Errorf("%w: no typed payload for srvid 0x%016x", ErrUnknown, srvid)
}

// DecodeMessage decodes the data of m into the typed payload of its srvid.
func (m *ReqMessage) DecodeMessage() (Payload, error) {
	p, err := MessagePayload(m.SrvID)
	if err != nil {
		return nil, err
	}
	if err := UnmarshalPayload(m.Data, p); err != nil {
		return nil, fmt.Errorf("message 0x%016x: %w", m.SrvID, err)
	}
	return p, nil
}

// NewReqMessage builds a message to srvid carrying the encoded payload p.
func NewReqMessage(srvid uint64, p Payload) (*ReqMessage, error) {
	m := &ReqMessage{SrvID: srvid}
	if p != nil {
		data, err := MarshalPayload(p)
		if err != nil {
			return nil, fmt.Errorf("message 0x%016x: %w", srvid, err)
		}
		m.Data = data
	}
	return m, nil
}
