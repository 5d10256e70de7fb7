// Package sysconfig turns everything a CTDB node is configured with into one validated
// Config: the classic sysconfig file (/etc/sysconfig/ctdb or /etc/default/ctdb, plain
// shell assignments read by our own strict parser), the modern ctdb.conf (ini), the
// tunables (ctdb.tunables and CTDB_SET_*), the nodes file and the public addresses file.
//
// Where both styles set the same thing, ctdb.conf wins and a notice says so. Every
// error names the file and line it comes from and says what to do.
package sysconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Default paths, as Debian's CTDB 4.17 has them.
const (
	DefaultBase   = "/etc/ctdb"
	DefaultVarDir = "/var/lib/ctdb"
	DefaultSocket = "/var/run/ctdb/ctdbd.socket"
)

// DefaultSysconfigFiles are the classic sysconfig locations, in the order they are
// tried: RPM systems first, then DEB systems.
var DefaultSysconfigFiles = []string{"/etc/sysconfig/ctdb", "/etc/default/ctdb"}

// ManagedServices are the services with a stock CTDB_MANAGES_<NAME> variable.
var ManagedServices = []string{"SAMBA", "WINBIND", "NFS", "VSFTPD", "HTTPD", "ISCSI", "CLAMD"}

// Options says where Load finds a node's configuration. The zero value reads the real
// system paths.
type Options struct {
	// Base is CTDB_BASE; empty means the environment's CTDB_BASE, else /etc/ctdb.
	Base string
	// SysconfigFile is the sysconfig file to read; empty means the environment's
	// CTDB_SYSCONFIG, else the first of SysconfigCandidates that exists. "none" reads
	// no sysconfig file. A file named explicitly must exist.
	SysconfigFile string
	// SysconfigCandidates overrides DefaultSysconfigFiles (for tests).
	SysconfigCandidates []string
	// LookupEnv resolves $VAR in the sysconfig file for variables the file does not set
	// itself, and CTDB_BASE / CTDB_SYSCONFIG; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Logger receives notices, warnings and (at debug level) ignored sysconfig lines;
	// nil discards them. They are also kept in Config.Messages.
	Logger *slog.Logger
	// SkipNodes leaves the nodes file unread (Config.Nodes stays empty), for tools that
	// need the node's own settings but not the cluster's members (ctdb event).
	SkipNodes bool
}

// Message is a notice or warning found while loading.
type Message struct {
	Level slog.Level
	Text  string
}

// LevelNotice sits between Info and Warn, like CTDB's NOTICE.
const LevelNotice = slog.LevelInfo + 2

// setting is the effective value of one ctdb.conf option and where it came from.
type setting struct {
	value  string
	origin string // "" = default; otherwise "FILE:LINE (VARIABLE)" or "FILE:LINE"
	isSet  bool
}

// Config is a node's whole validated configuration. It is built once by Load and not
// modified afterwards, so it may be shared between goroutines for reading.
type Config struct {
	Base          string // CTDB_BASE
	SysconfigFile string // the sysconfig file read, "" if none
	ConfFile      string // the ctdb.conf read, "" if none exists
	TunablesFiles []string

	Logging struct {
		Location string // file:PATH, syslog, syslog:nonblocking, syslog:udp, syslog:udp-rfc5424
		Level    string // ERROR, WARNING, NOTICE, INFO or DEBUG
	}
	Cluster struct {
		Transport        string
		NodeAddress      string // "" = the first nodes-file address this host has
		ClusterLock      string // "" = none; "/path" (fcntl lock) or "!helper args"
		LeaderTimeout    int    // seconds
		LeaderCapability bool
		NodesList        string // nodes file path or "!command"
	}
	Database struct {
		VolatileDir, PersistentDir, StateDir string
		LockDebugScript                      string
		TDBMutexes                           bool
	}
	Event struct {
		DebugScript string
	}
	Failover struct {
		Disabled bool
	}
	Legacy struct {
		RealtimeScheduling, LMasterCapability bool
		StartAsStopped, StartAsDisabled       bool
		ScriptLogLevel                        string
	}

	// Settings of the classic sysconfig file without a ctdb.conf key.
	Socket                   string // CTDB_SOCKET
	PublicAddressesFile      string // CTDB_PUBLIC_ADDRESSES; "" when the default file does not exist
	PublicInterface          string // CTDB_PUBLIC_INTERFACE
	EventScriptDir           string // CTDB_EVENT_SCRIPT_DIR, default $CTDB_BASE/events.d
	VarDir                   string // CTDB_VARDIR, default /var/lib/ctdb
	MaxPersistentCheckErrors uint64 // CTDB_MAX_PERSISTENT_CHECK_ERRORS
	Managed                  map[string]bool

	Tunables        *Tunables
	Nodes           []Node
	PublicAddresses []PublicAddress

	// Sysconfig holds every variable of the sysconfig file (nil if none was read), for
	// the settings event scripts read themselves.
	Sysconfig *ShellFile
	Messages  []Message

	values map[[2]string]setting
	extras []extraSetting
}

