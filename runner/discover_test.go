package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		layout  Layout
		name    string
		display string // "" = skipped
	}{
		{LegacyLayout, "00.ctdb", "00.ctdb"},
		{LegacyLayout, "10.interface", "10.interface"},
		{LegacyLayout, "99.z", "99.z"},
		{LegacyLayout, "50.samba-local_2", "50.samba-local_2"},
		{LegacyLayout, "5.foo", ""},
		{LegacyLayout, "a0.foo", ""},
		{LegacyLayout, "00foo", ""},
		{LegacyLayout, "00.", ""},
		{LegacyLayout, "README", ""},
		{LegacyLayout, ".10.foo.swp", ""},
		{LegacyLayout, "10.foo~", ""},
		{LegacyLayout, "10.foo.rpmnew", ""},
		{LegacyLayout, "10.foo.rpmsave", ""},
		{LegacyLayout, "10.foo.rpmorig", ""},
		{LegacyLayout, "10.foo.dpkg-old", ""},
		{LegacyLayout, "10.foo.dpkg-new", ""},
		{LegacyLayout, "10.foo.dpkg-dist", ""},
		{LegacyLayout, "10.foo.swp", ""},
		{LegacyLayout, "10.foo.options", ""},
		{LegacyLayout, "10.foo.bar", ""},
		{LegacyLayout, "10.foo bar", ""},
		{LegacyLayout, "10.foo\tbar", ""},
		{LegacyLayout, "10.foo.script", ""},
		{ModernLayout, "10.foo.script", "10.foo"},
		{ModernLayout, "10.foo.bar.script", "10.foo.bar"},
		{ModernLayout, "10.foo", ""},
		{ModernLayout, "10.foo.script~", ""},
		{ModernLayout, "10.foo.script.rpmnew", ""},
		{ModernLayout, "10.foo.options", ""},
		{ModernLayout, "x0.foo.script", ""},
		{ModernLayout, ".script", ""},
	}
	for _, tt := range tests {
		got, reason := ValidName(tt.layout, tt.name)
		if got != tt.display {
			t.Errorf("ValidName(%v, %q) = %q (%s), want %q", tt.layout, tt.name, got, reason, tt.display)
		}
		if got == "" && reason == "" {
			t.Errorf("ValidName(%v, %q): skipped without a reason", tt.layout, tt.name)
		}
	}
}

