package sysconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseNodes(t *testing.T) {
	text := "  10.0.0.1  \n\n10.0.0.2\t\n#10.0.0.3\n# removed\nfd00::4\n::ffff:10.0.0.5\r\n\n\n"
	nodes, err := ParseNodes("nodes", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		addr    string
		deleted bool
		line    int
	}{
		{"10.0.0.1", false, 1}, {"10.0.0.2", false, 3}, {"0.0.0.0", true, 4}, {"0.0.0.0", true, 5},
		{"fd00::4", false, 6}, {"10.0.0.5", false, 7},
	}
	if len(nodes) != len(want) {
		t.Fatalf("%d nodes, want %d: %+v", len(nodes), len(want), nodes)
	}
	for i, w := range want {
		n := nodes[i]
		if n.PNN != uint32(i) || n.String() != w.addr || n.Deleted != w.deleted || n.Line != w.line {
			t.Errorf("node %d = %+v (%s), want pnn %d %s deleted=%v line %d", i, n, n, i, w.addr, w.deleted, w.line)
		}
	}
}

func TestParseNodesErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"bad address", "10.0.0.1\n10.0.0.256\n", `nodes:2: "10.0.0.256" is not an IPv4 or IPv6 address`},
		{"hostname", "node1\n", `nodes:1: "node1" is not an IPv4 or IPv6 address`},
		{"trailing comment", "10.0.0.1 # rack 1\n", "nodes:1: \"10.0.0.1 # rack 1\": one address per line, without comments"},
		{"duplicate", "10.0.0.1\n10.0.0.2\n10.0.0.1\n", "nodes:3: node address 10.0.0.1 is already listed on line 1"},
		{"duplicate mapped", "10.0.0.1\n::ffff:10.0.0.1\n", "nodes:2: node address 10.0.0.1 is already listed on line 1"},
		{"zone", "fe80::1%eth0\n", "is not an IPv4 or IPv6 address"},
		{"unspecified", "0.0.0.0\n", "0.0.0.0 cannot be a node address"},
		{"with port", "10.0.0.1:4379\n", "is not an IPv4 or IPv6 address"},
		{"empty", "\n\n", "nodes: no nodes"},
		{"only deleted", "#10.0.0.1\n#\n", "nodes: no nodes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseNodes("nodes", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParsePublicAddresses(t *testing.T) {
	text := "# public addresses\n10.1.0.1/24 eth0\n  10.1.0.2/24\teth1,eth2   # bonded\n\nfd00:1::10/64 eth0\n10.1.0.3/16\n"
	addrs, err := ParsePublicAddresses("pa", []byte(text), "bond0")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		prefix, ifaces string
		line           int
	}{
		{"10.1.0.1/24", "eth0", 2}, {"10.1.0.2/24", "eth1,eth2", 3}, {"fd00:1::10/64", "eth0", 5}, {"10.1.0.3/16", "bond0", 6},
	}
	if len(addrs) != len(want) {
		t.Fatalf("%d addresses, want %d", len(addrs), len(want))
	}
	for i, w := range want {
		a := addrs[i]
		if a.Prefix.String() != w.prefix || strings.Join(a.Interfaces, ",") != w.ifaces || a.Line != w.line {
			t.Errorf("address %d = %v %v line %d, want %s %s line %d", i, a.Prefix, a.Interfaces, a.Line, w.prefix, w.ifaces, w.line)
		}
	}
}

