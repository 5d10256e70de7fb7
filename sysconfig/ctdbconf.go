package sysconfig

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"
)

// confOption describes one option of ctdb.conf: where it lives, its default, how its
// value is checked, and which classic sysconfig variable sets the same thing.
type confOption struct {
	Section, Key string
	Default      string
	// AliasOf names the key this one is a deprecated spelling of ("recovery lock").
	AliasOf string
	// Sysconfig is the classic variable that maps onto this option, if any.
	Sysconfig string
	// check validates a (non-empty) value; nil accepts anything.
	check func(v string) error
	// fromSysconfig converts the sysconfig variable's value to this option's value.
	fromSysconfig func(v string) (string, error)
	// mustExist: an explicitly set directory must exist (as CTDB checks).
	mustExist bool
}

// confSections lists the sections of ctdb.conf in dump order.
var confSections = []string{"logging", "cluster", "database", "event", "failover", "legacy"}

// confOptions lists every ctdb.conf option, in `ctdb-config dump` order. Defaults are
// those of Debian's CTDB 4.17.
var confOptions = []confOption{
	{Section: "logging", Key: "location", Default: "file:/var/log/ctdb/log.ctdb", Sysconfig: "CTDB_LOGGING", check: checkLogLocation},
	{Section: "logging", Key: "log level", Default: "ERROR", Sysconfig: "CTDB_DEBUGLEVEL", check: checkLogLevel, fromSysconfig: logLevelFromSysconfig},
	{Section: "cluster", Key: "transport", Default: "tcp", Sysconfig: "CTDB_TRANSPORT", check: checkTransport},
	{Section: "cluster", Key: "node address", Sysconfig: "CTDB_NODE_ADDRESS", check: checkNodeAddress},
	{Section: "cluster", Key: "cluster lock", Sysconfig: "CTDB_RECOVERY_LOCK", check: checkClusterLock},
	{Section: "cluster", Key: "recovery lock", AliasOf: "cluster lock", check: checkClusterLock},
	{Section: "cluster", Key: "leader timeout", Default: "5", check: checkPositiveInt},
	{Section: "cluster", Key: "leader capability", Default: "true", Sysconfig: "CTDB_CAPABILITY_RECMASTER", check: checkBool, fromSysconfig: boolFromSysconfig},
	{Section: "cluster", Key: "nodes list", Sysconfig: "CTDB_NODES", check: checkPathOrCommand},
	{Section: "database", Key: "volatile database directory", Default: "/var/lib/ctdb/volatile", Sysconfig: "CTDB_DBDIR", check: checkAbsPath, fromSysconfig: dbdirFromSysconfig, mustExist: true},
	{Section: "database", Key: "persistent database directory", Default: "/var/lib/ctdb/persistent", Sysconfig: "CTDB_DBDIR_PERSISTENT", check: checkAbsPath, mustExist: true},
	{Section: "database", Key: "state database directory", Default: "/var/lib/ctdb/state", Sysconfig: "CTDB_DBDIR_STATE", check: checkAbsPath, mustExist: true},
	{Section: "database", Key: "lock debug script", Sysconfig: "CTDB_DEBUG_LOCKS"},
	{Section: "database", Key: "tdb mutexes", Default: "true", check: checkBool},
	{Section: "event", Key: "debug script", Sysconfig: "CTDB_DEBUG_HUNG_SCRIPT"},
	{Section: "failover", Key: "disabled", Default: "false", check: checkBool},
	{Section: "legacy", Key: "realtime scheduling", Default: "true", Sysconfig: "CTDB_NOSETSCHED", check: checkBool, fromSysconfig: invertedBoolFromSysconfig},
	{Section: "legacy", Key: "lmaster capability", Default: "true", Sysconfig: "CTDB_CAPABILITY_LMASTER", check: checkBool, fromSysconfig: boolFromSysconfig},
	{Section: "legacy", Key: "start as stopped", Default: "false", Sysconfig: "CTDB_START_AS_STOPPED", check: checkBool, fromSysconfig: boolFromSysconfig},
	{Section: "legacy", Key: "start as disabled", Default: "false", Sysconfig: "CTDB_START_AS_DISABLED", check: checkBool, fromSysconfig: boolFromSysconfig},
	{Section: "legacy", Key: "script log level", Default: "ERROR", Sysconfig: "CTDB_SCRIPT_LOG_LEVEL", check: checkLogLevel, fromSysconfig: logLevelFromSysconfig},
}