func TestScanOrderStatesAndSkips(t *testing.T) {
	f := newFixture(t)
	f.script("20.b", "exit 0")
	f.script("10.z", "exit 0")
	f.script("10.a", "exit 0")
	f.script("05.x~", "exit 0")
	f.script("05.x.rpmnew", "exit 0")
	f.scriptIn(f.dir, "30.off", "#!/bin/sh\n", 0o644)
	f.scriptIn(f.dir, "31.groupx", "#!/bin/sh\n", 0o654) // group/other x only: disabled
	if err := os.Mkdir(filepath.Join(f.dir, "40.dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(f.tmp, "missing"), filepath.Join(f.dir, "50.dangling")); err != nil {
		t.Fatal(err)
	}
	target := f.scriptIn(f.tmp, "target", "#!/bin/sh\n", 0o755)
	if err := os.Symlink(target, filepath.Join(f.dir, "60.link")); err != nil {
		t.Fatal(err)
	}
	offTarget := f.scriptIn(f.tmp, "offtarget", "#!/bin/sh\n", 0o644)
	if err := os.Symlink(offTarget, filepath.Join(f.dir, "61.linkoff")); err != nil {
		t.Fatal(err)
	}
	// Modern layout: merged; a duplicate name is shadowed by events.d.
	f.scriptIn(f.modern, "15.modern.script", "#!/bin/sh\n", 0o755)
	f.scriptIn(f.modern, "20.b.script", "#!/bin/sh\n", 0o755)
	f.scriptIn(f.modern, "16.nosuffix", "#!/bin/sh\n", 0o755)

	scripts, skipped, err := Scan(Dirs{Legacy: f.dir, Modern: f.modern})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range scripts {
		got = append(got, s.Name+":"+s.State.String())
	}
	want := "10.a:enabled 10.z:enabled 15.modern:enabled 20.b:enabled 30.off:disabled 31.groupx:disabled " +
		"50.dangling:broken 60.link:enabled 61.linkoff:disabled"
	if strings.Join(got, " ") != want {
		t.Errorf("Scan =\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
	for _, s := range scripts {
		if s.Name == "50.dangling" && !errors.Is(s.Err, syscall.ENOENT) {
			t.Errorf("dangling link error %v, want ENOENT", s.Err)
		}
		if s.Name == "20.b" && s.Layout != LegacyLayout {
			t.Errorf("20.b taken from %s, want events.d", s.Path)
		}
	}
	reasons := map[string]string{}
	for _, sk := range skipped {
		reasons[filepath.Base(sk.Path)] = sk.Reason
	}
	for _, name := range []string{"05.x~", "05.x.rpmnew", "40.dir", "16.nosuffix", "20.b.script"} {
		if reasons[name] == "" {
			t.Errorf("%s not reported as skipped (skipped: %v)", name, reasons)
		}
	}
}

func TestScanNoDir(t *testing.T) {
	f := newFixture(t)
	_, _, err := Scan(Dirs{Legacy: filepath.Join(f.tmp, "nope"), Modern: filepath.Join(f.tmp, "nope2")})
	if !errors.Is(err, ErrNoEventDir) {
		t.Fatalf("Scan of missing dirs: %v, want ErrNoEventDir", err)
	}
	// Only the modern dir exists: fine.
	f.scriptIn(f.modern, "01.a.script", "#!/bin/sh\n", 0o755)
	s, _, err := Scan(Dirs{Legacy: filepath.Join(f.tmp, "nope"), Modern: f.modern})
	if err != nil || len(s) != 1 {
		t.Fatalf("Scan = %v, %v", s, err)
	}
}

func TestValidateArgs(t *testing.T) {
	tests := []struct {
		ev   Event
		args []string
		ok   bool
	}{
		{Monitor, nil, true},
		{Monitor, []string{"x"}, false},
		{Init, nil, true},
		{Startup, nil, true},
		{IPReallocated, nil, true},
		{TakeIP, []string{"eth0", "10.0.0.1", "24"}, true},
		{TakeIP, []string{"eth0:1", "10.0.0.1", "32"}, true},
		{TakeIP, []string{"eth0", "fd00::1", "64"}, true},
		{TakeIP, []string{"eth0", "fd00::1", "129"}, false},
		{TakeIP, []string{"eth0", "10.0.0.1", "33"}, false},
		{TakeIP, []string{"eth0", "10.0.0.1", "-1"}, false},
		{TakeIP, []string{"eth0", "10.0.0.1", "+4"}, false},
		{TakeIP, []string{"eth0", "10.0.0.1/24", "24"}, false},
		{TakeIP, []string{"eth0", "host", "24"}, false},
		{TakeIP, []string{"eth0", "10.0.0.1"}, false},
		{TakeIP, nil, false},
		{TakeIP, []string{"a/b", "10.0.0.1", "24"}, false},
		{TakeIP, []string{"averyveryverylongname", "10.0.0.1", "24"}, false},
		{ReleaseIP, []string{"eth0", "10.0.0.1", "24"}, true},
		{ReleaseIP, []string{"eth0", "10.0.0.1", "24", "x"}, false},
		{UpdateIP, []string{"eth0", "eth1", "10.0.0.1", "24"}, true},
		{UpdateIP, []string{"eth0", "10.0.0.1", "24"}, false},
		{Event("bogus"), nil, false},
		{Event("stopped"), nil, false},
		{Event(""), nil, false},
	}
	for _, tt := range tests {
		err := tt.ev.ValidateArgs(tt.args)
		if (err == nil) != tt.ok {
			t.Errorf("%s %v: err=%v, want ok=%v", tt.ev, tt.args, err, tt.ok)
		}
	}
	for _, e := range Events {
		p, err := ParseEvent(string(e))
		if err != nil || p != e {
			t.Errorf("ParseEvent(%s) = %v, %v", e, p, err)
		}
	}
	if Monitor.AllowedInRecovery() || !ReleaseIP.AllowedInRecovery() || !Init.AllowedInRecovery() || TakeIP.AllowedInRecovery() {
		t.Error("AllowedInRecovery does not follow the reference")
	}
}

func TestParseOptionsFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "script.options")
	body := `# comment
A=1
export B="two words"
C='single $quoted'
D="esc \" \$x"
E=plain # trailing comment
F=$(hostname)
ulimit -n 10000
G="unterminated
1BAD=x
H=
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	vars, ignored, err := ParseOptionsFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=1", "B=two words", "C=single $quoted", `D=esc " $x`, "E=plain", "H="}
	if strings.Join(vars, "|") != strings.Join(want, "|") {
		t.Errorf("vars = %q, want %q", vars, want)
	}
	if len(ignored) != 4 {
		t.Errorf("ignored = %q, want 4 lines", ignored)
	}
	if v, ig, err := ParseOptionsFile(filepath.Join(dir, "missing")); v != nil || ig != nil || err != nil {
		t.Errorf("missing file: %v %v %v", v, ig, err)
	}
}
