package protocol

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
)

// The fixed-layout structs of this file are encoded with encoding/binary:
// their Go field order is the C field order and the blank "_" fields are the
// padding the 64-bit C compiler inserts, so binary.Size equals sizeof.

// MaxCountBuckets is the number of buckets of the hop-count and lock histograms.
const MaxCountBuckets = 16

// MaxHotKeys is the number of hot keys in DBStatistics.
const MaxHotKeys = 10

// LatencyCounter is struct ctdb_latency_counter: count and min, max, total
// latency in seconds (32 bytes).
type LatencyCounter struct {
	Num   int32
	_     [4]byte
	Min   float64
	Max   float64
	Total float64
}

// Statistics is struct ctdb_statistics as CTDB 4.17 lays it out on x86_64
// (StatisticsSize bytes): the STATISTICS reply and the elements of the
// GET_STAT_HISTORY reply.
type Statistics struct {
	NumClients           uint32
	Frozen               uint32
	Recovering           uint32
	ClientPacketsSent    uint32
	ClientPacketsRecv    uint32
	NodePacketsSent      uint32
	NodePacketsRecv      uint32
	KeepalivePacketsSent uint32
	KeepalivePacketsRecv uint32
	Node                 struct {
		ReqCall      uint32
		ReplyCall    uint32
		ReqDMaster   uint32
		ReplyDMaster uint32
		ReplyError   uint32
		ReqMessage   uint32
		ReqControl   uint32
		ReplyControl uint32
		ReqTunnel    uint32
	}
	Client struct {
		ReqCall    uint32
		ReqMessage uint32
		ReqControl uint32
		ReqTunnel  uint32
	}
	Timeouts struct {
		Call     uint32
		Control  uint32
		Traverse uint32
	}
	_       [4]byte
	Reclock struct {
		Ctdbd LatencyCounter
		Recd  LatencyCounter
	}
	Locks struct {
		NumCalls   uint32
		NumCurrent uint32
		NumPending uint32
		NumFailed  uint32
		Latency    LatencyCounter
		Buckets    [MaxCountBuckets]uint32
	}
	TotalCalls             uint32
	PendingCalls           uint32
	ChildwriteCalls        uint32
	PendingChildwriteCalls uint32
	MemoryUsed             uint32
	LastCounter            uint32 // __last_counter, unused
	MaxHopCount            uint32
	HopCountBucket         [MaxCountBuckets]uint32
	_                      [4]byte
	CallLatency            LatencyCounter
	ChildwriteLatency      LatencyCounter
	NumRecoveries          uint32
	_                      [4]byte
	StatisticsStartTime    Timeval
	StatisticsCurrentTime  Timeval
	TotalRODelegations     uint32
	TotalRORevokes         uint32
}

// StatisticsSize is sizeof(struct ctdb_statistics) on x86_64.
const StatisticsSize = 488

func putFixed(e *encoder, v any) {
	var err error
	e.b, err = binary.Append(e.b, order, v)
	if err != nil {
		e.fail(fmt.Sprintf("%T", v), err)
	}
}

func getFixed(d *decoder, field string, size int, v any) {
	b := d.take(field, size)
	if b == nil {
		return
	}
	if _, err := binary.Decode(b, order, v); err != nil {
		d.fail(field, err)
	}
}

func (s *Statistics) put(e *encoder) { putFixed(e, s) }
func (s *Statistics) get(d *decoder) { getFixed(d, "statistics", StatisticsSize, s) }

// StatisticsList is the GET_STAT_HISTORY reply: an i32 count, 4 bytes of
// padding, and the snapshots.
type StatisticsList struct {
	Stats []Statistics
}

func (l *StatisticsList) put(e *encoder) {
	e.u32(uint32(len(l.Stats)))
	e.pad(4)
	for i := range l.Stats {
		l.Stats[i].put(e)
	}
}

func (l *StatisticsList) get(d *decoder) {
	n := d.count("statistics_list.num", StatisticsSize+1) // +1 so the 4 pad bytes are covered too
	if d.err != nil {
		return
	}
	d.pad("statistics_list.pad", 4)
	l.Stats = nil
	if n == 0 {
		return
	}
	if n*StatisticsSize > d.remaining() {
		d.failf("statistics_list.num", ErrTooLarge, "%d snapshots, %d bytes left", n, d.remaining())
		return
	}
	l.Stats = make([]Statistics, n)
	for i := range l.Stats {
		getFixed(d, fmt.Sprintf("statistics_list.stats[%d]", i), StatisticsSize, &l.Stats[i])
	}
}

