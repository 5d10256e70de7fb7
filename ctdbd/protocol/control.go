package protocol

import "fmt"

// controlKinds gives, per opcode, constructors of the typed request and
// reply payloads. Controls whose reply value travels in ReplyControl.Status
// (PROCESS_EXISTS, PING, GET_PID, GET_PNN, GET_RECMODE, GET_RECMASTER) have
// an Empty reply payload.
var controlKinds = map[Opcode]struct{ req, reply func() Payload }{}

func kind(req, reply func() Payload, ops ...Opcode) {
	for _, op := range ops {
		controlKinds[op] = struct{ req, reply func() Payload }{req, reply}
	}
}

func empty() Payload         { return &Empty{} }
func u32() Payload           { return new(Uint32) }
func str() Payload           { return new(String) }
func recbuf() Payload        { return &RecBuffer{} }
func nodemap() Payload       { return &NodeMap{} }
func transdb() Payload       { return &TransDB{} }
func pulldbExt() Payload     { return &PullDBExt{} }
func sockaddr() Payload      { return &SockAddr{} }
func connection() Payload    { return &Connection{} }
func addrInfo() Payload      { return &AddrInfo{} }
func publicIP() Payload      { return &PublicIP{} }
func traverseStart() Payload { return &TraverseStart{} }

func init() {
	kind(func() Payload { return new(Int32) }, empty, ControlProcessExists)
	kind(empty, func() Payload { return &Statistics{} }, ControlStatistics)
	kind(empty, empty,
		ControlPing, ControlGetRecMode, ControlStatisticsReset, ControlRegisterSrvID,
		ControlDeregisterSrvID, ControlGetPID, ControlFreeze, ControlGetPNN,
		ControlShutdown, ControlStartup, ControlStartRecovery, ControlEndRecovery,
		ControlReloadNodesFile, ControlRecdPing, ControlStopNode, ControlContinueNode,
		ControlReloadPublicIPs, ControlIPReallocated, ControlTunnelRegister,
		ControlTunnelDeregister, ControlDisableNode, ControlEnableNode,
		ControlGetRecMaster)
	kind(u32, str, ControlGetDBPath, ControlGetDBName, ControlDBGetHealth)
	kind(empty, func() Payload { return &VNNMap{} }, ControlGetVNNMap)
	kind(func() Payload { return &VNNMap{} }, empty, ControlSetVNNMap)
	kind(empty, u32, ControlGetDebug, ControlGetCapabilities, ControlGetRunstate)
	kind(u32, empty,
		ControlSetDebug, ControlSetRecMode, ControlEnableSeqnum, ControlUpdateSeqnum,
		ControlSetLMasterRole, ControlSetRecMasterRole, ControlDBSetHealthy,
		ControlSetDBReadonly, ControlSetDBSticky, ControlDBDetach, ControlDBFreeze,
		ControlDBThaw, ControlDBTransactionCancel)
	kind(empty, func() Payload { return &DBMap{} }, ControlGetDBMap)
	kind(str, u32, ControlDBAttach, ControlDBAttachPersistent, ControlDBAttachReplicated)
	kind(traverseStart, empty, ControlTraverseStart, ControlTraverseKill)
	kind(func() Payload { return &TraverseAll{} }, empty, ControlTraverseAll)
	kind(func() Payload { return &RecData{} }, empty, ControlTraverseData)
	kind(empty, str, ControlDumpMemory, ControlGetReclockFile)
	kind(connection, empty, ControlTCPClient, ControlTCPAdd, ControlTCPRemove,
		ControlTCPAddDelayedUpdate)
	kind(func() Payload { return &Tunable{} }, empty, ControlSetTunable)
	kind(func() Payload { return new(StringN) }, u32, ControlGetTunable)
	kind(empty, func() Payload { return &VarList{} }, ControlListTunables)
	kind(func() Payload { return &NodeFlagChange{} }, empty, ControlModifyFlags)
	kind(empty, func() Payload { return &TunableList{} }, ControlGetAllTunables)
	kind(sockaddr, func() Payload { return &TickleList{} }, ControlGetTCPTickleList)
	kind(func() Payload { return &TickleList{} }, empty, ControlSetTCPTickleList)
	kind(recbuf, empty, ControlUpdateRecord, ControlTrans3Commit, ControlVacuumFetch)
	kind(recbuf, recbuf, ControlTryDeleteRecords)
	kind(addrInfo, empty, ControlSendGratuitousARP, ControlAddPublicIP, ControlDelPublicIP)
	kind(transdb, empty, ControlWipeDatabase, ControlDBTransactionStart, ControlDBTransactionCommit)
	kind(empty, func() Payload { return &Uptime{} }, ControlUptime)
	kind(publicIP, empty, ControlReleaseIP, ControlTakeoverIP)
	kind(empty, func() Payload { return &PublicIPList{} }, ControlGetPublicIPs)
	kind(empty, nodemap, ControlGetNodeMap, ControlGetNodesFile)
	kind(func() Payload { return new(Double) }, empty, ControlRecdReclockLatency)
	kind(func() Payload { return &BanState{} }, empty, ControlSetBanState)
	kind(empty, func() Payload { return &BanState{} }, ControlGetBanState)
	kind(func() Payload { return &NotifyData{} }, empty, ControlRegisterNotify)
	kind(func() Payload { return new(Uint64) }, empty, ControlDeregisterNotify)
	kind(func() Payload { return new(DBIDPadded) }, func() Payload { return new(Uint64) }, ControlGetDBSeqnum)
	kind(sockaddr, func() Payload { return &PublicIPInfo{} }, ControlGetPublicIPInfo)
	kind(empty, func() Payload { return &IfaceList{} }, ControlGetIfaces)
	kind(func() Payload { return &Iface{} }, empty, ControlSetIfaceLinkState)
	kind(empty, func() Payload { return &StatisticsList{} }, ControlGetStatHistory)
	kind(func() Payload { return &KeyData{} }, empty, ControlScheduleForDeletion)
	kind(func() Payload { return &TraverseStartExt{} }, empty, ControlTraverseStartExt)
	kind(u32, func() Payload { return &DBStatistics{} }, ControlGetDBStatistics)
	kind(func() Payload { return &TraverseAllExt{} }, empty, ControlTraverseAllExt)
	kind(pulldbExt, u32, ControlDBPull)
	kind(pulldbExt, empty, ControlDBPushStart)
	kind(u32, u32, ControlDBPushConfirm)
	kind(u32, func() Payload { return new(Int32) }, ControlDBOpenFlags)
	kind(func() Payload { return &PIDSrvID{} }, empty, ControlCheckPIDSrvID)
	kind(func() Payload { return &DBVacuum{} }, empty, ControlDBVacuum)
	kind(func() Payload { return &EchoData{} }, func() Payload { return &EchoData{} }, ControlEchoData)
}

