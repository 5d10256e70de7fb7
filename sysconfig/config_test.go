package sysconfig

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// node is a temporary CTDB_BASE with the files a test writes into it.
type node struct {
	t    *testing.T
	base string
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{t: t, base: t.TempDir()}
	n.write("nodes", "10.0.0.1\n10.0.0.2\n10.0.0.3\n")
	return n
}

func (n *node) write(name, text string) string {
	n.t.Helper()
	p := filepath.Join(n.base, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		n.t.Fatal(err)
	}
	return p
}

func (n *node) dir(name string) string {
	n.t.Helper()
	p := filepath.Join(n.base, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		n.t.Fatal(err)
	}
	return p
}

// load reads the node's configuration with the given sysconfig text ("" = no file).
func (n *node) load(sysconfigText string) (*Config, error) {
	n.t.Helper()
	sys := "none"
	if sysconfigText != "" {
		sys = n.write("sysconfig", sysconfigText)
	}
	return Load(Options{Base: n.base, SysconfigFile: sys, LookupEnv: func(string) (string, bool) { return "", false }})
}

func (n *node) mustLoad(sysconfigText string) *Config {
	n.t.Helper()
	c, err := n.load(sysconfigText)
	if err != nil {
		n.t.Fatalf("Load: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	n := newNode(t)
	c := n.mustLoad("")
	checks := []struct {
		name      string
		got, want any
	}{
		{"Base", c.Base, n.base},
		{"Logging.Location", c.Logging.Location, "file:/var/log/ctdb/log.ctdb"},
		{"Logging.Level", c.Logging.Level, "ERROR"},
		{"Cluster.Transport", c.Cluster.Transport, "tcp"},
		{"Cluster.NodeAddress", c.Cluster.NodeAddress, ""},
		{"Cluster.ClusterLock", c.Cluster.ClusterLock, ""},
		{"Cluster.LeaderTimeout", c.Cluster.LeaderTimeout, 5},
		{"Cluster.LeaderCapability", c.Cluster.LeaderCapability, true},
		{"Cluster.NodesList", c.Cluster.NodesList, filepath.Join(n.base, "nodes")},
		{"Database.VolatileDir", c.Database.VolatileDir, "/var/lib/ctdb/volatile"},
		{"Database.PersistentDir", c.Database.PersistentDir, "/var/lib/ctdb/persistent"},
		{"Database.StateDir", c.Database.StateDir, "/var/lib/ctdb/state"},
		{"Database.LockDebugScript", c.Database.LockDebugScript, ""},
		{"Database.TDBMutexes", c.Database.TDBMutexes, true},
		{"Event.DebugScript", c.Event.DebugScript, ""},
		{"Failover.Disabled", c.Failover.Disabled, false},
		{"Legacy.RealtimeScheduling", c.Legacy.RealtimeScheduling, true},
		{"Legacy.LMasterCapability", c.Legacy.LMasterCapability, true},
		{"Legacy.StartAsStopped", c.Legacy.StartAsStopped, false},
		{"Legacy.StartAsDisabled", c.Legacy.StartAsDisabled, false},
		{"Legacy.ScriptLogLevel", c.Legacy.ScriptLogLevel, "ERROR"},
		{"Socket", c.Socket, "/var/run/ctdb/ctdbd.socket"},
		{"PublicAddressesFile", c.PublicAddressesFile, ""},
		{"EventScriptDir", c.EventScriptDir, filepath.Join(n.base, "events.d")},
		{"VarDir", c.VarDir, "/var/lib/ctdb"},
		{"MaxPersistentCheckErrors", c.MaxPersistentCheckErrors, uint64(0)},
		{"managed services", len(c.Managed), 0},
		{"nodes", len(c.Nodes), 3},
		{"EventScriptTimeout", c.Tunables.MustGet("EventScriptTimeout"), uint32(30)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if c.SysconfigFile != "" || c.ConfFile != "" {
		t.Errorf("files read: sysconfig %q ctdb.conf %q, want none", c.SysconfigFile, c.ConfFile)
	}
}

// TestSysconfigVariables sets each classic variable and checks where it lands.
func TestSysconfigVariables(t *testing.T) {
	n := newNode(t)
	dbdir := n.dir("db/volatile")
	pdir := n.dir("db/persistent")
	sdir := n.dir("db/state")
	nodesAlt := n.write("nodes.alt", "192.168.1.1\n192.168.1.2\n")
	pub := n.write("pub", "10.9.0.1/24\n10.9.0.2/24 eth1\n")
	n.write("events.custom/.keep", "")
	sys := strings.Join([]string{
		"CTDB_NODES=" + nodesAlt,
		"CTDB_PUBLIC_ADDRESSES=" + pub,
		"CTDB_PUBLIC_INTERFACE=eth0",
		`CTDB_RECOVERY_LOCK="!/usr/libexec/ctdb/ctdb_mutex_fcntl_helper /clusterfs/.reclock"`,
		"CTDB_DBDIR=" + dbdir,
		"CTDB_DBDIR_PERSISTENT=" + pdir,
		"CTDB_DBDIR_STATE=" + sdir,
		"CTDB_SOCKET=/run/ctdb/other.socket",
		"CTDB_LOGGING=syslog:nonblocking",
		"CTDB_DEBUGLEVEL=2",
		"CTDB_NODE_ADDRESS=192.168.1.2",
		"CTDB_TRANSPORT=TCP",
		"CTDB_CAPABILITY_RECMASTER=no",
		"CTDB_CAPABILITY_LMASTER=No",
		"CTDB_START_AS_DISABLED=YES",
		"CTDB_START_AS_STOPPED=true",
		"CTDB_MAX_PERSISTENT_CHECK_ERRORS=7",
		"CTDB_EVENT_SCRIPT_DIR=" + filepath.Join(n.base, "events.custom"),
		"CTDB_NOSETSCHED=yes",
		"CTDB_SCRIPT_LOG_LEVEL=NOTICE",
		"CTDB_DEBUG_HUNG_SCRIPT=/etc/ctdb/debug-hung-script.sh",
		"CTDB_DEBUG_LOCKS=/etc/ctdb/debug_locks.sh",
		"CTDB_VARDIR=/srv/ctdb-var",
		"CTDB_SET_MonitorInterval=20",
		"CTDB_SET_recoverybanperiod=600",
		"CTDB_MANAGES_SAMBA=yes",
		"CTDB_MANAGES_WINBIND=1",
		"CTDB_MANAGES_NFS=no",
		"CTDB_MANAGES_VSFTPD=TRUE",
		"CTDB_MANAGES_HTTPD=0",
		"CTDB_MANAGES_ISCSI=false",
		"CTDB_MANAGES_CLAMD=Yes",
		"",
	}, "\n")
	c := n.mustLoad(sys)
	checks := []struct {
		name      string
		got, want any
	}{
		{"CTDB_NODES", c.Cluster.NodesList, nodesAlt},
		{"CTDB_NODES read", len(c.Nodes), 2},
		{"CTDB_PUBLIC_ADDRESSES", c.PublicAddressesFile, pub},
		{"CTDB_PUBLIC_INTERFACE default iface", strings.Join(c.PublicAddresses[0].Interfaces, ","), "eth0"},
		{"explicit iface", strings.Join(c.PublicAddresses[1].Interfaces, ","), "eth1"},
		{"CTDB_RECOVERY_LOCK", c.Cluster.ClusterLock, "!/usr/libexec/ctdb/ctdb_mutex_fcntl_helper /clusterfs/.reclock"},
		{"CTDB_DBDIR", c.Database.VolatileDir, dbdir},
		{"CTDB_DBDIR_PERSISTENT", c.Database.PersistentDir, pdir},
		{"CTDB_DBDIR_STATE", c.Database.StateDir, sdir},
		{"CTDB_SOCKET", c.Socket, "/run/ctdb/other.socket"},
		{"CTDB_LOGGING", c.Logging.Location, "syslog:nonblocking"},
		{"CTDB_DEBUGLEVEL", c.Logging.Level, "NOTICE"},
		{"CTDB_NODE_ADDRESS", c.Cluster.NodeAddress, "192.168.1.2"},
		{"CTDB_TRANSPORT", c.Cluster.Transport, "tcp"},
		{"CTDB_CAPABILITY_RECMASTER", c.Cluster.LeaderCapability, false},
		{"CTDB_CAPABILITY_LMASTER", c.Legacy.LMasterCapability, false},
		{"CTDB_START_AS_DISABLED", c.Legacy.StartAsDisabled, true},
		{"CTDB_START_AS_STOPPED", c.Legacy.StartAsStopped, true},
		{"CTDB_MAX_PERSISTENT_CHECK_ERRORS", c.MaxPersistentCheckErrors, uint64(7)},
		{"CTDB_EVENT_SCRIPT_DIR", c.EventScriptDir, filepath.Join(n.base, "events.custom")},
		{"CTDB_NOSETSCHED", c.Legacy.RealtimeScheduling, false},
		{"CTDB_SCRIPT_LOG_LEVEL", c.Legacy.ScriptLogLevel, "NOTICE"},
		{"CTDB_DEBUG_HUNG_SCRIPT", c.Event.DebugScript, "/etc/ctdb/debug-hung-script.sh"},
		{"CTDB_DEBUG_LOCKS", c.Database.LockDebugScript, "/etc/ctdb/debug_locks.sh"},
		{"CTDB_VARDIR", c.VarDir, "/srv/ctdb-var"},
		{"CTDB_SET_MonitorInterval", c.Tunables.MustGet("MonitorInterval"), uint32(20)},
		{"CTDB_SET_ lower case", c.Tunables.MustGet("RecoveryBanPeriod"), uint32(600)},
		{"SAMBA", c.Managed["SAMBA"], true},
		{"WINBIND", c.Managed["WINBIND"], true},
		{"NFS", c.Managed["NFS"], false},
		{"VSFTPD", c.Managed["VSFTPD"], true},
		{"HTTPD", c.Managed["HTTPD"], false},
		{"ISCSI", c.Managed["ISCSI"], false},
		{"CLAMD", c.Managed["CLAMD"], true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if got := c.Origin("cluster", "cluster lock"); !strings.HasSuffix(got, "sysconfig:4 (CTDB_RECOVERY_LOCK)") {
		t.Errorf("origin of cluster lock = %q", got)
	}
}

func TestLegacyLoggingVariables(t *testing.T) {
	n := newNode(t)
	if c := n.mustLoad("CTDB_LOGFILE=/var/log/old.ctdb\n"); c.Logging.Location != "file:/var/log/old.ctdb" {
		t.Errorf("CTDB_LOGFILE: location %q", c.Logging.Location)
	}
	if c := n.mustLoad("CTDB_SYSLOG=yes\nCTDB_LOGFILE=/x\n"); c.Logging.Location != "syslog" {
		t.Errorf("CTDB_SYSLOG: location %q", c.Logging.Location)
	}
	if c := n.mustLoad("CTDB_LOGGING=file:/a\nCTDB_LOGFILE=/b\n"); c.Logging.Location != "file:/a" {
		t.Errorf("CTDB_LOGGING must win over CTDB_LOGFILE: %q", c.Logging.Location)
	}
}

func TestManagedServicesList(t *testing.T) {
	n := newNode(t)
	c := n.mustLoad("CTDB_MANAGED_SERVICES=\"samba nfs\"\nCTDB_MANAGES_NFS=no\nCTDB_MANAGES_MYSERVICE=yes\n")
	if !c.Managed["SAMBA"] || c.Managed["NFS"] || !c.Managed["MYSERVICE"] {
		t.Errorf("managed = %v, want SAMBA and MYSERVICE, NFS explicitly off", c.Managed)
	}
}

// TestSysconfigErrors: every bad value names the file, the line and the variable.
func TestSysconfigErrors(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"bad manages value", "CTDB_A=1\nCTDB_MANAGES_SAMBA=maybe\n", `sysconfig:2: CTDB_MANAGES_SAMBA: "maybe" is not a boolean`},
		{"bad manages empty name", "CTDB_MANAGES_=yes\n", "CTDB_MANAGES_: name the service"},
		{"bad bool", "CTDB_START_AS_DISABLED=sometimes\n", `sysconfig:1: CTDB_START_AS_DISABLED: "sometimes" is not a boolean`},
		{"bad capability", "CTDB_CAPABILITY_LMASTER=2\n", "CTDB_CAPABILITY_LMASTER"},
		{"bad debug level", "CTDB_DEBUGLEVEL=LOUD\n", `CTDB_DEBUGLEVEL: "LOUD" is not a log level`},
		{"bad transport", "CTDB_TRANSPORT=udp\n", "CTDB_TRANSPORT: \"udp\": unknown transport"},
		{"ib transport", "CTDB_TRANSPORT=ib\n", "InfiniBand transport is not supported"},
		{"bad node address", "CTDB_NODE_ADDRESS=10.0.0\n", "CTDB_NODE_ADDRESS: \"10.0.0\": not an IPv4 or IPv6 address"},
		{"node address not in nodes", "CTDB_NODE_ADDRESS=10.0.0.9\n", "node address 10.0.0.9 is not in the nodes file"},
		{"relative lock", "CTDB_RECOVERY_LOCK=reclock\n", "CTDB_RECOVERY_LOCK: \"reclock\": the cluster lock must be an absolute path"},
		{"empty helper", "CTDB_RECOVERY_LOCK='! '\n", "must be followed by a helper command"},
		{"missing dbdir", "CTDB_DBDIR=/nonexistent/ctdb-go-test\n", "CTDB_DBDIR: directory /nonexistent/ctdb-go-test does not exist"},
		{"tmpfs dbdir", "CTDB_DBDIR=tmpfs:size=1G\n", "CTDB_DBDIR: \"tmpfs:size=1G\" (a tmpfs mounted by the init script) is not supported"},
		{"relative socket", "CTDB_SOCKET=ctdbd.socket\n", "CTDB_SOCKET: \"ctdbd.socket\": must be an absolute path"},
		{"bad logging", "CTDB_LOGGING=journal\n", "CTDB_LOGGING: \"journal\": not a log location"},
		{"relative log file", "CTDB_LOGFILE=log.ctdb\n", "CTDB_LOGFILE: \"log.ctdb\": must be an absolute path"},
		{"bad public interface", "CTDB_PUBLIC_INTERFACE=eth0,,eth1\n", "CTDB_PUBLIC_INTERFACE: \"eth0,,eth1\": empty interface name"},
		{"bad check errors", "CTDB_MAX_PERSISTENT_CHECK_ERRORS=-1\n", "CTDB_MAX_PERSISTENT_CHECK_ERRORS: \"-1\" is not a whole number"},
		{"missing nodes", "CTDB_NODES=/nonexistent/nodes\n", "sysconfig:1 (CTDB_NODES): nodes file /nonexistent/nodes does not exist"},
		{"missing public addresses", "CTDB_PUBLIC_ADDRESSES=/nonexistent/pa\n", "sysconfig:1: CTDB_PUBLIC_ADDRESSES: file /nonexistent/pa: no such file"},
		{"unknown tunable", "CTDB_SET_NoSuchTunable=1\n", "sysconfig:1: CTDB_SET_NoSuchTunable: unknown tunable \"NoSuchTunable\""},
		{"tunable not a number", "CTDB_SET_MonitorInterval=fast\n", "tunable MonitorInterval: \"fast\" is not a whole number"},
		{"tunable out of range", "CTDB_SET_IPAllocAlgorithm=3\n", "tunable IPAllocAlgorithm: 3 is out of range (0 to 2)"},
		{"tunable zero interval", "CTDB_SET_KeepaliveInterval=0\n", "KeepaliveInterval: 0 is out of range (1 to"},
		{"syntax error", "CTDB_NODES=\"/etc/ctdb/nodes\n", "sysconfig:1: CTDB_NODES: unterminated double quote"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			_, err := n.load(tc.text)
			if err == nil {
				t.Fatalf("accepted %q", tc.text)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "sysconfig: ") {
				t.Fatalf("error %q lacks the sysconfig: prefix", err)
			}
		})
	}
}

func TestSysconfigFileChoice(t *testing.T) {
	n := newNode(t)
	rpm := filepath.Join(n.base, "etc-sysconfig-ctdb")
	deb := n.write("etc-default-ctdb", "CTDB_MANAGES_NFS=yes\n")
	none := func(string) (string, bool) { return "", false }
	c, err := Load(Options{Base: n.base, SysconfigCandidates: []string{rpm, deb}, LookupEnv: none})
	if err != nil {
		t.Fatal(err)
	}
	if c.SysconfigFile != deb || !c.Managed["NFS"] {
		t.Errorf("with only the DEB file: read %q, managed %v", c.SysconfigFile, c.Managed)
	}
	n.write("etc-sysconfig-ctdb", "CTDB_MANAGES_SAMBA=yes\n")
	c, err = Load(Options{Base: n.base, SysconfigCandidates: []string{rpm, deb}, LookupEnv: none})
	if err != nil {
		t.Fatal(err)
	}
	if c.SysconfigFile != rpm || !c.Managed["SAMBA"] || c.Managed["NFS"] {
		t.Errorf("with both files: read %q, managed %v; want the RPM file only", c.SysconfigFile, c.Managed)
	}
	// CTDB_SYSCONFIG and CTDB_BASE from the environment.
	other := n.write("other", "CTDB_MANAGES_HTTPD=yes\n")
	env := func(k string) (string, bool) {
		switch k {
		case "CTDB_SYSCONFIG":
			return other, true
		case "CTDB_BASE":
			return n.base, true
		}
		return "", false
	}
	c, err = Load(Options{SysconfigCandidates: []string{rpm, deb}, LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	if c.SysconfigFile != other || c.Base != n.base || !c.Managed["HTTPD"] {
		t.Errorf("CTDB_SYSCONFIG: read %q base %q managed %v", c.SysconfigFile, c.Base, c.Managed)
	}
	if _, err := Load(Options{Base: n.base, SysconfigFile: "/nonexistent/sysconfig", LookupEnv: none}); err == nil ||
		!strings.Contains(err.Error(), "sysconfig file /nonexistent/sysconfig: no such file or directory") {
		t.Errorf("missing explicit file: %v", err)
	}
}

// TestCtdbConfWins: when both styles set the same thing, ctdb.conf wins, with a notice.
func TestCtdbConfWins(t *testing.T) {
	n := newNode(t)
	n.write("ctdb.conf", "[cluster]\n\tcluster lock = /from/conf\n[legacy]\n\tstart as disabled = false\n")
	var logs bytes.Buffer
	sys := n.write("sysconfig", "CTDB_RECOVERY_LOCK=/from/sysconfig\nCTDB_START_AS_DISABLED=yes\nCTDB_SET_MonitorInterval=20\n")
	n.write("ctdb.tunables", "# comment\nMonitorInterval = 25\nkeepaliveinterval=3\n")
	c, err := Load(Options{Base: n.base, SysconfigFile: sys, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.ClusterLock != "/from/conf" || c.Legacy.StartAsDisabled {
		t.Errorf("cluster lock %q, start as disabled %v: ctdb.conf must win", c.Cluster.ClusterLock, c.Legacy.StartAsDisabled)
	}
	if c.Tunables.MustGet("MonitorInterval") != 25 || c.Tunables.MustGet("KeepaliveInterval") != 3 {
		t.Errorf("ctdb.tunables must win: MonitorInterval %d KeepaliveInterval %d", c.Tunables.MustGet("MonitorInterval"), c.Tunables.MustGet("KeepaliveInterval"))
	}
	var notices []string
	for _, m := range c.Messages {
		if m.Level == LevelNotice {
			notices = append(notices, m.Text)
		}
	}
	joined := strings.Join(notices, "\n")
	for _, want := range []string{
		"ctdb.conf:2: [cluster] cluster lock = /from/conf overrides /from/sysconfig from " + sys + ":1 (CTDB_RECOVERY_LOCK)",
		"ctdb.conf:4: [legacy] start as disabled = false overrides true from " + sys + ":2 (CTDB_START_AS_DISABLED)",
		"ctdb.tunables:2: MonitorInterval=25 overrides " + sys + ":3: CTDB_SET_MonitorInterval",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no notice %q in:\n%s", want, joined)
		}
	}
	if !strings.Contains(logs.String(), "overrides /from/sysconfig") {
		t.Errorf("notices are not logged: %s", logs.String())
	}
}

func TestObsoleteTunableWarns(t *testing.T) {
	n := newNode(t)
	n.write("ctdb.tunables", "DeterministicIPs=1\n")
	c := n.mustLoad("CTDB_SET_NoIPHostOnAllDisabled=0\n")
	var warned int
	for _, m := range c.Messages {
		if m.Level == slog.LevelWarn && strings.Contains(m.Text, "is obsolete and has no effect") {
			warned++
		}
	}
	if warned != 2 {
		t.Errorf("%d obsolete-tunable warnings, want 2: %v", warned, c.Messages)
	}
	if v, _ := c.Tunables.Get("deterministicips"); v != 1 {
		t.Errorf("obsolete tunable value not kept: %d", v)
	}
}

func TestIgnoredAssignmentWarns(t *testing.T) {
	n := newNode(t)
	c := n.mustLoad("if true; then\n  CTDB_MANAGES_SAMBA=yes\nfi\n")
	if c.Managed["SAMBA"] {
		t.Errorf("assignment in an if block taken")
	}
	found := false
	for _, m := range c.Messages {
		if m.Level == slog.LevelWarn && strings.Contains(m.Text, "sysconfig:2: ignored by ctdbd") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning for the ignored CTDB_ assignment: %v", c.Messages)
	}
}

func TestNodesListCommand(t *testing.T) {
	n := newNode(t)
	n.write("ctdb.conf", "[cluster]\nnodes list = !printf '10.1.0.1\\n10.1.0.2\\n'\n")
	c := n.mustLoad("")
	if len(c.Nodes) != 2 || c.Nodes[1].Addr.String() != "10.1.0.2" {
		t.Errorf("nodes from command: %+v", c.Nodes)
	}
	n.write("ctdb.conf", "[cluster]\nnodes list = !exit 3\n")
	if _, err := n.load(""); err == nil || !strings.Contains(err.Error(), `nodes list command "exit 3" failed`) {
		t.Errorf("failing nodes command: %v", err)
	}
}

func TestDumpRoundTrip(t *testing.T) {
	n := newNode(t)
	vol := n.dir("vol")
	n.write("ctdb.conf", "[logging]\n\tlog level = INFO\n[database]\n\tvolatile database directory = "+vol+"\n")
	c := n.mustLoad("CTDB_RECOVERY_LOCK=/shared/.reclock\nCTDB_MANAGES_SAMBA=yes\nCTDB_SET_MonitorInterval=20\nCTDB_SOCKET=/run/x.socket\n")
	var out bytes.Buffer
	if err := c.Dump(&out); err != nil {
		t.Fatal(err)
	}
	dump := out.String()
	for _, want := range []string{
		"[logging]\n\t# location = file:/var/log/ctdb/log.ctdb\n\tlog level = INFO\n",
		"\t# from " + filepath.Join(n.base, "sysconfig") + ":1 (CTDB_RECOVERY_LOCK)\n\tcluster lock = /shared/.reclock\n",
		"\t# recovery lock = \n",
		"\t# leader timeout = 5\n",
		"\t# nodes list = " + filepath.Join(n.base, "nodes") + "\n",
		"\tvolatile database directory = " + vol + "\n",
		"[legacy]\n\t# realtime scheduling = true\n",
		"#\tCTDB_MANAGES_SAMBA=yes\n",
		"#\tMonitorInterval=20\t(",
		"#\tCTDB_SOCKET=/run/x.socket\t(",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks %q:\n%s", want, dump)
		}
	}
	// The dump is a valid ctdb.conf that gives the same effective values.
	settings, err := ParseCtdbConf("dump", out.Bytes())
	if err != nil {
		t.Fatalf("dump does not parse as ctdb.conf: %v\n%s", err, dump)
	}
	for _, s := range settings {
		if v, _ := c.Get(s.Section, s.Key); v != s.Value {
			t.Errorf("dump has [%s] %s = %s, config has %s", s.Section, s.Key, s.Value, v)
		}
	}
	if len(settings) != 3 {
		t.Errorf("dump sets %d options, want 3 (log level, cluster lock, volatile dir): %+v", len(settings), settings)
	}
}

// TestSkipNodes: tools that do not need the cluster's members load without a nodes file.
func TestSkipNodes(t *testing.T) {
	base := t.TempDir()
	none := func(string) (string, bool) { return "", false }
	if _, err := Load(Options{Base: base, SysconfigFile: "none", LookupEnv: none}); err == nil {
		t.Fatal("missing nodes file accepted without SkipNodes")
	}
	c, err := Load(Options{Base: base, SysconfigFile: "none", LookupEnv: none, SkipNodes: true})
	if err != nil || len(c.Nodes) != 0 {
		t.Fatalf("SkipNodes: %v, nodes %v", err, c.Nodes)
	}
}
