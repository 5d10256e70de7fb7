package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseOptions: any options file parses without panic; every variable
// it returns is NAME=value with a valid shell name, and nothing it returns
// came from a line with a command substitution.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"A=1\n", "export B=\"x y\"\n", "C='q'\n", "D=$(id)\n", "E=\"a\\\"b\"\n", "ulimit -n 1\n", "F=x # c\n", "=\n"} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(dir, "script.options")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		vars, _, err := ParseOptionsFile(p)
		if err != nil {
			return // e.g. a line longer than the scanner's bound
		}
		for _, kv := range vars {
			name, _, ok := strings.Cut(kv, "=")
			if !ok || name == "" || strings.ContainsAny(name, " $`'\"") {
				t.Fatalf("bad variable %q from %q", kv, body)
			}
		}
	})
}

// FuzzValidName: the name rules never panic, and what they accept always
// starts with two digits and a dot.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"00.ctdb", "10.foo~", "10.a.script", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, l := range []Layout{LegacyLayout, ModernLayout} {
			d, reason := ValidName(l, name)
			if d == "" && reason == "" {
				t.Fatalf("%q: neither accepted nor skipped", name)
			}
			if d != "" && (len(d) < 4 || d[2] != '.' || !isDigit(d[0]) || !isDigit(d[1])) {
				t.Fatalf("%q accepted as %q", name, d)
			}
		}
	})
}

// FuzzResultFile: a damaged result file gives an error or a result, never
// a panic, and a loaded result can be formatted and saved again.
func FuzzResultFile(f *testing.F) {
	good, _ := (&Result{Event: Monitor, Scripts: []ScriptResult{{Name: "00.a", Status: StatusError, ExitCode: 3, Output: "x\n"}}}).Marshal()
	f.Add(string(good))
	f.Add(`{"event":"monitor","scripts":[{"status":"BOGUS"}]}`)
	f.Add(`{"event":"monitor","status":"FAILED","scripts":null}`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		st := &FileStore{Dir: dir}
		if err := os.WriteFile(filepath.Join(dir, "monitor.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := st.Load(Monitor)
		if err != nil {
			return
		}
		_ = r.Code()
		_ = r.Failed()
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		for _, s := range r.Scripts {
			if s.Status.String() == "" {
				t.Fatalf("status %d has no name", s.Status)
			}
		}
	})
}