// HotKey is one hot key of a database: how often it was fetched, and the key.
type HotKey struct {
	Count uint32
	Key   []byte
}

// DBStatistics is struct ctdb_db_statistics, the GET_DB_STATISTICS reply.
// On the wire the ten hot-key slots are C structs holding a TDB_DATA
// (pointer and size, the pointer meaningless), followed by the key bytes.
type DBStatistics struct {
	Locks struct {
		NumCalls   uint32
		NumCurrent uint32
		NumPending uint32
		NumFailed  uint32
		Latency    LatencyCounter
		Buckets    [MaxCountBuckets]uint32
	}
	VacuumLatency   LatencyCounter
	DBRODelegations uint32
	DBRORevokes     uint32
	HopCountBucket  [MaxCountBuckets]uint32
	// NumHotKeys is sent as is; ctdbd always sends MaxHotKeys.
	NumHotKeys uint32
	HotKeys    [MaxHotKeys]HotKey
}

type dbStatsFixed struct {
	Locks struct {
		NumCalls   uint32
		NumCurrent uint32
		NumPending uint32
		NumFailed  uint32
		Latency    LatencyCounter
		Buckets    [MaxCountBuckets]uint32
	}
	VacuumLatency   LatencyCounter
	DBRODelegations uint32
	DBRORevokes     uint32
	HopCountBucket  [MaxCountBuckets]uint32
	NumHotKeys      uint32
	_               [4]byte
	HotKeys         [MaxHotKeys]struct {
		Count uint32
		_     [4]byte
		Ptr   uint64
		Size  uint64
	}
}

const dbStatsFixedSize = 464

func (s *DBStatistics) put(e *encoder) {
	var f dbStatsFixed
	f.Locks = s.Locks
	f.VacuumLatency = s.VacuumLatency
	f.DBRODelegations = s.DBRODelegations
	f.DBRORevokes = s.DBRORevokes
	f.HopCountBucket = s.HopCountBucket
	f.NumHotKeys = s.NumHotKeys
	for i, k := range s.HotKeys {
		f.HotKeys[i].Count = k.Count
		f.HotKeys[i].Size = uint64(len(k.Key))
	}
	putFixed(e, &f)
	for _, k := range s.HotKeys {
		e.raw(k.Key)
	}
}

func (s *DBStatistics) get(d *decoder) {
	var f dbStatsFixed
	getFixed(d, "db_statistics", dbStatsFixedSize, &f)
	if d.err != nil {
		return
	}
	s.Locks = f.Locks
	s.VacuumLatency = f.VacuumLatency
	s.DBRODelegations = f.DBRODelegations
	s.DBRORevokes = f.DBRORevokes
	s.HopCountBucket = f.HopCountBucket
	s.NumHotKeys = f.NumHotKeys
	for i := range s.HotKeys {
		n := f.HotKeys[i].Size
		if n > uint64(d.remaining()) {
			d.failf(fmt.Sprintf("db_statistics.hot_keys[%d].key", i), ErrTooLarge, "%d bytes, %d left", n, d.remaining())
			return
		}
		s.HotKeys[i] = HotKey{Count: f.HotKeys[i].Count, Key: d.bytes(fmt.Sprintf("db_statistics.hot_keys[%d].key", i), int(n))}
	}
}