func TestParsePublicAddressesErrors(t *testing.T) {
	cases := []struct{ name, text, def, want string }{
		{"no mask", "10.1.0.1 eth0\n", "", `pa:1: "10.1.0.1" has no mask`},
		{"mask too big", "10.1.0.1/33 eth0\n", "", "pa:1: 10.1.0.1/33: mask 33 is out of range: 1 to 32 bits"},
		{"v6 mask too big", "fd00::1/129 eth0\n", "", "mask 129 is out of range: 1 to 128 bits"},
		{"mask zero", "10.1.0.1/0 eth0\n", "", "mask 0 is out of range"},
		{"dotted mask", "10.1.0.1/255.255.255.0 eth0\n", "", "not a dotted netmask"},
		{"empty mask", "10.1.0.1/ eth0\n", "", `mask "" must be a number`},
		{"bad address", "10.1.0/24 eth0\n", "", `pa:1: "10.1.0" is not an IPv4 or IPv6 address`},
		{"missing interface", "10.1.0.1/24 eth0\n10.1.0.2/24\n", "", "pa:2: 10.1.0.2/24 has no interface and CTDB_PUBLIC_INTERFACE is not set"},
		{"empty interface", "10.1.0.1/24 eth0,\n", "", "pa:1: 10.1.0.1/24: empty interface name"},
		{"long interface", "10.1.0.1/24 averyveryverylongname\n", "", "longer than 15 characters"},
		{"bad interface", "10.1.0.1/24 eth0/1\n", "", `"eth0/1" is not a valid interface name`},
		{"interface twice", "10.1.0.1/24 eth0,eth0\n", "", "interface eth0 is listed twice"},
		{"spaces between interfaces", "10.1.0.1/24 eth0, eth1\n", "", `unexpected "eth1"`},
		{"duplicate", "10.1.0.1/24 eth0\n10.1.0.1/16 eth1\n", "", "pa:2: public address 10.1.0.1 is already listed on line 1"},
		{"bad default interface", "10.1.0.1/24\n", "a/b", `"a/b" is not a valid interface name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicAddresses("pa", []byte(tc.text), tc.def)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTunables(t *testing.T) {
	tu := DefaultTunables()
	// Every current tunable with its listvars default (reference 6.2, real 4.17 output).
	defaults := map[string]uint32{
		"SeqnumInterval": 1000, "ControlTimeout": 60, "TraverseTimeout": 20, "KeepaliveInterval": 5,
		"KeepaliveLimit": 5, "RecoverTimeout": 30, "RecoverInterval": 1, "ElectionTimeout": 3,
		"TakeoverTimeout": 9, "MonitorInterval": 15, "TickleUpdateInterval": 20, "EventScriptTimeout": 30,
		"MonitorTimeoutCount": 20, "RecoveryGracePeriod": 120, "RecoveryBanPeriod": 300,
		"DatabaseHashSize": 100001, "DatabaseMaxDead": 5, "RerecoveryTimeout": 10, "EnableBans": 1,
		"NoIPFailback": 0, "VerboseMemoryNames": 0, "RecdPingTimeout": 60, "RecdFailCount": 10,
		"LogLatencyMs": 0, "RecLockLatencyMs": 1000, "RecoveryDropAllIPs": 120, "VacuumInterval": 10,
		"VacuumMaxRunTime": 120, "RepackLimit": 10000, "VacuumFastPathCount": 60,
		"MaxQueueDropMsg": 1000000, "AllowUnhealthyDBRead": 0, "StatHistoryInterval": 1,
		"DeferredAttachTO": 120, "AllowClientDBAttach": 1, "FetchCollapse": 1, "HopcountMakeSticky": 50,
		"StickyDuration": 600, "StickyPindown": 200, "NoIPTakeover": 0, "DBRecordCountWarn": 100000,
		"DBRecordSizeWarn": 10000000, "DBSizeWarn": 100000000, "PullDBPreallocation": 10485760,
		"LockProcessesPerDB": 200, "RecBufferSizeLimit": 1000000, "QueueBufferSize": 1024,
		"IPAllocAlgorithm": 2, "AllowMixedVersions": 0,
	}
	current := 0
	for _, d := range TunableDefs() {
		if d.Obsolete {
			continue
		}
		current++
		want, ok := defaults[d.Name]
		if !ok {
			t.Errorf("tunable %s is not in CTDB 4.17's listvars", d.Name)
			continue
		}
		if got := tu.MustGet(d.Name); got != want {
			t.Errorf("%s default %d, want %d", d.Name, got, want)
		}
	}
	if current != len(defaults) {
		t.Errorf("%d current tunables, want %d", current, len(defaults))
	}
	if _, err := tu.Set("monitorinterval", "42", "test"); err != nil {
		t.Fatal(err)
	}
	if v, _ := tu.Get("MONITORINTERVAL"); v != 42 || tu.Source("MonitorInterval") != "test" {
		t.Errorf("case-insensitive set/get: %d from %q", v, tu.Source("MonitorInterval"))
	}
	for _, bad := range []struct{ name, value, want string }{
		{"EnableBans", "2", "EnableBans: 2 is out of range (0 to 1)"},
		{"ControlTimeout", "0", "out of range (1 to"},
		{"ControlTimeout", "4294967296", "is not a whole number"},
		{"ControlTimeout", "0x10", "is not a whole number"},
		{"ControlTimeout", "-1", "is not a whole number"},
		{"Bogus", "1", `unknown tunable "Bogus"`},
	} {
		if _, err := tu.Set(bad.name, bad.value, "src"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Set(%s, %s) = %v, want %q", bad.name, bad.value, err, bad.want)
		}
	}
	if obsolete, err := tu.Set("LCP2PublicIPs", "0", "src"); err != nil || !obsolete {
		t.Errorf("obsolete tunable: obsolete=%v err=%v", obsolete, err)
	}
}

func TestParseTunablesFile(t *testing.T) {
	s, err := ParseTunablesFile("t", []byte("# c\n\nMonitorInterval=20\n  KeepaliveLimit = 7  \r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0] != (TunableSetting{"MonitorInterval", "20", 3}) || s[1] != (TunableSetting{"KeepaliveLimit", "7", 4}) {
		t.Errorf("settings %+v", s)
	}
	for _, bad := range []string{"MonitorInterval\n", "=5\n", "MonitorInterval=\n"} {
		if _, err := ParseTunablesFile("t", []byte("# ok\n"+bad)); err == nil || !strings.Contains(err.Error(), "t:2: expected Name=value") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	n := newNode(t)
	n.write("ctdb.tunables", "MonitorInterval=20\nNoSuch=1\n")
	if _, err := n.load(""); err == nil || !strings.Contains(err.Error(), "ctdb.tunables:2: unknown tunable \"NoSuch\"") {
		t.Errorf("unknown tunable in file: %v", err)
	}
	n.write("ctdb.tunables", "MonitorInterval=20\n")
	n.write("tunables.d/50-site.tunables", "MonitorInterval=30\n")
	if c := n.mustLoad(""); c.Tunables.MustGet("MonitorInterval") != 30 {
		t.Errorf("tunables.d does not override ctdb.tunables: %d", c.Tunables.MustGet("MonitorInterval"))
	}
}

func TestParseCtdbConf(t *testing.T) {
	dir := t.TempDir()
	text := "# comment\n; other comment\n[logging]\n\tlocation = syslog\n\tlog level = debug\n\n[Cluster]\n  Cluster  Lock = !/usr/bin/helper /x # not a comment\n" +
		"leader timeout = 10\nleader capability = NO\nnode address = 10.0.0.1\nnodes list = /etc/ctdb/nodes\n[database]\nvolatile database directory = " + dir +
		"\ntdb mutexes = off\nlock debug script = debug_locks.sh\n[event]\ndebug script = debug-hung-script.sh\n[failover]\ndisabled = yes\n" +
		"[legacy]\nrealtime scheduling = false\nlmaster capability = 0\nstart as stopped = on\nstart as disabled = true\nscript log level = 4\n" +
		"[logging]\nlog level = INFO\n"
	settings, err := ParseCtdbConf("ctdb.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	lines := map[string]int{}
	for _, s := range settings {
		got[s.Section+"/"+s.Key] = s.Value
		lines[s.Section+"/"+s.Key] = s.Line
	}
	want := map[string]string{
		"logging/location": "syslog", "logging/log level": "INFO",
		"cluster/cluster lock": "!/usr/bin/helper /x # not a comment", "cluster/leader timeout": "10",
		"cluster/leader capability": "NO", "cluster/node address": "10.0.0.1", "cluster/nodes list": "/etc/ctdb/nodes",
		"database/volatile database directory": dir, "database/tdb mutexes": "off",
		"database/lock debug script": "debug_locks.sh", "event/debug script": "debug-hung-script.sh",
		"failover/disabled": "yes", "legacy/realtime scheduling": "false", "legacy/lmaster capability": "0",
		"legacy/start as stopped": "on", "legacy/start as disabled": "true", "legacy/script log level": "4",
	}
	if !equalMaps(got, want) {
		t.Errorf("settings\n got %q\nwant %q", got, want)
	}
	if lines["logging/log level"] != 28 || lines["cluster/cluster lock"] != 8 {
		t.Errorf("lines: %v", lines)
	}

	// Through Load: typed values.
	n := newNode(t)
	n.write("ctdb.conf", strings.NewReplacer("node address = 10.0.0.1\n", "", "/etc/ctdb/nodes", filepath.Join(n.base, "nodes")).Replace(text))
	c := n.mustLoad("")
	if c.Logging.Level != "INFO" || c.Cluster.LeaderTimeout != 10 || c.Cluster.LeaderCapability || !c.Failover.Disabled ||
		c.Database.TDBMutexes || c.Legacy.LMasterCapability || !c.Legacy.StartAsStopped || c.Legacy.ScriptLogLevel != "DEBUG" ||
		c.Event.DebugScript != "debug-hung-script.sh" || c.Database.VolatileDir != dir || c.ConfFile == "" {
		t.Errorf("typed config wrong: %+v", c)
	}
}

func TestParseCtdbConfErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown section", "[bogus]\nfoo = 1\n", "ctdb.conf:1: unknown section [bogus]"},
		{"unknown option", "[logging]\nfoo = 1\n", `ctdb.conf:2: unknown option [logging] -> "foo"`},
		{"outside section", "location = syslog\n", `ctdb.conf:1: option "location" is outside of a section`},
		{"empty value", "[logging]\nlog level =\n", `ctdb.conf:2: empty value for [logging] -> "log level"`},
		{"no equals", "[logging]\nlog level NOTICE\n", `ctdb.conf:2: expected "key = value"`},
		{"bad header", "[logging\n", "ctdb.conf:1: malformed section header"},
		{"bad log level", "[logging]\n\tlog level = BOGUS\n", `ctdb.conf:2: [logging] log level = BOGUS: "BOGUS" is not a log level`},
		{"inline comment", "[logging]\nlog level = DEBUG # c\n", "is not a log level"},
		{"quoted", "[logging]\nlog level = \"INFO\"\n", "is not a log level"},
		{"bad location", "[logging]\nlocation = bogus:x\n", "not a log location"},
		{"bad transport", "[cluster]\ntransport = udp\n", "[cluster] transport = udp: unknown transport"},
		{"bad node address", "[cluster]\nnode address = 1.2.3\n", "[cluster] node address = 1.2.3: not an IPv4 or IPv6 address"},
		{"bad leader timeout", "[cluster]\nleader timeout = 0\n", "must be a whole number greater than 0"},
		{"leader timeout text", "[cluster]\nleader timeout = abc\n", "must be a whole number greater than 0"},
		{"bad bool", "[cluster]\nleader capability = maybe\n", `"maybe" is not a boolean`},
		{"relative lock", "[cluster]\ncluster lock = relative/path\n", "must be an absolute path"},
		{"relative nodes", "[cluster]\nnodes list = nodes\n", "must be an absolute path"},
		{"missing dir", "[database]\nstate database directory = /nonexistent/x\n", "ctdb.conf:2: [database] state database directory: directory /nonexistent/x does not exist"},
		{"bad script log level", "[legacy]\nscript log level = LOUD\n", "is not a log level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCtdbConf("ctdb.conf", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRecoveryLockAlias(t *testing.T) {
	n := newNode(t)
	n.write("ctdb.conf", "[cluster]\nrecovery lock = /shared/lock\n")
	c := n.mustLoad("")
	if c.Cluster.ClusterLock != "/shared/lock" {
		t.Errorf("recovery lock alias: cluster lock %q", c.Cluster.ClusterLock)
	}
	if v, _ := c.Get("cluster", "recovery lock"); v != "/shared/lock" {
		t.Errorf("Get(recovery lock) = %q", v)
	}
	n.write("ctdb.conf", "[cluster]\ncluster lock = /a\nrecovery lock = /b\n")
	if _, err := n.load(""); err == nil || !strings.Contains(err.Error(), "contradicts cluster lock = /a on line 2") {
		t.Errorf("contradicting alias: %v", err)
	}
}

// TestShippedTemplates: the shipped sysconfig template and example ctdb.conf load
// cleanly, and the template mentions every classic variable.
func TestShippedTemplates(t *testing.T) {
	tmpl, err := os.ReadFile("ctdb.sysconfig")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseShell("ctdb.sysconfig", tmpl, nil)
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	for _, ig := range f.Ignored {
		t.Errorf("template line %d is not a plain assignment: %s", ig.Line, ig.Text)
	}
	vars := []string{"CTDB_NODES", "CTDB_PUBLIC_ADDRESSES", "CTDB_PUBLIC_INTERFACE", "CTDB_RECOVERY_LOCK",
		"CTDB_DBDIR", "CTDB_DBDIR_PERSISTENT", "CTDB_DBDIR_STATE", "CTDB_SOCKET", "CTDB_LOGGING", "CTDB_LOGFILE",
		"CTDB_DEBUGLEVEL", "CTDB_NODE_ADDRESS", "CTDB_TRANSPORT", "CTDB_CAPABILITY_RECMASTER", "CTDB_CAPABILITY_LMASTER",
		"CTDB_START_AS_DISABLED", "CTDB_START_AS_STOPPED", "CTDB_MAX_PERSISTENT_CHECK_ERRORS", "CTDB_EVENT_SCRIPT_DIR",
		"CTDB_SET_", "CTDB_NOSETSCHED", "CTDB_SCRIPT_LOG_LEVEL", "CTDB_DEBUG_HUNG_SCRIPT", "CTDB_DEBUG_LOCKS", "CTDB_VARDIR",
		"CTDB_MANAGED_SERVICES"}
	for _, s := range ManagedServices {
		vars = append(vars, "CTDB_MANAGES_"+s)
	}
	for _, v := range vars {
		if !strings.Contains(string(tmpl), v) {
			t.Errorf("template does not document %s", v)
		}
	}
	// Uncommented, the documented defaults must load and equal the built-in defaults.
	var uncommented []string
	for _, line := range strings.Split(string(tmpl), "\n") {
		if strings.HasPrefix(line, "# CTDB_") && strings.Contains(line, "=") {
			uncommented = append(uncommented, strings.TrimPrefix(line, "# "))
		}
	}
	if len(uncommented) < 20 {
		t.Fatalf("only %d commented defaults in the template", len(uncommented))
	}
	n := newNode(t)
	n.write("public_addresses", "10.1.0.1/24 eth0\n")
	// The database directories must exist when set: map the defaults into the test's
	// directory, and map the loaded values back.
	text := strings.ReplaceAll(strings.Join(uncommented, "\n")+"\n", "/etc/ctdb/", n.base+"/")
	for _, sub := range []string{"volatile", "persistent", "state"} {
		text = strings.ReplaceAll(text, "/var/lib/ctdb/"+sub, n.dir("var/"+sub))
	}
	c, err := n.load(text)
	if err != nil {
		t.Fatalf("template defaults do not load: %v", err)
	}
	for _, p := range []*string{&c.Database.VolatileDir, &c.Database.PersistentDir, &c.Database.StateDir} {
		*p = strings.Replace(*p, filepath.Join(n.base, "var"), "/var/lib/ctdb", 1)
	}
	d := n.mustLoad("")
	if c.Logging != d.Logging || c.Cluster != d.Cluster || c.Database != d.Database || c.Legacy != d.Legacy ||
		c.Socket != d.Socket || c.VarDir != d.VarDir || len(c.Managed) != len(ManagedServices) {
		t.Errorf("template defaults differ from built-in defaults:\n%+v\n%+v", c, d)
	}
	for svc, on := range c.Managed {
		if on {
			t.Errorf("template default manages %s", svc)
		}
	}

	example, err := os.ReadFile("ctdb.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCtdbConf(filepath.Join("sysconfig", "ctdb.conf.example"), example); err != nil {
		t.Errorf("example ctdb.conf: %v", err)
	}
}
