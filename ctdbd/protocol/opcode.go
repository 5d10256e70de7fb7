package protocol

import "fmt"

// Opcode is a control opcode (enum ctdb_controls of CTDB 4.17). Numbers that
// were removed from the protocol (2, 12, 28, 38-41, 68, 73, 92-95, 106) have
// no constant; obsolete opcodes keep theirs because peers may still send
// them, and ctdbd answers them with status -1.
type Opcode uint32

// Control opcodes.
const (
	ControlProcessExists          Opcode = 0
	ControlStatistics             Opcode = 1
	ControlPing                   Opcode = 3
	ControlGetDBPath              Opcode = 4
	ControlGetVNNMap              Opcode = 5
	ControlSetVNNMap              Opcode = 6
	ControlGetDebug               Opcode = 7
	ControlSetDebug               Opcode = 8
	ControlGetDBMap               Opcode = 9
	ControlGetNodeMapV4           Opcode = 10 // obsolete
	ControlSetDMaster             Opcode = 11 // obsolete
	ControlPullDB                 Opcode = 13 // obsolete
	ControlPushDB                 Opcode = 14 // obsolete
	ControlGetRecMode             Opcode = 15
	ControlSetRecMode             Opcode = 16
	ControlStatisticsReset        Opcode = 17
	ControlDBAttach               Opcode = 18
	ControlSetCall                Opcode = 19 // obsolete
	ControlTraverseStart          Opcode = 20
	ControlTraverseAll            Opcode = 21
	ControlTraverseData           Opcode = 22
	ControlRegisterSrvID          Opcode = 23
	ControlDeregisterSrvID        Opcode = 24
	ControlGetDBName              Opcode = 25
	ControlEnableSeqnum           Opcode = 26
	ControlUpdateSeqnum           Opcode = 27
	ControlDumpMemory             Opcode = 29
	ControlGetPID                 Opcode = 30
	ControlGetRecMaster           Opcode = 31 // obsolete
	ControlSetRecMaster           Opcode = 32 // obsolete
	ControlFreeze                 Opcode = 33
	ControlThaw                   Opcode = 34 // obsolete
	ControlGetPNN                 Opcode = 35
	ControlShutdown               Opcode = 36
	ControlGetMonMode             Opcode = 37 // obsolete
	ControlTakeoverIPv4           Opcode = 42 // obsolete
	ControlReleaseIPv4            Opcode = 43 // obsolete
	ControlTCPClient              Opcode = 44
	ControlTCPAdd                 Opcode = 45
	ControlTCPRemove              Opcode = 46
	ControlStartup                Opcode = 47
	ControlSetTunable             Opcode = 48
	ControlGetTunable             Opcode = 49
	ControlListTunables           Opcode = 50
	ControlGetPublicIPsV4         Opcode = 51 // obsolete
	ControlModifyFlags            Opcode = 52
	ControlGetAllTunables         Opcode = 53
	ControlKillTCP                Opcode = 54 // obsolete
	ControlGetTCPTickleList       Opcode = 55
	ControlSetTCPTickleList       Opcode = 56
	ControlRegisterServerID       Opcode = 57 // obsolete
	ControlUnregisterServerID     Opcode = 58 // obsolete
	ControlCheckServerID          Opcode = 59 // obsolete
	ControlGetServerIDList        Opcode = 60 // obsolete
	ControlDBAttachPersistent     Opcode = 61
	ControlPersistentStore        Opcode = 62 // obsolete
	ControlUpdateRecord           Opcode = 63
	ControlSendGratuitousARP      Opcode = 64
	ControlTransactionStart       Opcode = 65 // obsolete
	ControlTransactionCommit      Opcode = 66 // obsolete
	ControlWipeDatabase           Opcode = 67
	ControlUptime                 Opcode = 69
	ControlStartRecovery          Opcode = 70
	ControlEndRecovery            Opcode = 71
	ControlReloadNodesFile        Opcode = 72
	ControlTryDeleteRecords       Opcode = 74
	ControlEnableMonitor          Opcode = 75 // obsolete
	ControlDisableMonitor         Opcode = 76 // obsolete
	ControlAddPublicIP            Opcode = 77
	ControlDelPublicIP            Opcode = 78
	ControlRunEventscripts        Opcode = 79 // obsolete
	ControlGetCapabilities        Opcode = 80
	ControlStartPersistentUpdate  Opcode = 81 // obsolete
	ControlCancelPersistentUpdate Opcode = 82 // obsolete
	ControlTrans2Commit           Opcode = 83 // obsolete
	ControlTrans2Finished         Opcode = 84 // obsolete
	ControlTrans2Error            Opcode = 85 // obsolete
	ControlTrans2CommitRetry      Opcode = 86 // obsolete
	ControlRecdPing               Opcode = 87
	ControlReleaseIP              Opcode = 88
	ControlTakeoverIP             Opcode = 89
	ControlGetPublicIPs           Opcode = 90
	ControlGetNodeMap             Opcode = 91
	ControlGetEventScriptStatus   Opcode = 96 // obsolete
	ControlTraverseKill           Opcode = 97
	ControlRecdReclockLatency     Opcode = 98
	ControlGetReclockFile         Opcode = 99
	ControlSetReclockFile         Opcode = 100 // obsolete
	ControlStopNode               Opcode = 101
	ControlContinueNode           Opcode = 102
	ControlSetNATGWState          Opcode = 103 // obsolete
	ControlSetLMasterRole         Opcode = 104
	ControlSetRecMasterRole       Opcode = 105
	ControlEnableScript           Opcode = 107 // obsolete
	ControlDisableScript          Opcode = 108 // obsolete
	ControlSetBanState            Opcode = 109
	ControlGetBanState            Opcode = 110
	ControlSetDBPriority          Opcode = 111 // obsolete
	ControlGetDBPriority          Opcode = 112 // obsolete
	ControlTransactionCancel      Opcode = 113 // obsolete
	ControlRegisterNotify         Opcode = 114
	ControlDeregisterNotify       Opcode = 115
	ControlTrans2Active           Opcode = 116 // obsolete
	ControlGetLog                 Opcode = 117 // obsolete
	ControlClearLog               Opcode = 118 // obsolete
	ControlTrans3Commit           Opcode = 119
	ControlGetDBSeqnum            Opcode = 120
	ControlDBSetHealthy           Opcode = 121
	ControlDBGetHealth            Opcode = 122
	ControlGetPublicIPInfo        Opcode = 123
	ControlGetIfaces              Opcode = 124
	ControlSetIfaceLinkState      Opcode = 125
	ControlTCPAddDelayedUpdate    Opcode = 126
	ControlGetStatHistory         Opcode = 127
	ControlScheduleForDeletion    Opcode = 128
	ControlSetDBReadonly          Opcode = 129
	ControlCheckSrvIDs            Opcode = 130 // obsolete
	ControlTraverseStartExt       Opcode = 131
	ControlGetDBStatistics        Opcode = 132
	ControlSetDBSticky            Opcode = 133
	ControlReloadPublicIPs        Opcode = 134
	ControlTraverseAllExt         Opcode = 135
	ControlReceiveRecords         Opcode = 136 // obsolete
	ControlIPReallocated          Opcode = 137
	ControlGetRunstate            Opcode = 138
	ControlDBDetach               Opcode = 139
	ControlGetNodesFile           Opcode = 140
	ControlDBFreeze               Opcode = 141
	ControlDBThaw                 Opcode = 142
	ControlDBTransactionStart     Opcode = 143
	ControlDBTransactionCommit    Opcode = 144
	ControlDBTransactionCancel    Opcode = 145
	ControlDBPull                 Opcode = 146
	ControlDBPushStart            Opcode = 147
	ControlDBPushConfirm          Opcode = 148
	ControlDBOpenFlags            Opcode = 149
	ControlDBAttachReplicated     Opcode = 150
	ControlCheckPIDSrvID          Opcode = 151
	ControlTunnelRegister         Opcode = 152
	ControlTunnelDeregister       Opcode = 153
	ControlVacuumFetch            Opcode = 154
	ControlDBVacuum               Opcode = 155
	ControlEchoData               Opcode = 156
	ControlDisableNode            Opcode = 157
	ControlEnableNode             Opcode = 158
)

