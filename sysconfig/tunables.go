package sysconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// TunableDef describes one CTDB tunable: its name as `ctdb listvars` shows it, its
// default, and the range of values ctdbd accepts.
type TunableDef struct {
	Name     string
	Default  uint32
	Min, Max uint32
	// Obsolete tunables are accepted (and their values kept) but have no effect and
	// are not listed by `ctdb listvars`.
	Obsolete bool
	Doc      string
}

const maxU32 = ^uint32(0)

// Tunables in `ctdb listvars` order (CTDB 4.17), then the obsolete ones.
var tunableDefs = []TunableDef{
	{Name: "SeqnumInterval", Default: 1000, Max: maxU32, Doc: "ms between database sequence number propagations"},
	{Name: "ControlTimeout", Default: 60, Min: 1, Max: maxU32, Doc: "seconds before a control times out"},
	{Name: "TraverseTimeout", Default: 20, Min: 1, Max: maxU32, Doc: "seconds before a traverse times out"},
	{Name: "KeepaliveInterval", Default: 5, Min: 1, Max: maxU32, Doc: "seconds between keepalives to other nodes"},
	{Name: "KeepaliveLimit", Default: 5, Min: 1, Max: maxU32, Doc: "missed keepalive intervals before a node is DISCONNECTED"},
	{Name: "RecoverTimeout", Default: 30, Min: 1, Max: maxU32, Doc: "seconds the leader waits for recovery controls"},
	{Name: "RecoverInterval", Default: 1, Min: 1, Max: maxU32, Doc: "seconds between the leader's consistency checks"},
	{Name: "ElectionTimeout", Default: 3, Min: 1, Max: maxU32, Doc: "seconds an election lasts"},
	{Name: "TakeoverTimeout", Default: 9, Min: 1, Max: maxU32, Doc: "seconds for IP takeover controls"},
	{Name: "MonitorInterval", Default: 15, Min: 1, Max: maxU32, Doc: "seconds between monitor events"},
	{Name: "TickleUpdateInterval", Default: 20, Min: 1, Max: maxU32, Doc: "seconds between tickle list synchronisations"},
	{Name: "EventScriptTimeout", Default: 30, Min: 1, Max: maxU32, Doc: "seconds an event may run before it is killed"},
	{Name: "MonitorTimeoutCount", Default: 20, Min: 1, Max: maxU32, Doc: "consecutive monitor timeouts before the node is UNHEALTHY"},
	{Name: "RecoveryGracePeriod", Default: 120, Max: maxU32, Doc: "seconds after which ban credits are forgiven"},
	{Name: "RecoveryBanPeriod", Default: 300, Min: 1, Max: maxU32, Doc: "seconds a misbehaving node is banned"},
	{Name: "DatabaseHashSize", Default: 100001, Min: 1, Max: maxU32, Doc: "hash size of new TDB databases"},
	{Name: "DatabaseMaxDead", Default: 5, Max: maxU32, Doc: "dead records kept per hash chain"},
	{Name: "RerecoveryTimeout", Default: 10, Max: maxU32, Doc: "seconds without a new recovery after one"},
	{Name: "EnableBans", Default: 1, Max: 1, Doc: "1 to ban misbehaving nodes"},
	{Name: "NoIPFailback", Default: 0, Max: 1, Doc: "1 to never move IPs back to a recovered node"},
	{Name: "VerboseMemoryNames", Default: 0, Max: 1, Doc: "1 for verbose memory names"},
	{Name: "RecdPingTimeout", Default: 60, Min: 1, Max: maxU32, Doc: "seconds before an unresponsive recovery daemon is restarted"},
	{Name: "RecdFailCount", Default: 10, Min: 1, Max: maxU32, Doc: "recovery daemon failures before restart"},
	{Name: "LogLatencyMs", Default: 0, Max: maxU32, Doc: "log database operations slower than this (ms, 0 = off)"},
	{Name: "RecLockLatencyMs", Default: 1000, Max: maxU32, Doc: "warn when the cluster lock takes longer (ms)"},
	{Name: "RecoveryDropAllIPs", Default: 120, Max: maxU32, Doc: "seconds in recovery after which a node drops its IPs"},
	{Name: "VacuumInterval", Default: 10, Max: maxU32, Doc: "seconds between vacuum runs (0 = off)"},
	{Name: "VacuumMaxRunTime", Default: 120, Min: 1, Max: maxU32, Doc: "seconds a vacuum run may take"},
	{Name: "RepackLimit", Default: 10000, Max: maxU32, Doc: "free-list records before a repack"},
	{Name: "VacuumFastPathCount", Default: 60, Max: maxU32, Doc: "fast vacuum runs between full runs"},
	{Name: "MaxQueueDropMsg", Default: 1000000, Max: maxU32, Doc: "queued messages per client before dropping"},
	{Name: "AllowUnhealthyDBRead", Default: 0, Max: 1, Doc: "1 to allow reading unhealthy databases"},
	{Name: "StatHistoryInterval", Default: 1, Min: 1, Max: maxU32, Doc: "seconds between statistics snapshots"},
	{Name: "DeferredAttachTO", Default: 120, Min: 1, Max: maxU32, Doc: "seconds attach requests wait during recovery"},
	{Name: "AllowClientDBAttach", Default: 1, Max: 1, Doc: "1 to let clients attach databases"},
	{Name: "FetchCollapse", Default: 1, Max: 1, Doc: "1 to collapse concurrent fetches of a record"},
	{Name: "HopcountMakeSticky", Default: 50, Max: maxU32, Doc: "hop count that makes a record sticky"},
	{Name: "StickyDuration", Default: 600, Max: maxU32, Doc: "seconds a record stays sticky"},
	{Name: "StickyPindown", Default: 200, Max: maxU32, Doc: "ms a sticky record is pinned to a node"},
	{Name: "NoIPTakeover", Default: 0, Max: 1, Doc: "1 to never move IPs to other nodes"},
	{Name: "DBRecordCountWarn", Default: 100000, Max: maxU32, Doc: "warn above this many records in a database"},
	{Name: "DBRecordSizeWarn", Default: 10000000, Max: maxU32, Doc: "warn for records larger than this (bytes)"},
	{Name: "DBSizeWarn", Default: 100000000, Max: maxU32, Doc: "warn for databases larger than this (bytes)"},
	{Name: "PullDBPreallocation", Default: 10485760, Max: maxU32, Doc: "bytes preallocated when pulling a database"},
	{Name: "LockProcessesPerDB", Default: 200, Min: 1, Max: maxU32, Doc: "lock helper processes per database"},
	{Name: "RecBufferSizeLimit", Default: 1000000, Min: 1, Max: maxU32, Doc: "bytes per record buffer in recovery and vacuuming"},
	{Name: "QueueBufferSize", Default: 1024, Min: 1, Max: maxU32, Doc: "bytes read per socket read"},
	{Name: "IPAllocAlgorithm", Default: 2, Max: 2, Doc: "0 deterministic, 1 non-deterministic, 2 LCP2"},
	{Name: "AllowMixedVersions", Default: 0, Max: 1, Doc: "1 to allow nodes of different versions"},

	{Name: "MaxRedirectCount", Default: 3, Max: maxU32, Obsolete: true},
	{Name: "EventScriptUnhealthyOnTimeout", Default: 0, Max: maxU32, Obsolete: true},
	{Name: "DeterministicIPs", Default: 0, Max: maxU32, Obsolete: true},
	{Name: "LCP2PublicIPs", Default: 1, Max: maxU32, Obsolete: true},
	{Name: "ReclockPingPeriod", Default: 60, Max: maxU32, Obsolete: true},
	{Name: "DisableIPFailover", Default: 0, Max: maxU32, Obsolete: true},
	{Name: "VerifyRecoveryLock", Default: 1, Max: maxU32, Obsolete: true},
	{Name: "VacuumLimit", Default: 5000, Max: maxU32, Obsolete: true},
	{Name: "RecoverPDBBySeqNum", Default: 1, Max: maxU32, Obsolete: true},
	{Name: "DeferredRebalanceOnNodeAdd", Default: 300, Max: maxU32, Obsolete: true},
	{Name: "NoIPHostOnAllDisabled", Default: 1, Max: maxU32, Obsolete: true},
	{Name: "Samba3AvoidDeadlocks", Default: 0, Max: maxU32, Obsolete: true},
	{Name: "TDBMutexEnabled", Default: 1, Max: maxU32, Obsolete: true},
}