// extraSetting is a setting without a ctdb.conf key, shown by Dump as a comment.
type extraSetting struct{ name, value, origin string }

// Get returns the effective value of a ctdb.conf option (its default when unset).
// ok is false for an unknown section or key.
func (c *Config) Get(section, key string) (value string, ok bool) {
	opt, ok := findConfOption(section, key)
	if !ok {
		return "", false
	}
	if opt.AliasOf != "" {
		opt, _ = findConfOption(opt.Section, opt.AliasOf)
	}
	return c.values[[2]string{opt.Section, opt.Key}].value, true
}

// Origin returns where a ctdb.conf option's value came from ("" for its default).
func (c *Config) Origin(section, key string) string {
	opt, ok := findConfOption(section, key)
	if !ok {
		return ""
	}
	return c.values[[2]string{opt.Section, opt.Key}].origin
}

type loader struct {
	opts Options
	cfg  *Config
	env  func(string) (string, bool)
}

// Load reads and validates a node's configuration. The error names the file and line of
// the first problem and says what to do.
func Load(opts Options) (*Config, error) {
	env := opts.LookupEnv
	if env == nil {
		env = os.LookupEnv
	}
	l := &loader{opts: opts, env: env, cfg: &Config{values: map[[2]string]setting{}, Managed: map[string]bool{}}}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l.cfg, nil
}

func (l *loader) msg(level slog.Level, format string, a ...any) {
	text := fmt.Sprintf(format, a...)
	if level >= LevelNotice {
		l.cfg.Messages = append(l.cfg.Messages, Message{Level: level, Text: text})
	}
	if l.opts.Logger != nil {
		l.opts.Logger.Log(context.Background(), level, text)
	}
}

func (l *loader) load() error {
	c := l.cfg
	c.Base = l.opts.Base
	if c.Base == "" {
		if v, ok := l.env("CTDB_BASE"); ok && v != "" {
			c.Base = v
		} else {
			c.Base = DefaultBase
		}
	}
	for _, o := range confOptions {
		if o.AliasOf == "" {
			c.values[[2]string{o.Section, o.Key}] = setting{value: o.Default}
		}
	}
	c.values[[2]string{"cluster", "nodes list"}] = setting{value: filepath.Join(c.Base, "nodes")}
	if err := l.loadSysconfig(); err != nil {
		return err
	}
	if err := l.loadCtdbConf(); err != nil {
		return err
	}
	l.fillTyped()
	if err := l.loadTunables(); err != nil {
		return err
	}
	if !l.opts.SkipNodes {
		if err := l.loadNodes(); err != nil {
			return err
		}
	}
	return l.loadPublicAddresses()
}

// sysconfigPath decides which sysconfig file to read ("" for none).
func (l *loader) sysconfigPath() (string, error) {
	p := l.opts.SysconfigFile
	if p == "" {
		if v, ok := l.env("CTDB_SYSCONFIG"); ok {
			p = v
		}
	}
	if p == "none" {
		return "", nil
	}
	if p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("sysconfig: sysconfig file %s: %w", p, errors.Unwrap(err))
		}
		return p, nil
	}
	cands := l.opts.SysconfigCandidates
	if cands == nil {
		cands = DefaultSysconfigFiles
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", nil
}

