package tdbcore

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The interop tests use Debian's tdb-tools and python3-tdb (libtdb 1.4.8)
// as oracles. The system python is used explicitly: a pyenv shim earlier
// in PATH has no tdb module.

func pythonTDB(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(py); err == nil {
			if exec.Command(p, "-c", "import tdb").Run() == nil {
				return p
			}
		}
	}
	t.Skip("python3 with the tdb module (Debian python3-tdb) not available")
	return ""
}

func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s (Debian tdb-tools) not installed", name)
	}
	return p
}

// tdbtoolCheck runs `tdbtool FILE check` and fails unless it reports OK.
func tdbtoolCheck(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command(tool(t, "tdbtool"), path, "check").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Database integrity is OK") {
		t.Fatalf("tdbtool %s check: %v\n%s", path, err, out)
	}
	return strings.TrimSpace(string(out))
}

func tdbdump(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command(tool(t, "tdbdump"), path).Output()
	if err != nil {
		t.Fatalf("tdbdump %s: %v", path, err)
	}
	return string(out)
}

type op struct {
	del  bool
	flag StoreFlag
	key  []byte
	val  []byte
}

func hx(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// pyApply is a python3-tdb program applying an op file to a TDB.
const pyApply = `
import os, sys, tdb
path, hs, fl, opsf = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def b(s): return b"" if s == "-" else bytes.fromhex(s)
t = tdb.Tdb(path, hs, fl, os.O_RDWR | os.O_CREAT, 0o600)
if len(sys.argv) > 5:
    t.max_dead = int(sys.argv[5])
for line in open(opsf):
    p = line.split()
    if p[0] == "D":
        t.delete(b(p[1]))
    elif p[0] == "S":
        t.store(b(p[2]), b(p[3]), int(p[1]))
    elif p[0] == "TS":
        t.transaction_start()
    elif p[0] == "TC":
        t.transaction_commit()
t.close()
`

func writeOps(t testing.TB, dir string, ops []op) string {
	var sb strings.Builder
	for _, o := range ops {
		if o.del {
			fmt.Fprintf(&sb, "D %s\n", hx(o.key))
		} else {
			fmt.Fprintf(&sb, "S %d %s %s\n", o.flag, hx(o.key), hx(o.val))
		}
	}
	p := filepath.Join(dir, "ops.txt")
	if err := os.WriteFile(p, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// genOps makes n inserts, then deletes, re-inserts and modifications that
// grow and shrink values, so the free list, merging and growth are used.
func genOps(seed int64, n int) ([]op, map[string][]byte) {
	rng := rand.New(rand.NewSource(seed))
	model := map[string][]byte{}
	var ops []op
	val := func() []byte {
		v := make([]byte, rng.Intn(120))
		rng.Read(v)
		return v
	}
	add := func(o op) {
		ops = append(ops, o)
		if o.del {
			delete(model, string(o.key))
		} else {
			model[string(o.key)] = o.val
		}
	}
	for i := 0; i < n; i++ {
		add(op{flag: Insert, key: []byte(fmt.Sprintf("key-%06d", i)), val: val()})
	}
	for i := 0; i < n; i += 3 {
		add(op{del: true, key: []byte(fmt.Sprintf("key-%06d", i))})
	}
	for i := 0; i < n; i += 6 {
		add(op{flag: Replace, key: []byte(fmt.Sprintf("key-%06d", i)), val: val()})
	}
	for i := 1; i < n; i += 5 {
		k := []byte(fmt.Sprintf("key-%06d", i))
		if _, ok := model[string(k)]; ok {
			add(op{flag: Modify, key: k, val: val()})
		}
	}
	add(op{flag: Insert, key: []byte{}, val: []byte("empty key")})
	add(op{flag: Insert, key: []byte("empty value"), val: []byte{}})
	add(op{flag: Insert, key: []byte("bin\x00\"\\\xff"), val: []byte("q\"uote\\ \x01\x7f")})
	return ops, model
}

func applyGo(t testing.TB, db *DB, ops []op) {
	t.Helper()
	for _, o := range ops {
		var err error
		if o.del {
			err = db.Delete(o.key)
		} else {
			err = db.Store(o.key, o.val, o.flag)
		}
		if err != nil {
			t.Fatalf("op %+v: %v", o, err)
		}
	}
}

func TestInteropSameFile(t *testing.T) {
	py := pythonTDB(t)
	for _, tc := range []struct {
		name  string
		flags Flags
		hs    int
	}{{"oldhash", 0, 0}, {"jenkins", IncompatibleHash, 0}, {"jenkins-hs10007", IncompatibleHash, 10007}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ops, model := genOps(42, 12000)
			opsFile := writeOps(t, dir, ops)
			cfile := filepath.Join(dir, "c.tdb")
			if out, err := exec.Command(py, "-c", pyApply, cfile, fmt.Sprint(tc.hs), fmt.Sprint(int(tc.flags)), opsFile).CombinedOutput(); err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			gfile := filepath.Join(dir, "g.tdb")
			db, err := Open(gfile, &Options{Flags: tc.flags, HashSize: tc.hs})
			if err != nil {
				t.Fatal(err)
			}
			applyGo(t, db, ops)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			t.Log(tdbtoolCheck(t, gfile))
			gd, cd := tdbdump(t, gfile), tdbdump(t, cfile)
			if gd != cd {
				t.Fatalf("tdbdump differs between tdbcore and libtdb files (%d vs %d bytes)", len(gd), len(cd))
			}
			gb, _ := os.ReadFile(gfile)
			cb, _ := os.ReadFile(cfile)
			if !bytes.Equal(gb, cb) {
				t.Errorf("files are not byte-identical (%d vs %d bytes)", len(gb), len(cb))
			}
			// libtdb's file read back by tdbcore.
			cdb, err := Open(cfile, &Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer cdb.Close()
			got := map[string][]byte{}
			if _, err := cdb.Traverse(func(k, v []byte) error {
				got[string(k)] = v
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(model) {
				t.Fatalf("read %d records from libtdb file, want %d", len(got), len(model))
			}
			for k, v := range model {
				if !bytes.Equal(got[k], v) {
					t.Fatalf("key %q: got %q want %q", k, got[k], v)
				}
				fv, err := cdb.Fetch([]byte(k))
				if err != nil || !bytes.Equal(fv, v) {
					t.Fatalf("fetch %q: %q %v", k, fv, err)
				}
			}
			if n, err := cdb.Check(); err != nil || n != len(model) {
				t.Fatalf("Check of libtdb file: %d %v", n, err)
			}
		})
	}
}

// TestInteropTransactions applies the same batches of operations inside
// transactions with libtdb and tdbcore: the recovery area, growth inside
// transactions and the repack that may follow must give identical files.
func TestInteropTransactions(t *testing.T) {
	py := pythonTDB(t)
	for _, tc := range []struct {
		name  string
		flags Flags
	}{{"oldhash", 0}, {"jenkins", IncompatibleHash}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ops, model := genOps(7, 6000)
			var sb strings.Builder
			const batch = 700
			for i, o := range ops {
				if i%batch == 0 {
					sb.WriteString("TS\n")
				}
				if o.del {
					fmt.Fprintf(&sb, "D %s\n", hx(o.key))
				} else {
					fmt.Fprintf(&sb, "S %d %s %s\n", o.flag, hx(o.key), hx(o.val))
				}
				if i%batch == batch-1 || i == len(ops)-1 {
					sb.WriteString("TC\n")
				}
			}
			opsFile := filepath.Join(dir, "ops.txt")
			if err := os.WriteFile(opsFile, []byte(sb.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			cfile := filepath.Join(dir, "c.tdb")
			cmd := exec.Command(py, "-c", pyApply, cfile, "0", fmt.Sprint(int(tc.flags|NoSync)), opsFile)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			gfile := filepath.Join(dir, "g.tdb")
			db, err := Open(gfile, &Options{Flags: tc.flags | NoSync})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(ops); i += batch {
				if err := db.TransactionStart(); err != nil {
					t.Fatal(err)
				}
				applyGo(t, db, ops[i:min(i+batch, len(ops))])
				if err := db.TransactionCommit(); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			tdbtoolCheck(t, gfile)
			if gd, cd := tdbdump(t, gfile), tdbdump(t, cfile); gd != cd {
				t.Fatalf("tdbdump differs")
			}
			gb, _ := os.ReadFile(gfile)
			cb, _ := os.ReadFile(cfile)
			if !bytes.Equal(gb, cb) {
				t.Errorf("files are not byte-identical (%d vs %d bytes)", len(gb), len(cb))
			}
			db, err = Open(gfile, &Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if n, err := db.Check(); err != nil || n != len(model) {
				t.Fatalf("check: %d %v", n, err)
			}
		})
	}
}

// TestInteropRepack repacks the same fragmented database with libtdb and
// tdbcore: the results must be identical.
func TestInteropRepack(t *testing.T) {
	py := pythonTDB(t)
	dir := t.TempDir()
	ops, model := genOps(11, 3000)
	opsFile := writeOps(t, dir, ops)
	cfile := filepath.Join(dir, "c.tdb")
	prog := pyApply + "\nt = tdb.Tdb(path, hs, fl, os.O_RDWR)\nt.repack()\nt.close()\n"
	if out, err := exec.Command(py, "-c", prog, cfile, "0", fmt.Sprint(int(NoSync)), opsFile).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	gfile := filepath.Join(dir, "g.tdb")
	db, err := Open(gfile, &Options{Flags: NoSync})
	if err != nil {
		t.Fatal(err)
	}
	applyGo(t, db, ops)
	if err := db.Repack(); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Check(); err != nil || n != len(model) {
		t.Fatalf("check after repack: %d %v", n, err)
	}
	db.Close()
	tdbtoolCheck(t, gfile)
	if tdbdump(t, gfile) != tdbdump(t, cfile) {
		t.Fatal("tdbdump differs after repack")
	}
	gb, _ := os.ReadFile(gfile)
	cb, _ := os.ReadFile(cfile)
	if !bytes.Equal(gb, cb) {
		t.Errorf("repacked files are not byte-identical (%d vs %d bytes)", len(gb), len(cb))
	}
}

// TestInteropMaxDead compares files written with CTDB's dead-record
// setting (MaxDead 5, as DatabaseMaxDead) by libtdb and tdbcore.
func TestInteropMaxDead(t *testing.T) {
	py := pythonTDB(t)
	dir := t.TempDir()
	ops, model := genOps(5, 4000)
	opsFile := writeOps(t, dir, ops)
	cfile := filepath.Join(dir, "c.tdb")
	if out, err := exec.Command(py, "-c", pyApply, cfile, "0", fmt.Sprint(int(IncompatibleHash)), opsFile, "5").CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	gfile := filepath.Join(dir, "g.tdb")
	db, err := Open(gfile, &Options{Flags: IncompatibleHash, MaxDead: 5})
	if err != nil {
		t.Fatal(err)
	}
	applyGo(t, db, ops)
	if n, err := db.Check(); err != nil || n != len(model) {
		t.Fatalf("check: %d %v", n, err)
	}
	db.Close()
	tdbtoolCheck(t, gfile)
	if tdbdump(t, gfile) != tdbdump(t, cfile) {
		t.Fatal("tdbdump differs")
	}
	gb, _ := os.ReadFile(gfile)
	cb, _ := os.ReadFile(cfile)
	if !bytes.Equal(gb, cb) {
		t.Errorf("files are not byte-identical (%d vs %d bytes)", len(gb), len(cb))
	}
}
