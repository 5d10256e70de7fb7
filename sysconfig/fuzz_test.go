package sysconfig

import (
	"strings"
	"testing"
)

// The fuzz targets check that no input makes a parser panic or hang, and that what a
// parser accepts is self-consistent. Seed corpora live in testdata/fuzz/<target>/.

func FuzzParseShell(f *testing.F) {
	for _, tc := range acceptedLines {
		f.Add([]byte(tc.text))
	}
	for _, tc := range rejectedLines {
		f.Add([]byte(tc.text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := ParseShell("fuzz", data, lookupShellEnv)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sysconfig: fuzz:") {
				t.Fatalf("error does not name the file and line: %v", err)
			}
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		if len(sf.Order) != len(sf.Vars) {
			t.Fatalf("%d names in order, %d vars", len(sf.Order), len(sf.Vars))
		}
		for name, v := range sf.Vars {
			if !validName(name) || v.Name != name || v.Line < 1 || v.Line > lines {
				t.Fatalf("bad var %q: %+v (file has %d lines)", name, v, lines)
			}
		}
		for _, ig := range sf.Ignored {
			if ig.Line < 1 || ig.Line > lines {
				t.Fatalf("ignored line %d out of range", ig.Line)
			}
		}
	})
}

func FuzzParseCtdbConf(f *testing.F) {
	f.Add([]byte("[logging]\n\tlocation = syslog\n\tlog level = NOTICE\n[cluster]\n\tcluster lock = /x\n"))
	f.Add([]byte("[cluster]\nrecovery lock = !/bin/helper a b\nleader timeout = 5\n"))
	f.Add([]byte("[legacy]\nstart as stopped = yes\n[failover]\ndisabled = 1\n"))
	f.Add([]byte("location = syslog\n"))
	f.Add([]byte("[logging\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		settings, err := ParseCtdbConf("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sysconfig: fuzz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, s := range settings {
			opt, ok := findConfOption(s.Section, s.Key)
			if !ok {
				t.Fatalf("accepted unknown option %+v", s)
			}
			if opt.check != nil {
				if err := opt.check(s.Value); err != nil {
					t.Fatalf("accepted invalid value %+v: %v", s, err)
				}
			}
		}
	})
}

func FuzzParseTunablesFile(f *testing.F) {
	f.Add([]byte("MonitorInterval=20\n# comment\nKeepaliveLimit = 7\n"))
	f.Add([]byte("=1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		settings, err := ParseTunablesFile("fuzz", data)
		if err != nil {
			return
		}
		tu := DefaultTunables()
		for _, s := range settings {
			if s.Name == "" || s.Value == "" {
				t.Fatalf("empty name or value accepted: %+v", s)
			}
			if _, err := tu.Set(s.Name, s.Value, "fuzz"); err == nil {
				d, _ := LookupTunable(s.Name)
				if v, _ := tu.Get(s.Name); v < d.Min || v > d.Max {
					t.Fatalf("%s set out of range: %d", s.Name, v)
				}
			}
		}
	})
}

func FuzzParseNodes(f *testing.F) {
	f.Add([]byte("10.0.0.1\n10.0.0.2\n#10.0.0.3\nfd00::4\n"))
	f.Add([]byte("\n\n#\n"))
	f.Add([]byte("10.0.0.1\n10.0.0.1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nodes, err := ParseNodes("fuzz", data)
		if err != nil {
			return
		}
		live := 0
		seen := map[string]bool{}
		for i, n := range nodes {
			if n.PNN != uint32(i) {
				t.Fatalf("node %d has PNN %d", i, n.PNN)
			}
			if n.Deleted {
				continue
			}
			live++
			if !n.Addr.IsValid() || seen[n.Addr.String()] {
				t.Fatalf("bad or duplicate address accepted: %v", n.Addr)
			}
			seen[n.Addr.String()] = true
		}
		if live == 0 {
			t.Fatal("accepted a nodes file without a live node")
		}
	})
}

func FuzzParsePublicAddresses(f *testing.F) {
	f.Add([]byte("10.1.0.1/24 eth0\n10.1.0.2/24 eth1,eth2 # c\nfd00::1/64 eth0\n"), "")
	f.Add([]byte("10.1.0.1/24\n"), "bond0")
	f.Add([]byte("10.1.0.1/33 eth0\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, def string) {
		addrs, err := ParsePublicAddresses("fuzz", data, def)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, a := range addrs {
			if !a.Prefix.IsValid() || a.Prefix.Bits() < 1 || len(a.Interfaces) == 0 || seen[a.Prefix.Addr().String()] {
				t.Fatalf("bad address accepted: %+v", a)
			}
			seen[a.Prefix.Addr().String()] = true
			for _, i := range a.Interfaces {
				if validIfaceName(i) != nil {
					t.Fatalf("bad interface accepted: %q", i)
				}
			}
		}
	})
}