// RequestPayload returns a new zero value of the typed request payload of
// op. Obsolete and unknown opcodes return ErrUnknown.
func RequestPayload(op Opcode) (Payload, error) {
	k, ok := controlKinds[op]
	if !ok {
		return nil, fmt.Errorf("%w: no request payload for control %v", ErrUnknown, op)
	}
	return k.req(), nil
}

// ReplyPayload returns a new zero value of the typed reply payload of op.
// Obsolete and unknown opcodes return ErrUnknown.
func ReplyPayload(op Opcode) (Payload, error) {
	k, ok := controlKinds[op]
	if !ok {
		return nil, fmt.Errorf("%w: no reply payload for control %v", ErrUnknown, op)
	}
	return k.reply(), nil
}

// NewReqControl builds a control request carrying the encoded payload p
// (nil for controls without data). It does not check that p is the
// payload type of op; DecodeRequest on the result does.
func NewReqControl(op Opcode, p Payload) (*ReqControl, error) {
	c := &ReqControl{Opcode: op}
	if p != nil {
		data, err := MarshalPayload(p)
		if err != nil {
			return nil, fmt.Errorf("control %v: %w", op, err)
		}
		c.Data = data
	}
	return c, nil
}

// DecodeRequest decodes the request data of c into the typed payload of its opcode.
func (c *ReqControl) DecodeRequest() (Payload, error) {
	p, err := RequestPayload(c.Opcode)
	if err != nil {
		return nil, err
	}
	if err := UnmarshalPayload(c.Data, p); err != nil {
		return nil, fmt.Errorf("control %v request: %w", c.Opcode, err)
	}
	return p, nil
}

// NewReplyControl builds a successful (status 0 unless given) reply
// carrying the encoded payload p (nil for none).
func NewReplyControl(status int32, p Payload) (*ReplyControl, error) {
	r := &ReplyControl{Status: status}
	if p != nil {
		data, err := MarshalPayload(p)
		if err != nil {
			return nil, err
		}
		r.Data = data
	}
	return r, nil
}

// DecodeReply decodes the data of a reply to a control with opcode op into
// its typed payload. The opcode is not in the reply: the caller matches it
// by reqid. A reply with non-zero status carries no data worth decoding for
// most controls; callers check Status first.
func (r *ReplyControl) DecodeReply(op Opcode) (Payload, error) {
	p, err := ReplyPayload(op)
	if err != nil {
		return nil, err
	}
	if err := UnmarshalPayload(r.Data, p); err != nil {
		return nil, fmt.Errorf("control %v reply: %w", op, err)
	}
	return p, nil
}