var tunableIndex = func() map[string]int {
	m := make(map[string]int, len(tunableDefs))
	for i, d := range tunableDefs {
		m[strings.ToLower(d.Name)] = i
	}
	return m
}()

// LookupTunable finds a tunable by name, case-insensitively.
func LookupTunable(name string) (TunableDef, bool) {
	i, ok := tunableIndex[strings.ToLower(name)]
	if !ok {
		return TunableDef{}, false
	}
	return tunableDefs[i], true
}

// TunableDefs returns every tunable, current ones first in `ctdb listvars` order,
// then the obsolete ones.
func TunableDefs() []TunableDef { return append([]TunableDef(nil), tunableDefs...) }

// Tunables holds a value for every tunable. The zero value is not useful; start from
// DefaultTunables. A Tunables is not safe for concurrent modification; the daemon
// copies it rather than sharing it.
type Tunables struct {
	values []uint32 // indexed like tunableDefs
	source []string // where a non-default value came from ("" = default)
}

// DefaultTunables returns every tunable at its default.
func DefaultTunables() *Tunables {
	t := &Tunables{values: make([]uint32, len(tunableDefs)), source: make([]string, len(tunableDefs))}
	for i, d := range tunableDefs {
		t.values[i] = d.Default
	}
	return t
}

// Get returns the value of a tunable by name (case-insensitive).
func (t *Tunables) Get(name string) (uint32, bool) {
	i, ok := tunableIndex[strings.ToLower(name)]
	if !ok {
		return 0, false
	}
	return t.values[i], true
}