func (l *loader) loadSysconfig() error {
	path, err := l.sysconfigPath()
	if err != nil || path == "" {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("sysconfig: %w", err)
	}
	f, err := ParseShell(path, data, l.env)
	if err != nil {
		return err
	}
	c := l.cfg
	c.SysconfigFile = path
	c.Sysconfig = f
	for _, ig := range f.Ignored {
		if ig.SetsCTDB {
			l.msg(slog.LevelWarn, "%s:%d: ignored by ctdbd (%s): %s", path, ig.Line, ig.Reason, strings.TrimSpace(ig.Text))
		} else {
			l.msg(slog.LevelDebug, "%s:%d: ignored by ctdbd (%s): %s", path, ig.Line, ig.Reason, strings.TrimSpace(ig.Text))
		}
	}
	where := func(v ShellVar) string { return fmt.Sprintf("%s:%d: %s", path, v.Line, v.Name) }

	// Variables that map onto ctdb.conf options.
	for _, o := range confOptions {
		if o.Sysconfig == "" {
			continue
		}
		v, ok := f.Get(o.Sysconfig)
		if !ok || v.Value == "" {
			continue
		}
		val := v.Value
		if o.fromSysconfig != nil {
			if val, err = o.fromSysconfig(v.Value); err != nil {
				return fmt.Errorf("sysconfig: %s: %w", where(v), err)
			}
		}
		if o.check != nil {
			if err := o.check(val); err != nil {
				return fmt.Errorf("sysconfig: %s: %q: %w", where(v), v.Value, err)
			}
		}
		if o.mustExist {
			if st, err := os.Stat(val); err != nil || !st.IsDir() {
				return fmt.Errorf("sysconfig: %s: directory %s does not exist: create it or fix the path", where(v), val)
			}
		}
		c.values[[2]string{o.Section, o.Key}] = setting{value: val, isSet: true, origin: fmt.Sprintf("%s:%d (%s)", path, v.Line, v.Name)}
	}
	// CTDB_LOGFILE and CTDB_SYSLOG: the logging settings before CTDB_LOGGING existed.
	if _, ok := f.Get("CTDB_LOGGING"); !ok {
		if v, ok := f.Get("CTDB_SYSLOG"); ok && v.Value != "" {
			b, err := ParseBool(v.Value)
			if err != nil {
				return fmt.Errorf("sysconfig: %s: %w", where(v), err)
			}
			if b {
				c.values[[2]string{"logging", "location"}] = setting{value: "syslog", isSet: true, origin: fmt.Sprintf("%s:%d (%s)", path, v.Line, v.Name)}
			}
		} else if v, ok := f.Get("CTDB_LOGFILE"); ok && v.Value != "" {
			if err := checkAbsPath(v.Value); err != nil {
				return fmt.Errorf("sysconfig: %s: %q: %w", where(v), v.Value, err)
			}
			c.values[[2]string{"logging", "location"}] = setting{value: "file:" + v.Value, isSet: true, origin: fmt.Sprintf("%s:%d (%s)", path, v.Line, v.Name)}
		}
	}

	// Booleans read by the daemon or the scripts, checked here so a typo is caught.
	for _, name := range f.Order {
		v := f.Vars[name]
		switch {
		case strings.HasPrefix(name, "CTDB_MANAGES_"):
			svc := strings.TrimPrefix(name, "CTDB_MANAGES_")
			if svc == "" {
				return fmt.Errorf("sysconfig: %s: name the service, e.g. CTDB_MANAGES_SAMBA", where(v))
			}
			b, err := ParseBool(v.Value)
			if err != nil {
				return fmt.Errorf("sysconfig: %s: %w", where(v), err)
			}
			c.Managed[svc] = b
			if !isStockService(svc) {
				l.msg(slog.LevelDebug, "%s: %s is not a stock service; scripts may still test it", where(v), svc)
			}
		case strings.HasPrefix(name, "CTDB_SET_"):
			// handled with the tunables
		}
	}
	if v, ok := f.Get("CTDB_MANAGED_SERVICES"); ok {
		for _, s := range strings.Fields(v.Value) {
			svc := strings.ToUpper(s)
			if _, explicit := f.Get("CTDB_MANAGES_" + svc); explicit {
				continue
			}
			c.Managed[svc] = true
		}
	}

	// Settings without a ctdb.conf key.
	str := func(name string, dst *string, check func(string) error) error {
		v, ok := f.Get(name)
		if !ok || v.Value == "" {
			return nil
		}
		if check != nil {
			if err := check(v.Value); err != nil {
				return fmt.Errorf("sysconfig: %s: %q: %w", where(v), v.Value, err)
			}
		}
		*dst = v.Value
		c.extras = append(c.extras, extraSetting{name, v.Value, fmt.Sprintf("%s:%d", path, v.Line)})
		return nil
	}
	for _, s := range []struct {
		name  string
		dst   *string
		check func(string) error
	}{
		{"CTDB_SOCKET", &c.Socket, checkAbsPath},
		{"CTDB_PUBLIC_ADDRESSES", &c.PublicAddressesFile, checkAbsPath},
		{"CTDB_PUBLIC_INTERFACE", &c.PublicInterface, checkIfaceList},
		{"CTDB_EVENT_SCRIPT_DIR", &c.EventScriptDir, checkAbsPath},
		{"CTDB_VARDIR", &c.VarDir, checkAbsPath},
	} {
		if err := str(s.name, s.dst, s.check); err != nil {
			return err
		}
	}
	if v, ok := f.Get("CTDB_MAX_PERSISTENT_CHECK_ERRORS"); ok && v.Value != "" {
		n, err := strconv.ParseUint(v.Value, 10, 64)
		if err != nil {
			return fmt.Errorf("sysconfig: %s: %q is not a whole number", where(v), v.Value)
		}
		c.MaxPersistentCheckErrors = n
		c.extras = append(c.extras, extraSetting{v.Name, v.Value, fmt.Sprintf("%s:%d", path, v.Line)})
	}
	return nil
}

