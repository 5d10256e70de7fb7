package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// These tests run the stock scripts of events.d/ and the functions library
// through the pipeline, with stub commands (ctdb, ip, df, ctdb-config,
// logger) first on PATH and a fake /proc (CTDB_PROC_DIR).

func repoEventsDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "events.d")
}

type stock struct {
	*fixture
	stubs string
	proc  string
	cfg   Config
	r     *Runner
}

const stubCtdb = `#!/bin/sh
echo "ctdb $*" >> "$STUB_DIR/log"
case "$1" in
pnn) echo 0 ;;
checktcpport) [ -e "$STUB_DIR/listening-$2" ] && exit 98; exit 0 ;;
esac
exit 0
`

const stubIP = `#!/bin/sh
# ip -o link show dev IFACE: flags from $STUB_DIR/link-IFACE; other calls are logged.
[ "$1 $2 $3 $4" = "-o link show dev" ] || { echo "ip $*" >> "$STUB_DIR/log"; exit 0; }
[ -f "$STUB_DIR/link-$5" ] || { echo "Device \"$5\" does not exist." >&2; exit 1; }
echo "2: $5: <BROADCAST,MULTICAST,$(cat "$STUB_DIR/link-$5")> mtu 1500 qdisc noqueue state UP"
`

const stubDf = `#!/bin/sh
# df -kP PATH: usage from $STUB_DIR/df-usage
echo "Filesystem 1024-blocks Used Available Capacity Mounted on"
echo "/dev/sda1 1000 500 500 $(cat "$STUB_DIR/df-usage")% /"
`

const stubCtdbConfig = `#!/bin/sh
[ -f "$STUB_DIR/cluster-lock" ] || exit 2
cat "$STUB_DIR/cluster-lock"
`

const stubLogger = `#!/bin/sh
echo "logger $*" >> "$STUB_DIR/log"
`