// MustGet returns the value of a tunable that is known to exist; it panics on a name
// that is not in the table (a programming error, never user input).
func (t *Tunables) MustGet(name string) uint32 {
	v, ok := t.Get(name)
	if !ok {
		panic("sysconfig: unknown tunable " + name)
	}
	return v
}

// Source returns where the tunable's value was set ("" when it has its default).
func (t *Tunables) Source(name string) string {
	i, ok := tunableIndex[strings.ToLower(name)]
	if !ok {
		return ""
	}
	return t.source[i]
}

// Set parses and sets a tunable. source names where the setting came from (file:line)
// and is used in errors. Obsolete tunables are set too (they have no effect);
// obsolete reports that so the caller can warn.
func (t *Tunables) Set(name, value, source string) (obsolete bool, err error) {
	i, ok := tunableIndex[strings.ToLower(name)]
	if !ok {
		return false, fmt.Errorf("%s: unknown tunable %q (see `ctdb listvars`)", source, name)
	}
	d := tunableDefs[i]
	n, perr := strconv.ParseUint(strings.TrimSpace(value), 10, 32)
	if perr != nil {
		return false, fmt.Errorf("%s: tunable %s: %q is not a whole number from %d to %d", source, d.Name, value, d.Min, d.Max)
	}
	v := uint32(n)
	if v < d.Min || v > d.Max {
		return false, fmt.Errorf("%s: tunable %s: %d is out of range (%d to %d)", source, d.Name, v, d.Min, d.Max)
	}
	t.values[i] = v
	t.source[i] = source
	return d.Obsolete, nil
}

// Clone returns an independent copy.
func (t *Tunables) Clone() *Tunables {
	return &Tunables{values: append([]uint32(nil), t.values...), source: append([]string(nil), t.source...)}
}

// TunableSetting is one `Name=value` line of a tunables file.
type TunableSetting struct {
	Name, Value string
	Line        int
}

// ParseTunablesFile parses a ctdb.tunables file: `Name=value` lines, blank lines and
// `#` comments; spaces around the name, the `=` and the value are allowed. It only checks
// the syntax; names and values are checked by Tunables.Set.
func ParseTunablesFile(path string, data []byte) ([]TunableSetting, error) {
	var out []TunableSetting
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return nil, fmt.Errorf("sysconfig: %s:%d: expected Name=value, got %q", path, i+1, line)
		}
		out = append(out, TunableSetting{Name: name, Value: value, Line: i + 1})
	}
	return out, nil
}