func isStockService(s string) bool {
	for _, x := range ManagedServices {
		if x == s {
			return true
		}
	}
	return false
}

func checkIfaceList(v string) error {
	for _, i := range strings.Split(v, ",") {
		if err := validIfaceName(i); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) loadCtdbConf() error {
	c := l.cfg
	path := filepath.Join(c.Base, "ctdb.conf")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sysconfig: %w", err)
	}
	settings, err := ParseCtdbConf(path, data)
	if err != nil {
		return err
	}
	c.ConfFile = path
	aliasLine := map[string]ConfSetting{}
	for _, s := range settings {
		opt, _ := findConfOption(s.Section, s.Key)
		key := opt.Key
		if opt.AliasOf != "" {
			key = opt.AliasOf
			aliasLine[key] = s
			if other, ok := findSetting(settings, s.Section, key); ok {
				if other.Value != s.Value {
					return fmt.Errorf("sysconfig: %s:%d: [%s] %s = %s contradicts %s = %s on line %d: keep only %q", path, s.Line, s.Section, s.Key, s.Value, key, other.Value, other.Line, key)
				}
				continue
			}
			l.msg(LevelNotice, "%s:%d: [%s] %q is the old name of %q", path, s.Line, s.Section, s.Key, key)
		}
		k := [2]string{s.Section, key}
		if prev := c.values[k]; prev.isSet {
			l.msg(LevelNotice, "%s:%d: [%s] %s = %s overrides %s from %s", path, s.Line, s.Section, key, s.Value, prev.value, prev.origin)
		}
		c.values[k] = setting{value: s.Value, isSet: true, origin: fmt.Sprintf("%s:%d", path, s.Line)}
	}
	return nil
}

func findSetting(ss []ConfSetting, section, key string) (ConfSetting, bool) {
	for _, s := range ss {
		if s.Section == section && s.Key == key {
			return s, true
		}
	}
	return ConfSetting{}, false
}

// fillTyped copies the effective option values into the typed fields. Values were
// validated when they were read, so parsing cannot fail here.
func (l *loader) fillTyped() {
	c := l.cfg
	get := func(s, k string) string { return c.values[[2]string{s, k}].value }
	b := func(s, k string) bool { v, _ := ParseBool(get(s, k)); return v }
	lvl := func(s, k string) string { v, _ := ParseLogLevel(get(s, k)); return v }
	c.Logging.Location = get("logging", "location")
	c.Logging.Level = lvl("logging", "log level")
	c.Cluster.Transport = strings.ToLower(get("cluster", "transport"))
	c.Cluster.NodeAddress = get("cluster", "node address")
	c.Cluster.ClusterLock = get("cluster", "cluster lock")
	c.Cluster.LeaderTimeout, _ = strconv.Atoi(get("cluster", "leader timeout"))
	c.Cluster.LeaderCapability = b("cluster", "leader capability")
	c.Cluster.NodesList = get("cluster", "nodes list")
	c.Database.VolatileDir = get("database", "volatile database directory")
	c.Database.PersistentDir = get("database", "persistent database directory")
	c.Database.StateDir = get("database", "state database directory")
	c.Database.LockDebugScript = get("database", "lock debug script")
	c.Database.TDBMutexes = b("database", "tdb mutexes")
	c.Event.DebugScript = get("event", "debug script")
	c.Failover.Disabled = b("failover", "disabled")
	c.Legacy.RealtimeScheduling = b("legacy", "realtime scheduling")
	c.Legacy.LMasterCapability = b("legacy", "lmaster capability")
	c.Legacy.StartAsStopped = b("legacy", "start as stopped")
	c.Legacy.StartAsDisabled = b("legacy", "start as disabled")
	c.Legacy.ScriptLogLevel = lvl("legacy", "script log level")
	if c.Socket == "" {
		c.Socket = DefaultSocket
	}
	if c.EventScriptDir == "" {
		c.EventScriptDir = filepath.Join(c.Base, "events.d")
	}
	if c.VarDir == "" {
		c.VarDir = DefaultVarDir
	}
}