func findConfOption(section, key string) (*confOption, bool) {
	for i := range confOptions {
		o := &confOptions[i]
		if strings.EqualFold(o.Section, section) && strings.EqualFold(o.Key, normKey(key)) {
			return o, true
		}
	}
	return nil, false
}

// normKey folds runs of blanks in a key to one space.
func normKey(k string) string { return strings.Join(strings.Fields(k), " ") }

func knownSection(s string) bool {
	for _, x := range confSections {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ConfSetting is one option set in ctdb.conf.
type ConfSetting struct {
	Section, Key, Value string
	Line                int
}

// ParseCtdbConf reads a ctdb.conf file with gopkg.in/ini.v1, the way CTDB's own parser
// treats it: `[section]` headers, `key = value` lines (keys may contain spaces), `#` and
// `;` comment lines, no inline comments, quotes kept as part of the value, the last of
// repeated keys wins. Unknown sections and keys, options outside a section, empty
// values and invalid values are errors naming the file and line. Section and key names
// are matched case-insensitively. The result is keyed by the canonical option (aliases
// such as "recovery lock" are kept as written; Config resolves them).
func ParseCtdbConf(path string, data []byte) ([]ConfSetting, error) {
	// First pass: syntax and line numbers, which ini.v1 does not report.
	lineOf := map[[2]string]int{}
	section := ""
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 || strings.TrimSpace(line[end+1:]) != "" {
				return nil, fmt.Errorf("sysconfig: %s:%d: malformed section header %q", path, n, line)
			}
			section = strings.TrimSpace(line[1:end])
			if !knownSection(section) {
				return nil, fmt.Errorf("sysconfig: %s:%d: unknown section [%s] (known: %s)", path, n, section, strings.Join(confSections, ", "))
			}
			section = strings.ToLower(section)
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("sysconfig: %s:%d: expected \"key = value\" or [section], got %q", path, n, line)
		}
		key = normKey(key)
		if section == "" {
			return nil, fmt.Errorf("sysconfig: %s:%d: option %q is outside of a section", path, n, key)
		}
		opt, ok := findConfOption(section, key)
		if !ok {
			return nil, fmt.Errorf("sysconfig: %s:%d: unknown option [%s] -> %q", path, n, section, key)
		}
		if strings.TrimSpace(value) == "" {
			return nil, fmt.Errorf("sysconfig: %s:%d: empty value for [%s] -> %q", path, n, section, key)
		}
		lineOf[[2]string{opt.Section, opt.Key}] = n
	}

	f, err := ini.LoadSources(ini.LoadOptions{
		IgnoreInlineComment:     true,
		PreserveSurroundedQuote: true,
		Insensitive:             true,
		KeyValueDelimiters:      "=",
		IgnoreContinuation:      true,
	}, data)
	if err != nil {
		return nil, fmt.Errorf("sysconfig: %s: %w", path, err)
	}
	var out []ConfSetting
	for _, sec := range f.Sections() {
		for _, k := range sec.Keys() {
			opt, ok := findConfOption(sec.Name(), k.Name())
			if !ok {
				// The first pass rejects these; ini.v1 agreeing keeps us honest.
				return nil, fmt.Errorf("sysconfig: %s: unknown option [%s] -> %q", path, sec.Name(), k.Name())
			}
			v := strings.TrimSpace(k.Value())
			n := lineOf[[2]string{opt.Section, opt.Key}]
			if opt.check != nil {
				if err := opt.check(v); err != nil {
					return nil, fmt.Errorf("sysconfig: %s:%d: [%s] %s = %s: %w", path, n, opt.Section, opt.Key, v, err)
				}
			}
			if opt.mustExist {
				if st, err := os.Stat(v); err != nil || !st.IsDir() {
					return nil, fmt.Errorf("sysconfig: %s:%d: [%s] %s: directory %s does not exist: create it or fix the path", path, n, opt.Section, opt.Key, v)
				}
			}
			out = append(out, ConfSetting{Section: opt.Section, Key: opt.Key, Value: v, Line: n})
		}
	}
	return out, nil
}

// ParseBool parses the boolean spellings CTDB accepts (case-insensitive): yes/no,
// true/false, on/off, 1/0.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (yes/no, true/false, on/off, 1/0)", v)
}

func checkBool(v string) error { _, err := ParseBool(v); return err }

func boolFromSysconfig(v string) (string, error) {
	b, err := ParseBool(v)
	return strconv.FormatBool(b), err
}