type opcodeInfo struct {
	name     string
	obsolete bool
}

var opcodes = map[Opcode]opcodeInfo{
	ControlProcessExists:          {"PROCESS_EXISTS", false},
	ControlStatistics:             {"STATISTICS", false},
	ControlPing:                   {"PING", false},
	ControlGetDBPath:              {"GETDBPATH", false},
	ControlGetVNNMap:              {"GETVNNMAP", false},
	ControlSetVNNMap:              {"SETVNNMAP", false},
	ControlGetDebug:               {"GET_DEBUG", false},
	ControlSetDebug:               {"SET_DEBUG", false},
	ControlGetDBMap:               {"GET_DBMAP", false},
	ControlGetNodeMapV4:           {"GET_NODEMAPv4", true},
	ControlSetDMaster:             {"SET_DMASTER", true},
	ControlPullDB:                 {"PULL_DB", true},
	ControlPushDB:                 {"PUSH_DB", true},
	ControlGetRecMode:             {"GET_RECMODE", false},
	ControlSetRecMode:             {"SET_RECMODE", false},
	ControlStatisticsReset:        {"STATISTICS_RESET", false},
	ControlDBAttach:               {"DB_ATTACH", false},
	ControlSetCall:                {"SET_CALL", true},
	ControlTraverseStart:          {"TRAVERSE_START", false},
	ControlTraverseAll:            {"TRAVERSE_ALL", false},
	ControlTraverseData:           {"TRAVERSE_DATA", false},
	ControlRegisterSrvID:          {"REGISTER_SRVID", false},
	ControlDeregisterSrvID:        {"DEREGISTER_SRVID", false},
	ControlGetDBName:              {"GET_DBNAME", false},
	ControlEnableSeqnum:           {"ENABLE_SEQNUM", false},
	ControlUpdateSeqnum:           {"UPDATE_SEQNUM", false},
	ControlDumpMemory:             {"DUMP_MEMORY", false},
	ControlGetPID:                 {"GET_PID", false},
	ControlGetRecMaster:           {"GET_RECMASTER", true},
	ControlSetRecMaster:           {"SET_RECMASTER", true},
	ControlFreeze:                 {"FREEZE", false},
	ControlThaw:                   {"THAW", true},
	ControlGetPNN:                 {"GET_PNN", false},
	ControlShutdown:               {"SHUTDOWN", false},
	ControlGetMonMode:             {"GET_MONMODE", true},
	ControlTakeoverIPv4:           {"TAKEOVER_IPv4", true},
	ControlReleaseIPv4:            {"RELEASE_IPv4", true},
	ControlTCPClient:              {"TCP_CLIENT", false},
	ControlTCPAdd:                 {"TCP_ADD", false},
	ControlTCPRemove:              {"TCP_REMOVE", false},
	ControlStartup:                {"STARTUP", false},
	ControlSetTunable:             {"SET_TUNABLE", false},
	ControlGetTunable:             {"GET_TUNABLE", false},
	ControlListTunables:           {"LIST_TUNABLES", false},
	ControlGetPublicIPsV4:         {"GET_PUBLIC_IPSv4", true},
	ControlModifyFlags:            {"MODIFY_FLAGS", false},
	ControlGetAllTunables:         {"GET_ALL_TUNABLES", false},
	ControlKillTCP:                {"KILL_TCP", true},
	ControlGetTCPTickleList:       {"GET_TCP_TICKLE_LIST", false},
	ControlSetTCPTickleList:       {"SET_TCP_TICKLE_LIST", false},
	ControlRegisterServerID:       {"REGISTER_SERVER_ID", true},
	ControlUnregisterServerID:     {"UNREGISTER_SERVER_ID", true},
	ControlCheckServerID:          {"CHECK_SERVER_ID", true},
	ControlGetServerIDList:        {"GET_SERVER_ID_LIST", true},
	ControlDBAttachPersistent:     {"DB_ATTACH_PERSISTENT", false},
	ControlPersistentStore:        {"PERSISTENT_STORE", true},
	ControlUpdateRecord:           {"UPDATE_RECORD", false},
	ControlSendGratuitousARP:      {"SEND_GRATUITOUS_ARP", false},
	ControlTransactionStart:       {"TRANSACTION_START", true},
	ControlTransactionCommit:      {"TRANSACTION_COMMIT", true},
	ControlWipeDatabase:           {"WIPE_DATABASE", false},
	ControlUptime:                 {"UPTIME", false},
	ControlStartRecovery:          {"START_RECOVERY", false},
	ControlEndRecovery:            {"END_RECOVERY", false},
	ControlReloadNodesFile:        {"RELOAD_NODES_FILE", false},
	ControlTryDeleteRecords:       {"TRY_DELETE_RECORDS", false},
	ControlEnableMonitor:          {"ENABLE_MONITOR", true},
	ControlDisableMonitor:         {"DISABLE_MONITOR", true},
	ControlAddPublicIP:            {"ADD_PUBLIC_IP", false},
	ControlDelPublicIP:            {"DEL_PUBLIC_IP", false},
	ControlRunEventscripts:        {"RUN_EVENTSCRIPTS", true},
	ControlGetCapabilities:        {"GET_CAPABILITIES", false},
	ControlStartPersistentUpdate:  {"START_PERSISTENT_UPDATE", true},
	ControlCancelPersistentUpdate: {"CANCEL_PERSISTENT_UPDATE", true},
	ControlTrans2Commit:           {"TRANS2_COMMIT", true},
	ControlTrans2Finished:         {"TRANS2_FINISHED", true},
	ControlTrans2Error:            {"TRANS2_ERROR", true},
	ControlTrans2CommitRetry:      {"TRANS2_COMMIT_RETRY", true},
	ControlRecdPing:               {"RECD_PING", false},
	ControlReleaseIP:              {"RELEASE_IP", false},
	ControlTakeoverIP:             {"TAKEOVER_IP", false},
	ControlGetPublicIPs:           {"GET_PUBLIC_IPS", false},
	ControlGetNodeMap:             {"GET_NODEMAP", false},
	ControlGetEventScriptStatus:   {"GET_EVENT_SCRIPT_STATUS", true},
	ControlTraverseKill:           {"TRAVERSE_KILL", false},
	ControlRecdReclockLatency:     {"RECD_RECLOCK_LATENCY", false},
	ControlGetReclockFile:         {"GET_RECLOCK_FILE", false},
	ControlSetReclockFile:         {"SET_RECLOCK_FILE", true},
	ControlStopNode:               {"STOP_NODE", false},
	ControlContinueNode:           {"CONTINUE_NODE", false},
	ControlSetNATGWState:          {"SET_NATGWSTATE", true},
	ControlSetLMasterRole:         {"SET_LMASTERROLE", false},
	ControlSetRecMasterRole:       {"SET_RECMASTERROLE", false},
	ControlEnableScript:           {"ENABLE_SCRIPT", true},
	ControlDisableScript:          {"DISABLE_SCRIPT", true},
	ControlSetBanState:            {"SET_BAN_STATE", false},
	ControlGetBanState:            {"GET_BAN_STATE", false},
	ControlSetDBPriority:          {"SET_DB_PRIORITY", true},
	ControlGetDBPriority:          {"GET_DB_PRIORITY", true},
	ControlTransactionCancel:      {"TRANSACTION_CANCEL", true},
	ControlRegisterNotify:         {"REGISTER_NOTIFY", false},
	ControlDeregisterNotify:       {"DEREGISTER_NOTIFY", false},
	ControlTrans2Active:           {"TRANS2_ACTIVE", true},
	ControlGetLog:                 {"GET_LOG", true},
	ControlClearLog:               {"CLEAR_LOG", true},
	ControlTrans3Commit:           {"TRANS3_COMMIT", false},
	ControlGetDBSeqnum:            {"GET_DB_SEQNUM", false},
	ControlDBSetHealthy:           {"DB_SET_HEALTHY", false},
	ControlDBGetHealth:            {"DB_GET_HEALTH", false},
	ControlGetPublicIPInfo:        {"GET_PUBLIC_IP_INFO", false},
	ControlGetIfaces:              {"GET_IFACES", false},
	ControlSetIfaceLinkState:      {"SET_IFACE_LINK_STATE", false},
	ControlTCPAddDelayedUpdate:    {"TCP_ADD_DELAYED_UPDATE", false},
	ControlGetStatHistory:         {"GET_STAT_HISTORY", false},
	ControlScheduleForDeletion:    {"SCHEDULE_FOR_DELETION", false},
	ControlSetDBReadonly:          {"SET_DB_READONLY", false},
	ControlCheckSrvIDs:            {"CHECK_SRVIDS", true},
	ControlTraverseStartExt:       {"TRAVERSE_START_EXT", false},
	ControlGetDBStatistics:        {"GET_DB_STATISTICS", false},
	ControlSetDBSticky:            {"SET_DB_STICKY", false},
	ControlReloadPublicIPs:        {"RELOAD_PUBLIC_IPS", false},
	ControlTraverseAllExt:         {"TRAVERSE_ALL_EXT", false},
	ControlReceiveRecords:         {"RECEIVE_RECORDS", true},
	ControlIPReallocated:          {"IPREALLOCATED", false},
	ControlGetRunstate:            {"GET_RUNSTATE", false},
	ControlDBDetach:               {"DB_DETACH", false},
	ControlGetNodesFile:           {"GET_NODES_FILE", false},
	ControlDBFreeze:               {"DB_FREEZE", false},
	ControlDBThaw:                 {"DB_THAW", false},
	ControlDBTransactionStart:     {"DB_TRANSACTION_START", false},
	ControlDBTransactionCommit:    {"DB_TRANSACTION_COMMIT", false},
	ControlDBTransactionCancel:    {"DB_TRANSACTION_CANCEL", false},
	ControlDBPull:                 {"DB_PULL", false},
	ControlDBPushStart:            {"DB_PUSH_START", false},
	ControlDBPushConfirm:          {"DB_PUSH_CONFIRM", false},
	ControlDBOpenFlags:            {"DB_OPEN_FLAGS", false},
	ControlDBAttachReplicated:     {"DB_ATTACH_REPLICATED", false},
	ControlCheckPIDSrvID:          {"CHECK_PID_SRVID", false},
	ControlTunnelRegister:         {"TUNNEL_REGISTER", false},
	ControlTunnelDeregister:       {"TUNNEL_DEREGISTER", false},
	ControlVacuumFetch:            {"VACUUM_FETCH", false},
	ControlDBVacuum:               {"DB_VACUUM", false},
	ControlEchoData:               {"ECHO_DATA", false},
	ControlDisableNode:            {"DISABLE_NODE", false},
	ControlEnableNode:             {"ENABLE_NODE", false},
}

// String returns CTDB's name of the opcode without the CTDB_CONTROL_ prefix,
// e.g. "GET_NODEMAP", or "CONTROL(n)" for a number CTDB 4.17 does not define.
func (o Opcode) String() string {
	if i, ok := opcodes[o]; ok {
		return i.name
	}
	return fmt.Sprintf("CONTROL(%d)", uint32(o))
}

// Known reports whether CTDB 4.17 defines the opcode (obsolete or not).
func (o Opcode) Known() bool {
	_, ok := opcodes[o]
	return ok
}

// Obsolete reports whether the opcode is marked obsolete in CTDB 4.17; the
// daemon answers such controls with status -1 ("not implemented any more").
func (o Opcode) Obsolete() bool { return opcodes[o].obsolete }

// Opcodes returns every opcode CTDB 4.17 defines, in numeric order.
func Opcodes() []Opcode {
	out := make([]Opcode, 0, len(opcodes))
	for o := range Opcode(256) {
		if o.Known() {
			out = append(out, o)
		}
	}
	return out
}