func newStock(t *testing.T) *stock {
	t.Helper()
	f := newFixture(t)
	s := &stock{fixture: f, stubs: filepath.Join(f.tmp, "stubs"), proc: filepath.Join(f.tmp, "proc")}
	src := repoEventsDir(t)
	b, err := os.ReadFile(filepath.Join(src, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	f.scriptIn(f.base, "functions", string(b), 0o644)
	for _, n := range []string{"00.ctdb", "01.reclock", "05.system", "10.interface"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		f.scriptIn(f.dir, n, string(b), 0o755)
	}
	for name, body := range map[string]string{"ctdb": stubCtdb, "ip": stubIP, "df": stubDf,
		"ctdb-config": stubCtdbConfig, "logger": stubLogger} {
		f.scriptIn(s.stubs, name, body, 0o755)
	}
	s.setStub("df-usage", "50")
	s.meminfo(50)
	s.cfg = f.config()
	s.cfg.Path = s.stubs + ":/usr/sbin:/usr/bin:/sbin:/bin"
	s.cfg.SysconfigFile = filepath.Join(f.tmp, "sysconfig")
	s.cfg.Env = []string{"STUB_DIR=" + s.stubs, "CTDB_PROC_DIR=" + s.proc}
	s.sysconfig("")
	s.r = New(s.cfg)
	return s
}

func (s *stock) setStub(name, content string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.stubs, name), []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stock) sysconfig(body string) {
	s.t.Helper()
	if err := os.WriteFile(s.cfg.SysconfigFile, []byte(body), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stock) meminfo(usedPercent int) {
	s.t.Helper()
	if err := os.MkdirAll(s.proc, 0o755); err != nil {
		s.t.Fatal(err)
	}
	body := fmt.Sprintf("MemTotal:        1000000 kB\nMemFree:          100 kB\nMemAvailable:    %d kB\n", 1000000-usedPercent*10000)
	if err := os.WriteFile(filepath.Join(s.proc, "meminfo"), []byte(body), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// script runs ev and returns the named script's result, failing the test
// if the event's status is not want.
func (s *stock) script(name string, want EventStatus, ev Event, args ...string) ScriptResult {
	s.t.Helper()
	res, err := s.r.Run(context.Background(), ev, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	if res.Status != want {
		s.t.Fatalf("%s: %s, want %s; outputs: %+v", ev, summary(res), want, res.Scripts)
	}
	for _, sr := range res.Scripts {
		if sr.Name == name {
			return sr
		}
	}
	s.t.Fatalf("no result for %s in %s", name, summary(res))
	return ScriptResult{}
}

func TestStockScriptsAllPassByDefault(t *testing.T) {
	s := newStock(t)
	for _, ev := range []Event{Init, Setup, Startup, Monitor, StartRecovery, Recovered, IPReallocated, Shutdown} {
		res, err := s.r.Run(context.Background(), ev)
		if err != nil || res.Status != EventOK {
			t.Errorf("%s: %v %s %+v", ev, err, summary(res), res.Scripts)
		}
	}
	res, err := s.r.Run(context.Background(), TakeIP, "eth0", "10.0.0.1", "24")
	if err != nil || res.Status != EventOK {
		t.Errorf("takeip: %v %s", err, summary(res))
	}
}

func TestStock00CtdbInitAndMonitor(t *testing.T) {
	s := newStock(t)
	scripts := filepath.Join(s.vardir, "scripts")
	stale := filepath.Join(scripts, "service", "samba", "failcount")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.script("00.ctdb", EventOK, Init)
	if _, err := os.Stat(stale); err == nil {
		t.Error("init kept state of the previous run")
	}
	if fi, err := os.Stat(scripts); err != nil || !fi.IsDir() {
		t.Fatalf("init did not leave %s: %v", scripts, err)
	}
	s.script("00.ctdb", EventOK, Monitor)
	s.sysconfig("CTDB_DBDIR=" + filepath.Join(s.tmp, "no-such-db-dir") + "\n")
	sr := s.script("00.ctdb", EventFailed, Monitor)
	if sr.Status != StatusError || !strings.Contains(sr.Output, "no-such-db-dir does not exist") {
		t.Errorf("missing DB dir: %+v", sr)
	}
}

func TestStock01Reclock(t *testing.T) {
	s := newStock(t)
	lock := filepath.Join(s.tmp, "cluster", ".ctdb", "reclock")
	s.sysconfig("CTDB_RECOVERY_LOCK=" + lock + "\n")
	s.script("01.reclock", EventOK, Init)
	if fi, err := os.Stat(filepath.Dir(lock)); err != nil || !fi.IsDir() {
		t.Fatalf("init did not create the lock directory: %v", err)
	}
	s.script("01.reclock", EventOK, Monitor)
	if err := os.RemoveAll(filepath.Join(s.tmp, "cluster")); err != nil {
		t.Fatal(err)
	}
	sr := s.script("01.reclock", EventFailed, Monitor)
	if !strings.Contains(sr.Output, "is not reachable") {
		t.Errorf("unreachable lock: %q", sr.Output)
	}
	// A helper command is not a file; ctdb-config is asked when sysconfig
	// has no lock.
	s.sysconfig("CTDB_RECOVERY_LOCK='!/usr/bin/lock-helper arg'\n")
	s.script("01.reclock", EventOK, Monitor)
	s.sysconfig("")
	lock2 := filepath.Join(s.tmp, "cfs", "lockfile")
	s.setStub("cluster-lock", lock2+"\n")
	s.script("01.reclock", EventOK, Init)
	if _, err := os.Stat(filepath.Dir(lock2)); err != nil {
		t.Errorf("lock from ctdb-config: %v", err)
	}
}

func TestStock05SystemFilesystem(t *testing.T) {
	s := newStock(t)
	if sr := s.script("05.system", EventOK, Monitor); sr.Output != "" {
		t.Errorf("quiet monitor printed %q", sr.Output)
	}
	s.setStub("df-usage", "95")
	sr := s.script("05.system", EventOK, Monitor)
	if !strings.Contains(sr.Output, "WARNING: file system "+s.vardir+" is 95% used, at or above the warning limit of 90%") {
		t.Errorf("warning: %q", sr.Output)
	}
	if sr := s.script("05.system", EventOK, Monitor); sr.Output != "" {
		t.Errorf("warning repeated: %q", sr.Output)
	}
	s.setStub("df-usage", "40")
	if sr := s.script("05.system", EventOK, Monitor); !strings.Contains(sr.Output, "NOTICE: file system "+s.vardir+" is 40% used again, below the warning limit of 90%") {
		t.Errorf("recovery notice: %q", sr.Output)
	}
	s.sysconfig("CTDB_MONITOR_FILESYSTEM_USAGE=\"/:80:90 " + s.tmp + ":99\"\n")
	s.setStub("df-usage", "91")
	sr = s.script("05.system", EventFailed, Monitor)
	if !strings.Contains(sr.Output, "ERROR: file system / is 91% used, at or above the unhealthy limit of 90%") {
		t.Errorf("unhealthy: %q", sr.Output)
	}
	s.sysconfig("CTDB_MONITOR_FILESYSTEM_USAGE=/:x\n")
	sr = s.script("05.system", EventFailed, Monitor)
	if !strings.Contains(sr.Output, "bad CTDB_MONITOR_FILESYSTEM_USAGE") {
		t.Errorf("bad setting: %q", sr.Output)
	}
}

func TestStock05SystemMemory(t *testing.T) {
	s := newStock(t)
	s.meminfo(85)
	sr := s.script("05.system", EventOK, Monitor)
	if !strings.Contains(sr.Output, "WARNING: memory is 85% used, at or above the warning limit of 80%") {
		t.Errorf("memory warning: %q", sr.Output)
	}
	s.sysconfig("CTDB_MONITOR_MEMORY_USAGE=70:90\n")
	s.meminfo(95)
	sr = s.script("05.system", EventFailed, Monitor)
	if !strings.Contains(sr.Output, "ERROR: memory is 95% used, at or above the unhealthy limit of 90%") ||
		!strings.Contains(sr.Output, "MEMORY DETAILS:") || !strings.Contains(sr.Output, "MemTotal:") {
		t.Errorf("memory unhealthy: %q", sr.Output)
	}
}

func TestStock10Interface(t *testing.T) {
	s := newStock(t)
	pa := filepath.Join(s.base, "public_addresses")
	if err := os.WriteFile(pa, []byte("10.0.0.1/24 eth1\n10.0.0.2/24 eth1,eth2\n# comment\n\nfd00::1/64 eth2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.setStub("link-eth1", "UP,LOWER_UP")
	s.setStub("link-eth2", "UP,LOWER_UP")
	s.script("10.interface", EventOK, Monitor)
	if log, _ := os.ReadFile(filepath.Join(s.stubs, "log")); !strings.Contains(string(log), "ctdb setifacelink eth1 up\nctdb setifacelink eth2 up\n") {
		t.Errorf("setifacelink calls: %q", log)
	}
	// One link without carrier: unhealthy, unless partially online is allowed.
	s.setStub("link-eth2", "UP")
	sr := s.script("10.interface", EventFailed, Monitor)
	if !strings.Contains(sr.Output, "ERROR: public interface eth2 has no link") {
		t.Errorf("eth2 down: %q", sr.Output)
	}
	s.sysconfig("CTDB_PARTIALLY_ONLINE_INTERFACES=yes\n")
	sr = s.script("10.interface", EventOK, Monitor)
	if !strings.Contains(sr.Output, "WARNING: public interfaces without link (CTDB_PARTIALLY_ONLINE_INTERFACES=yes): eth2") {
		t.Errorf("partially online: %q", sr.Output)
	}
	// All down (one administratively, one missing): unhealthy regardless.
	s.setStub("link-eth1", "LOWER_UP")
	if err := os.Remove(filepath.Join(s.stubs, "link-eth2")); err != nil {
		t.Fatal(err)
	}
	sr = s.script("10.interface", EventFailed, Startup)
	if !strings.Contains(sr.Output, "ERROR: no public interface has a link: eth1 eth2") {
		t.Errorf("all down: %q", sr.Output)
	}

	// init: promote_secondaries is switched on; a missing interface warns.
	conf := filepath.Join(s.proc, "sys", "net", "ipv4", "conf", "eth1")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	ps := filepath.Join(conf, "promote_secondaries")
	if err := os.WriteFile(ps, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sr = s.script("10.interface", EventOK, Init)
	if b, _ := os.ReadFile(ps); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("promote_secondaries = %q", b)
	}
	if !strings.Contains(sr.Output, "WARNING: public interface eth2 does not exist") {
		t.Errorf("init output %q", sr.Output)
	}
}

// ctdb_check_args is for scripts run by hand or by another daemon: the
// runner refuses bad arguments before any script runs.
func TestStockCheckArgsDirect(t *testing.T) {
	s := newStock(t)
	if err := os.WriteFile(filepath.Join(s.base, "public_addresses"), []byte("10.0.0.1/24 eth1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"takeip", "eth1", "10.0.0.1", "24"}, true},
		{[]string{"takeip", "eth1", "10.0.0.1"}, false},
		{[]string{"releaseip"}, false},
		{[]string{"updateip", "eth1", "eth2", "10.0.0.1", "24"}, true},
		{[]string{"updateip", "eth1", "10.0.0.1", "24"}, false},
	} {
		cmd := exec.Command(filepath.Join(s.dir, "10.interface"), c.args...)
		cmd.Env = append([]string{"PATH=" + s.cfg.Path, "CTDB_BASE=" + s.base, "CTDB_VARDIR=" + s.vardir,
			"CTDB_SYSCONFIG=none"}, s.cfg.Env...)
		out, err := cmd.CombinedOutput()
		if (err == nil) != c.ok {
			t.Errorf("10.interface %v: err=%v out=%q", c.args, err, out)
		}
		if !c.ok && !strings.Contains(string(out), " needs the ") {
			t.Errorf("10.interface %v: message %q", c.args, out)
		}
	}
}

func TestFunctionsHelpers(t *testing.T) {
	s := newStock(t)
	test := `. "$CTDB_BASE/functions"
set -e
loadconfig
is_ctdb_managed_service samba && echo samba-managed
is_ctdb_managed_service winbind || echo winbind-not-managed
is_ctdb_managed_service nfs && echo nfs-managed-by-list
ctdb_setup_state_dir service samba
ctdb_counter_init
ctdb_counter_incr
ctdb_counter_incr
echo "count=$(ctdb_counter_get)"
ctdb_service_set_reconfigure
ctdb_service_needs_reconfigure && echo needs-reconfigure
ctdb_service_unset_reconfigure
ctdb_service_needs_reconfigure || echo reconfigured
echo "pnn=$(ctdb_get_pnn)"
ctdb_check_directories "$CTDB_BASE" && echo dirs-ok
printf '%s\n' "# comment" "" "/nonexistent/dir" | ctdb_check_directories || echo dirs-bad
touch "$STUB_DIR/listening-445"
ctdb_check_tcp_ports 445 && echo port-445-ok
ctdb_check_tcp_ports 445 139 || echo port-139-bad
ctdb_check_unix_socket /nonexistent/sock || echo socket-bad
echo "opt=$SCRIPT_OPT local=$LOCAL_OPT"
(die "fatal message" 7) 2>/dev/null || echo "die-status=$?"
mkdir -p "$CTDB_PROC_DIR/sys/net/ipv4"
echo 0 > "$CTDB_PROC_DIR/sys/net/ipv4/ip_forward"
set_proc sys/net/ipv4/ip_forward 1
echo "ip_forward=$(get_proc sys/net/ipv4/ip_forward)"
set_proc_maybe sys/net/ipv4/nonexistent 1 && echo maybe-ok
(service_name=""; assert_service_name) 2>/dev/null || echo no-service-name
service_name=mysvc
service_reconfigure() { echo "custom reconfigure of $service_name"; }
ctdb_service_set_reconfigure
ctdb_service_reconfigure
ctdb_service_needs_reconfigure || echo flag-cleared
add_ip_to_iface eth9 10.1.2.3 24
add_ip_to_iface eth9 fd00::3 64
delete_ip_from_iface eth9 10.1.2.3 24
`
	script := s.scriptIn(s.dir, "50.helpers", "#!/bin/sh\n"+test, 0o755)
	s.sysconfig("CTDB_MANAGES_SAMBA=yes\nCTDB_MANAGED_SERVICES=\"httpd nfs\"\n")
	if err := os.WriteFile(filepath.Join(s.base, "script.options"), []byte("SCRIPT_OPT=global\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script+".options", []byte("LOCAL_OPT=mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sr := s.script("50.helpers", EventOK, Monitor)
	want := `samba-managed
winbind-not-managed
nfs-managed-by-list
count=2
needs-reconfigure
reconfigured
pnn=0
dirs-ok
ERROR: 50.helpers: required directory /nonexistent/dir is missing
dirs-bad
port-445-ok
ERROR: 50.helpers: nothing listens on TCP port 139
port-139-bad
ERROR: 50.helpers: Unix socket /nonexistent/sock is missing
socket-bad
opt=global local=mine
die-status=7
ip_forward=1
maybe-ok
no-service-name
Reconfiguring mysvc
custom reconfigure of mysvc
flag-cleared
`
	if sr.Output != want {
		t.Errorf("helpers printed\n%s\nwant\n%s", sr.Output, want)
	}
	if b, err := os.ReadFile(filepath.Join(s.vardir, "scripts", "service", "samba", "failcount")); err != nil || string(b) != "0\n" {
		t.Errorf("counter file after reconfigure: %q %v", b, err)
	}
	wantLog := "ip link set eth9 up\nip addr add 10.1.2.3/24 brd + dev eth9\nip link set eth9 up\nip addr add fd00::3/64 dev eth9\nip addr del 10.1.2.3/24 dev eth9\n"
	if b, _ := os.ReadFile(filepath.Join(s.stubs, "log")); !strings.Contains(string(b), wantLog) {
		t.Errorf("ip calls:\n%s\nwant\n%s", b, wantLog)
	}
}

func TestShellcheckEventsD(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed")
	}
	dir := repoEventsDir(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-s", "sh", "-x"}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".md") { // as the Makefile's lint target
			args = append(args, filepath.Join(dir, e.Name()))
		}
	}
	if out, err := exec.Command(sc, args...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestRealCTDBScriptsRunUnchanged runs CTDB 4.17's own stock scripts and
// functions library (Debian package ctdb, when installed) through the
// pipeline in the modern layout, enabled by symlinks into the data
// directory: admins' existing CTDB scripts must work as they did.
func TestRealCTDBScriptsRunUnchanged(t *testing.T) {
	const data = "/usr/share/ctdb/events/legacy"
	realFunctions, err := os.ReadFile("/etc/ctdb/functions")
	if err != nil {
		t.Skip("CTDB (Debian package ctdb) not installed")
	}
	for _, n := range []string{"00.ctdb", "05.system"} {
		if _, err := os.Stat(filepath.Join(data, n+ScriptSuffix)); err != nil {
			t.Skipf("CTDB stock script %s not installed", n)
		}
	}
	f := newFixture(t)
	stubs := filepath.Join(f.tmp, "stubs")
	f.scriptIn(stubs, "df", "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted on'\n"+
		"echo \"/dev/sda1 1000 950 50 $(cat "+filepath.Join(stubs, "usage")+")% /\"\n", 0o755)
	if err := os.WriteFile(filepath.Join(stubs, "usage"), []byte("95"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.scriptIn(f.base, "functions", string(realFunctions), 0o644)
	if err := os.MkdirAll(f.modern, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"00.ctdb", "05.system"} {
		if err := os.Symlink(filepath.Join(data, n+ScriptSuffix), filepath.Join(f.modern, n+ScriptSuffix)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := f.config()
	cfg.ScriptDir = "-"
	cfg.DataDir = data
	cfg.Path = stubs + ":/usr/sbin:/usr/bin:/sbin:/bin"
	cfg.Env = []string{"CTDB_SCRIPT_VARDIR=" + filepath.Join(f.vardir, "scripts"), "CTDB_SYSCONFIG=none"}
	r := New(cfg)
	if res := run(t, r, Init); summary(res) != "OK: 00.ctdb=OK 05.system=OK" {
		t.Fatalf("init: %s %+v", summary(res), res.Scripts)
	}
	res := run(t, r, Monitor)
	if summary(res) != "OK: 00.ctdb=OK 05.system=OK" || !strings.Contains(res.Scripts[1].Output, "95%") {
		t.Fatalf("monitor: %s %+v", summary(res), res.Scripts)
	}
	// The stock list shows them enabled by their symlinks.
	stockList, local, err := ListScripts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	enabled := map[string]bool{}
	for _, e := range stockList {
		enabled[e.Name] = e.Enabled
	}
	if !enabled["00.ctdb"] || !enabled["05.system"] || enabled["10.interface"] || len(local) != 0 {
		t.Errorf("stock %+v local %+v", stockList, local)
	}
}