func invertedBoolFromSysconfig(v string) (string, error) {
	b, err := ParseBool(v)
	return strconv.FormatBool(!b), err
}

// LogLevels are CTDB's log level names in increasing verbosity; a numeric level is the
// index into this list.
var LogLevels = []string{"ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"}

// ParseLogLevel returns the canonical name of a CTDB log level given by name (ERR,
// ERROR, WARNING, NOTICE, INFO, DEBUG; any case) or number (0 to 4; CTDB's historical
// -1 and negative numbers mean ERROR, larger numbers DEBUG).
func ParseLogLevel(v string) (string, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	if s == "ERR" {
		return "ERROR", nil
	}
	for _, l := range LogLevels {
		if s == l {
			return l, nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil {
		switch {
		case n < 0:
			return "ERROR", nil
		case n >= len(LogLevels):
			return "DEBUG", nil
		default:
			return LogLevels[n], nil
		}
	}
	return "", fmt.Errorf("%q is not a log level (ERROR, WARNING, NOTICE, INFO, DEBUG or 0 to 4)", v)
}

func checkLogLevel(v string) error { _, err := ParseLogLevel(v); return err }

// SlogLevel maps a CTDB log level (any form ParseLogLevel accepts) onto log/slog's
// levels, NOTICE being LevelNotice; ok is false for something that is not a level.
func SlogLevel(v string) (level slog.Level, ok bool) {
	name, err := ParseLogLevel(v)
	if err != nil {
		return 0, false
	}
	switch name {
	case "ERROR":
		return slog.LevelError, true
	case "WARNING":
		return slog.LevelWarn, true
	case "NOTICE":
		return LevelNotice, true
	case "INFO":
		return slog.LevelInfo, true
	}
	return slog.LevelDebug, true
}

func logLevelFromSysconfig(v string) (string, error) { return ParseLogLevel(v) }

func checkLogLocation(v string) error {
	switch {
	case v == "syslog", v == "syslog:nonblocking", v == "syslog:udp", v == "syslog:udp-rfc5424":
		return nil
	case strings.HasPrefix(v, "file:"):
		p := strings.TrimPrefix(v, "file:")
		if p != "" && !strings.HasPrefix(p, "/") {
			return fmt.Errorf("the log file must be an absolute path (file:/var/log/ctdb/log.ctdb)")
		}
		return nil
	}
	return fmt.Errorf("not a log location: use file:PATH, syslog, syslog:nonblocking, syslog:udp or syslog:udp-rfc5424")
}

func checkTransport(v string) error {
	if strings.EqualFold(v, "tcp") {
		return nil
	}
	if strings.EqualFold(v, "ib") {
		return fmt.Errorf("the InfiniBand transport is not supported: use tcp")
	}
	return fmt.Errorf("unknown transport: use tcp")
}

func checkNodeAddress(v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return fmt.Errorf("not an IPv4 or IPv6 address")
	}
	return nil
}

func checkClusterLock(v string) error {
	if strings.HasPrefix(v, "!") {
		if strings.TrimSpace(v[1:]) == "" {
			return fmt.Errorf("\"!\" must be followed by a helper command")
		}
		return nil
	}
	if !strings.HasPrefix(v, "/") {
		return fmt.Errorf("the cluster lock must be an absolute path on the cluster file system, or !HELPER ARGS")
	}
	return nil
}

func checkPathOrCommand(v string) error {
	if strings.HasPrefix(v, "!") {
		if strings.TrimSpace(v[1:]) == "" {
			return fmt.Errorf("\"!\" must be followed by a command")
		}
		return nil
	}
	return checkAbsPath(v)
}

func checkAbsPath(v string) error {
	if !strings.HasPrefix(v, "/") {
		return fmt.Errorf("must be an absolute path")
	}
	return nil
}

func checkPositiveInt(v string) error {
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil || n == 0 {
		return fmt.Errorf("must be a whole number greater than 0")
	}
	return nil
}

// dbdirFromSysconfig maps CTDB_DBDIR. The classic "tmpfs[:OPTIONS]" form asked the init
// script to mount a tmpfs; ctdbd does not mount file systems, so it is refused with
// advice.
func dbdirFromSysconfig(v string) (string, error) {
	if v == "tmpfs" || strings.HasPrefix(v, "tmpfs:") {
		return "", fmt.Errorf("%q (a tmpfs mounted by the init script) is not supported: mount a tmpfs yourself (e.g. a systemd mount unit) and set CTDB_DBDIR to its path", v)
	}
	return v, nil
}