// TunableList is struct ctdb_tunable_list, the GET_ALL_TUNABLES reply: every
// tunable as a u32 in the C struct order, obsolete ones included.
// Get and Set address the fields by the names `ctdb listvars` prints.
type TunableList struct {
	MaxRedirectCount           uint32
	SeqnumInterval             uint32
	ControlTimeout             uint32
	TraverseTimeout            uint32
	KeepaliveInterval          uint32
	KeepaliveLimit             uint32
	RecoverTimeout             uint32
	RecoverInterval            uint32
	ElectionTimeout            uint32
	TakeoverTimeout            uint32
	MonitorInterval            uint32
	TickleUpdateInterval       uint32
	ScriptTimeout              uint32
	MonitorTimeoutCount        uint32
	ScriptUnhealthyOnTimeout   uint32
	RecoveryGracePeriod        uint32
	RecoveryBanPeriod          uint32
	DatabaseHashSize           uint32
	DatabaseMaxDead            uint32
	RerecoveryTimeout          uint32
	EnableBans                 uint32
	DeterministicPublicIPs     uint32
	ReclockPingPeriod          uint32
	NoIPFailback               uint32
	DisableIPFailover          uint32
	VerboseMemoryNames         uint32
	RecdPingTimeout            uint32
	RecdPingFailcount          uint32
	LogLatencyMs               uint32
	ReclockLatencyMs           uint32
	RecoveryDropAllIPs         uint32
	VerifyRecoveryLock         uint32
	VacuumInterval             uint32
	VacuumMaxRunTime           uint32
	RepackLimit                uint32
	VacuumLimit                uint32
	MaxQueueDepthDropMsg       uint32
	AllowUnhealthyDBRead       uint32
	StatHistoryInterval        uint32
	DeferredAttachTimeout      uint32
	VacuumFastPathCount        uint32
	LCP2PublicIPAssignment     uint32
	AllowClientDBAttach        uint32
	RecoverPDBBySeqnum         uint32
	DeferredRebalanceOnNodeAdd uint32
	FetchCollapse              uint32
	HopcountMakeSticky         uint32
	StickyDuration             uint32
	StickyPindown              uint32
	NoIPTakeover               uint32
	DBRecordCountWarn          uint32
	DBRecordSizeWarn           uint32
	DBSizeWarn                 uint32
	PullDBPreallocationSize    uint32
	NoIPHostOnAllDisabled      uint32
	Samba3Hack                 uint32
	MutexEnabled               uint32
	LockProcessesPerDB         uint32
	RecBufferSizeLimit         uint32
	QueueBufferSize            uint32
	IPAllocAlgorithm           uint32
	AllowMixedVersions         uint32
}

// TunableListSize is sizeof(struct ctdb_tunable_list): 62 u32 slots.
const TunableListSize = 62 * 4

func (t *TunableList) put(e *encoder) { putFixed(e, t) }
func (t *TunableList) get(d *decoder) { getFixed(d, "tunable_list", TunableListSize, t) }

// tunableSlots lists, in wire order, the name ctdb uses for each slot.
var tunableSlots = [...]string{
	"MaxRedirectCount", "SeqnumInterval", "ControlTimeout", "TraverseTimeout",
	"KeepaliveInterval", "KeepaliveLimit", "RecoverTimeout", "RecoverInterval",
	"ElectionTimeout", "TakeoverTimeout", "MonitorInterval", "TickleUpdateInterval",
	"EventScriptTimeout", "MonitorTimeoutCount", "EventScriptUnhealthyOnTimeout",
	"RecoveryGracePeriod", "RecoveryBanPeriod", "DatabaseHashSize", "DatabaseMaxDead",
	"RerecoveryTimeout", "EnableBans", "DeterministicIPs", "ReclockPingPeriod",
	"NoIPFailback", "DisableIPFailover", "VerboseMemoryNames", "RecdPingTimeout",
	"RecdFailCount", "LogLatencyMs", "RecLockLatencyMs", "RecoveryDropAllIPs",
	"VerifyRecoveryLock", "VacuumInterval", "VacuumMaxRunTime", "RepackLimit",
	"VacuumLimit", "MaxQueueDropMsg", "AllowUnhealthyDBRead", "StatHistoryInterval",
	"DeferredAttachTO", "VacuumFastPathCount", "LCP2PublicIPs", "AllowClientDBAttach",
	"RecoverPDBBySeqNum", "DeferredRebalanceOnNodeAdd", "FetchCollapse",
	"HopcountMakeSticky", "StickyDuration", "StickyPindown", "NoIPTakeover",
	"DBRecordCountWarn", "DBRecordSizeWarn", "DBSizeWarn", "PullDBPreallocation",
	"NoIPHostOnAllDisabled", "Samba3AvoidDeadlocks", "TDBMutexEnabled",
	"LockProcessesPerDB", "RecBufferSizeLimit", "QueueBufferSize", "IPAllocAlgorithm",
	"AllowMixedVersions",
}

// TunableNames returns the ctdb names of all slots in wire order.
func TunableNames() []string { return append([]string(nil), tunableSlots[:]...) }

func tunableSlot(name string) int {
	for i, n := range tunableSlots {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// Get returns the tunable with the given ctdb name (case-insensitive, as
// `ctdb getvar` accepts it); ok is false for an unknown name.
func (t *TunableList) Get(name string) (v uint32, ok bool) {
	i := tunableSlot(name)
	if i < 0 {
		return 0, false
	}
	return uint32(reflect.ValueOf(t).Elem().Field(i).Uint()), true
}

// Set stores the tunable with the given ctdb name; ok is false for an unknown name.
func (t *TunableList) Set(name string, v uint32) (ok bool) {
	i := tunableSlot(name)
	if i < 0 {
		return false
	}
	reflect.ValueOf(t).Elem().Field(i).SetUint(uint64(v))
	return true
}