func (l *loader) loadTunables() error {
	c := l.cfg
	c.Tunables = DefaultTunables()
	if f := c.Sysconfig; f != nil {
		for _, name := range f.Order {
			if !strings.HasPrefix(name, "CTDB_SET_") {
				continue
			}
			v := f.Vars[name]
			src := fmt.Sprintf("%s:%d: %s", f.Path, v.Line, name)
			obsolete, err := c.Tunables.Set(strings.TrimPrefix(name, "CTDB_SET_"), v.Value, src)
			if err != nil {
				return fmt.Errorf("sysconfig: %w", err)
			}
			if obsolete {
				l.msg(slog.LevelWarn, "%s: tunable %s is obsolete and has no effect", src, strings.TrimPrefix(name, "CTDB_SET_"))
			}
		}
	}
	files := []string{filepath.Join(c.Base, "ctdb.tunables")}
	more, _ := filepath.Glob(filepath.Join(c.Base, "tunables.d", "*.tunables"))
	sort.Strings(more)
	files = append(files, more...)
	for _, path := range files {
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sysconfig: %w", err)
		}
		settings, err := ParseTunablesFile(path, data)
		if err != nil {
			return err
		}
		c.TunablesFiles = append(c.TunablesFiles, path)
		for _, s := range settings {
			src := fmt.Sprintf("%s:%d", path, s.Line)
			prev := c.Tunables.Source(s.Name)
			obsolete, err := c.Tunables.Set(s.Name, s.Value, src)
			if err != nil {
				return fmt.Errorf("sysconfig: %w", err)
			}
			if obsolete {
				l.msg(slog.LevelWarn, "%s: tunable %s is obsolete and has no effect", src, s.Name)
			}
			if prev != "" && c.Sysconfig != nil && strings.HasPrefix(prev, c.Sysconfig.Path+":") {
				l.msg(LevelNotice, "%s: %s=%s overrides %s", src, s.Name, s.Value, prev)
			}
		}
	}
	return nil
}

// originOf describes where the nodes list or public addresses setting came from, for
// error messages.
func (l *loader) nodesOrigin() string {
	if o := l.cfg.values[[2]string{"cluster", "nodes list"}].origin; o != "" {
		return o + ": "
	}
	return ""
}

func (l *loader) loadNodes() error {
	c := l.cfg
	src := c.Cluster.NodesList
	data, err := readNodesData(src)
	if err != nil {
		return fmt.Errorf("sysconfig: %s%w", l.nodesOrigin(), err)
	}
	nodes, err := ParseNodes(src, data)
	if err != nil {
		return err
	}
	c.Nodes = nodes
	if na := c.Cluster.NodeAddress; na != "" {
		found := false
		for _, n := range nodes {
			if !n.Deleted && n.Addr == canonicalAddr(na) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("sysconfig: %s: node address %s is not in the nodes file %s", c.values[[2]string{"cluster", "node address"}].origin, na, src)
		}
	}
	return nil
}

// ReadNodes reads the nodes list as the daemon does at start and on `ctdb
// reloadnodes`: a nodes file, or the output of "!command" (run with /bin/sh, 30 s at
// most). Errors name the file and line, and say what to do.
func ReadNodes(list string) ([]Node, error) {
	data, err := readNodesData(list)
	if err != nil {
		return nil, fmt.Errorf("sysconfig: %w", err)
	}
	return ParseNodes(list, data)
}

func readNodesData(list string) ([]byte, error) {
	if strings.HasPrefix(list, "!") {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", strings.TrimPrefix(list, "!"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("nodes list command %q failed: %v: %s", list[1:], err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	data, err := os.ReadFile(list)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("nodes file %s does not exist: list the private address of every node there, one per line, the same file on every node", list)
	}
	if err != nil {
		return nil, fmt.Errorf("nodes file: %w", err)
	}
	return data, nil
}

func (l *loader) loadPublicAddresses() error {
	c := l.cfg
	path := c.PublicAddressesFile
	explicit := path != ""
	if !explicit {
		path = filepath.Join(c.Base, "public_addresses")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return nil // no public addresses: this node hosts none
	}
	if err != nil {
		for _, e := range c.extras {
			if e.name == "CTDB_PUBLIC_ADDRESSES" {
				return fmt.Errorf("sysconfig: %s: CTDB_PUBLIC_ADDRESSES: file %s: %v", e.origin, path, errors.Unwrap(err))
			}
		}
		return fmt.Errorf("sysconfig: public addresses: %w", err)
	}
	c.PublicAddressesFile = path
	c.PublicAddresses, err = ParsePublicAddresses(path, data, c.PublicInterface)
	return err
}

// canonicalAddr parses an address that was already validated; a bad one gives the zero
// Addr, which matches no node.
func canonicalAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}
