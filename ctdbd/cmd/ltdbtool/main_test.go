package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctdb-go/ctdb/tdbcore"
)

func runTool(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return out.String(), errb.String(), rc
}

// makeLtdb writes a CTDB-style database: Jenkins hash, 24-byte headers,
// one empty record and one binary key.
func makeLtdb(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "l.tdb")
	db, err := tdbcore.Open(path, &tdbcore.Options{Flags: tdbcore.IncompatibleHash})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs := []struct {
		k string
		h tdbcore.LtdbHeader
		d string
	}{
		{"k1", tdbcore.LtdbHeader{RSN: 5, DMaster: 1, Flags: tdbcore.LtdbFlagMigratedWithData}, "data1\x00\"q"},
		{"empty", tdbcore.LtdbHeader{RSN: 7, DMaster: 2}, ""},
		{"k\x01bin", tdbcore.LtdbHeader{RSN: 1 << 40, DMaster: 0xffffffff, Flags: 1}, "v"},
	}
	for _, r := range recs {
		if err := db.Store([]byte(r.k), tdbcore.JoinLtdb(r.h, []byte(r.d)), tdbcore.Insert); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestDumpMatchesCTDBLtdbtool(t *testing.T) {
	real, err := exec.LookPath("ltdbtool")
	if err != nil {
		t.Skip("CTDB's ltdbtool (Debian package ctdb) not installed")
	}
	path := makeLtdb(t)
	for _, args := range [][]string{
		{"dump", path}, {"-p", "dump", path}, {"-e", "-p", "dump", path},
		{"-s", "32", "-p", "dump", path}, {"-s", "0", "-p", "dump", path}, {"dump", "-p", "-e", path},
	} {
		want, err := exec.Command(real, args...).Output()
		if err != nil {
			t.Fatalf("real ltdbtool %v: %v", args, err)
		}
		got, errs, rc := runTool(args...)
		if rc != 0 || got != string(want) {
			t.Errorf("ltdbtool %v: rc %d %s\ngot:\n%s\nwant:\n%s", args, rc, errs, got, want)
		}
	}
	for _, args := range [][]string{{"-o", "32"}, {"-o", "0", "-e"}, {"-s", "64", "-o", "64"}} {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "real.tdb"), filepath.Join(dir, "ours.tdb")
		if out, err := exec.Command(real, append(args, "convert", path, a)...).CombinedOutput(); err != nil {
			t.Fatalf("real convert %v: %v %s", args, err, out)
		}
		if _, errs, rc := runTool(append(args, "convert", path, b)...); rc != 0 {
			t.Fatalf("convert %v: %s", args, errs)
		}
		ab, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if !bytes.Equal(ab, bb) {
			t.Errorf("convert %v: output differs from CTDB's ltdbtool", args)
		}
	}
}

func TestStoreFetchDeleteCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.tdb")
	if _, e, rc := runTool("store", path, "key", "plain value"); rc != 0 {
		t.Fatal(e)
	}
	if out, _, rc := runTool("fetch", path, "key"); rc != 0 || out != "plain value" {
		t.Fatalf("fetch: %q %d", out, rc)
	}
	if _, _, rc := runTool("fetch", path, "nope"); rc != 1 {
		t.Fatalf("fetch of a missing key: rc %d", rc)
	}
	if out, _, rc := runTool("check", path); rc != 0 || out != "Database integrity is OK and has 1 records.\n" {
		t.Fatalf("check: %q %d", out, rc)
	}
	if _, _, rc := runTool("delete", path, "key"); rc != 0 {
		t.Fatal("delete failed")
	}
	if _, _, rc := runTool("delete", path, "key"); rc != 1 {
		t.Fatal("second delete did not report absence")
	}

	lp := filepath.Join(t.TempDir(), "ltdb.tdb")
	if _, e, rc := runTool("--ltdb", "store", lp, "k", "v1", "--dmaster", "3"); rc != 0 {
		t.Fatal(e)
	}
	if _, e, rc := runTool("store", "--ltdb", lp, "k", "v2"); rc != 0 {
		t.Fatal(e)
	}
	if out, _, rc := runTool("--ltdb", "fetch", lp, "k"); rc != 0 || out != "v2" {
		t.Fatalf("ltdb fetch: %q %d", out, rc)
	}
	raw, _, _ := runTool("fetch", lp, "k")
	h, d, err := tdbcore.SplitLtdb([]byte(raw))
	if err != nil || h.RSN != 2 || h.DMaster != 3 || string(d) != "v2" {
		t.Fatalf("stored header %+v %q %v", h, d, err)
	}
	out, _, _ := runTool("-p", "dump", lp)
	if want := "{\nkey(1) = \"k\"\ndmaster: 3\nrsn: 2\nflags: 0x0\ndata(2) = \"v2\"\n}\n"; out != want {
		t.Fatalf("dump:\n%s", out)
	}
	db, _ := tdbcore.Open(lp, nil)
	if !db.Jenkins() {
		t.Error("--ltdb store did not create a Jenkins-hash database")
	}
	db.Close()

	// Errors: usage, missing files, corrupt files, existing convert output.
	if _, e, rc := runTool("bogus"); rc != 255 || !strings.Contains(e, "Usage") {
		t.Fatalf("unknown command: %d %s", rc, e)
	}
	if _, _, rc := runTool("dump", filepath.Join(t.TempDir(), "missing.tdb")); rc != 255 {
		t.Fatalf("dump of missing file: rc %d", rc)
	}
	if _, e, rc := runTool("convert", lp, path); rc != 255 || !strings.Contains(e, "exists") {
		t.Fatalf("convert onto an existing file: %d %s", rc, e)
	}
	bad := filepath.Join(t.TempDir(), "bad.tdb")
	b, _ := os.ReadFile(lp)
	b[len(b)-20] ^= 0xff
	copy(b[700:], "garbage!garbage!garbage!garbage!")
	os.WriteFile(bad, b, 0o600)
	if out, e, rc := runTool("check", bad); rc != 1 || !strings.Contains(out, "failed") || !strings.Contains(e, "offset") {
		t.Fatalf("check of a corrupt file: %d %q %q", rc, out, e)
	}
}
