package tdbcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSeqnumMatchesLibtdb(t *testing.T) {
	// The same sequence gives 5 and then 7 with python3-tdb (libtdb 1.4.8).
	db, _ := openTemp(t, &Options{Flags: Seqnum})
	k := []byte("a")
	for _, v := range []string{"1", "1", "22", "333"} {
		if err := db.Store(k, []byte(v), Replace); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Delete(k); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.Seqnum(); s != 5 {
		t.Fatalf("seqnum %d, want 5", s)
	}
	if err := db.TransactionStart(); err != nil {
		t.Fatal(err)
	}
	db.Store([]byte("b"), []byte("x"), Replace)
	db.Store([]byte("c"), []byte("y"), Replace)
	if err := db.TransactionCommit(); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.Seqnum(); s != 7 {
		t.Fatalf("seqnum %d, want 7", s)
	}
}

func TestClearIfFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vol.tdb")
	a, err := Open(path, &Options{Flags: ClearIfFirst})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store([]byte("k"), []byte("v"), Insert); err != nil {
		t.Fatal(err)
	}
	// A second user while the first is open must not wipe.
	b, err := Open(path, &Options{Flags: ClearIfFirst})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Fetch([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("second opener sees %q %v", v, err)
	}
	a.Close()
	b.Close()
	// Plain open keeps the data; the next first CLEAR_IF_FIRST user wipes it.
	c, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Exists([]byte("k")); !ok {
		t.Fatal("plain open lost data")
	}
	c.Close()
	d, err := Open(path, &Options{Flags: ClearIfFirst})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ok, _ := d.Exists([]byte("k")); ok {
		t.Fatal("first CLEAR_IF_FIRST opener did not wipe")
	}
}

func TestClearIfFirstWithLibtdbUser(t *testing.T) {
	py := pythonTDB(t)
	path := filepath.Join(t.TempDir(), "vol.tdb")
	a, err := Open(path, &Options{Flags: ClearIfFirst})
	if err != nil {
		t.Fatal(err)
	}
	a.Store([]byte("k"), []byte("v"), Insert)
	a.Close()
	// python holds the file open with CLEAR_IF_FIRST (it wipes, being
	// first), stores a key and waits; our opener must not wipe again.
	cmd := exec.Command(py, "-c", `
import os, sys, tdb
t = tdb.Tdb(sys.argv[1], 0, tdb.CLEAR_IF_FIRST, os.O_RDWR | os.O_CREAT, 0o600)
t.store(b"py", b"1", tdb.REPLACE)
print("ready", b"k" in t.keys() if hasattr(t, "keys") else "", flush=True)
sys.stdin.read()
`, path)
	stdin, _ := cmd.StdinPipe()
	var out bytes.Buffer
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	buf := make([]byte, 64)
	n, _ := stdout.Read(buf)
	out.Write(buf[:n])
	if !strings.HasPrefix(out.String(), "ready") {
		t.Fatalf("python: %q", out.String())
	}
	b, err := Open(path, &Options{Flags: ClearIfFirst})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ok, _ := b.Exists([]byte("k")); ok {
		t.Fatal("libtdb's first CLEAR_IF_FIRST open did not wipe")
	}
	if v, err := b.Fetch([]byte("py")); err != nil || string(v) != "1" {
		t.Fatalf("second opener wiped libtdb's data: %q %v", v, err)
	}
}

func TestMutexFileRefused(t *testing.T) {
	py := pythonTDB(t)
	path := filepath.Join(t.TempDir(), "mutex.tdb")
	out, err := exec.Command(py, "-c", `
import os, sys, tdb
t = tdb.Tdb(sys.argv[1], 0, 4096 | tdb.INCOMPATIBLE_HASH, os.O_RDWR | os.O_CREAT, 0o600)
t.store(b"a", b"1", tdb.REPLACE)
`, path).CombinedOutput()
	if err != nil {
		t.Skipf("python3-tdb cannot create a mutex file here: %v %s", err, out)
	}
	_, err = Open(path, nil)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "mutex") {
		t.Fatalf("open of mutex file: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "x.tdb"), &Options{Flags: MutexLocking}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("create with MutexLocking: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	db, path := openTemp(t, nil)
	db.Store([]byte("k"), []byte("v"), Insert)
	db.Close()
	ro, err := Open(path, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if v, err := ro.Fetch([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("%q %v", v, err)
	}
	if err := ro.Store([]byte("k"), []byte("w"), Replace); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("store on read-only: %v", err)
	}
	if err := ro.Delete([]byte("k")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("delete on read-only: %v", err)
	}
	if err := ro.TransactionStart(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("transaction on read-only: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.tdb"), &Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing file succeeded")
	}
}

func TestCorruptFiles(t *testing.T) {
	db, path := openTemp(t, &Options{HashSize: 1})
	for _, k := range []string{"a", "b", "c"} {
		db.Store([]byte(k), []byte("value-"+k), Insert)
	}
	db.Close()
	good, _ := os.ReadFile(path)
	ds := dataStart(1)
	head := binary.LittleEndian.Uint32(good[hashTop(0):])
	cases := map[string]func(b []byte) []byte{
		"truncated header": func(b []byte) []byte { return b[:100] },
		"truncated table":  func(b []byte) []byte { return b[:ds-2] },
		"bad version":      func(b []byte) []byte { b[offVersion] ^= 1; return b },
		"bad hash magic":   func(b []byte) []byte { b[offMagic1] ^= 1; return b },
		"spinlocks":        func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offRWLocks:], 7); return b },
		"cycle": func(b []byte) []byte {
			// The last record of the chain points back to the first.
			off := head
			for {
				next := binary.LittleEndian.Uint32(b[off:])
				if next == 0 {
					binary.LittleEndian.PutUint32(b[off:], head)
					return b
				}
				off = next
			}
		},
		"self loop":   func(b []byte) []byte { binary.LittleEndian.PutUint32(b[head:], head); return b },
		"next beyond": func(b []byte) []byte { binary.LittleEndian.PutUint32(b[head:], 1<<30); return b },
		"bad magic":   func(b []byte) []byte { b[head+20] ^= 0xff; return b },
		"huge lengths": func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[head+8:], 0xffffff00)
			binary.LittleEndian.PutUint32(b[head+12:], 0xffffff00)
			return b
		},
		"head beyond": func(b []byte) []byte { binary.LittleEndian.PutUint32(b[hashTop(0):], uint32(len(b))+8); return b },
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.tdb")
			os.WriteFile(p, corrupt(bytes.Clone(good)), 0o600)
			db, err := Open(p, &Options{NoCreate: true})
			if err != nil {
				if !strings.Contains(err.Error(), p) {
					t.Fatalf("error does not name the file: %v", err)
				}
				return
			}
			defer db.Close()
			var errs []error
			for _, k := range []string{"a", "b", "c", "zz"} {
				_, err := db.Fetch([]byte(k))
				errs = append(errs, err)
				errs = append(errs, db.Store([]byte(k+"x"), []byte("v"), Replace))
			}
			_, err = db.Traverse(func(k, v []byte) error { return nil })
			errs = append(errs, err)
			_, err = db.Check()
			if err == nil {
				t.Fatal("Check found no problem")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != p || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("Check error %v does not name file and offset", err)
			}
			for _, e := range errs {
				if e != nil && !errors.Is(e, ErrNotFound) && !errors.As(e, &ce) {
					t.Errorf("unexpected error kind: %v", e)
				}
			}
		})
	}
}

func TestNestedTransactions(t *testing.T) {
	db, _ := openTemp(t, nil)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.TransactionStart())
	must(db.Store([]byte("a"), []byte("1"), Insert))
	must(db.TransactionStart())
	must(db.Store([]byte("b"), []byte("2"), Insert))
	must(db.TransactionCommit()) // inner: nothing yet
	must(db.TransactionCommit())
	if v, _ := db.Fetch([]byte("b")); string(v) != "2" {
		t.Fatal("nested commit lost data")
	}
	// An inner cancel fails the outer commit and rolls everything back.
	must(db.TransactionStart())
	must(db.Store([]byte("c"), []byte("3"), Insert))
	must(db.TransactionStart())
	must(db.TransactionCancel())
	if err := db.TransactionCommit(); !errors.Is(err, ErrTxFailed) {
		t.Fatalf("outer commit after inner cancel: %v", err)
	}
	if ok, _ := db.Exists([]byte("c")); ok {
		t.Fatal("failed transaction left data")
	}
	// DisallowNesting refuses.
	db2, _ := openTemp(t, &Options{Flags: DisallowNesting})
	must(db2.TransactionStart())
	if err := db2.TransactionStart(); !errors.Is(err, ErrNesting) {
		t.Fatalf("nested start with DisallowNesting: %v", err)
	}
	must(db2.TransactionCancel())
	// Prepare, then commit; writes after prepare fail the transaction.
	must(db.TransactionStart())
	must(db.Store([]byte("p"), []byte("q"), Insert))
	must(db.TransactionPrepareCommit())
	must(db.TransactionCommit())
	if v, _ := db.Fetch([]byte("p")); string(v) != "q" {
		t.Fatal("prepared commit lost data")
	}
	must(db.TransactionStart())
	must(db.Store([]byte("r"), []byte("s"), Insert))
	must(db.TransactionPrepareCommit())
	if err := db.Store([]byte("t"), []byte("u"), Insert); err == nil {
		t.Fatal("write after prepare succeeded")
	}
	if err := db.TransactionCommit(); err == nil {
		t.Fatal("commit of a failed prepared transaction succeeded")
	}
	if ok, _ := db.Exists([]byte("r")); ok {
		t.Fatal("failed prepared transaction left data")
	}
	if _, err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestTraverseDeleteAndStore(t *testing.T) {
	db, path := openTemp(t, &Options{HashSize: 7})
	for i := 0; i < 300; i++ {
		db.Store([]byte{byte(i), byte(i >> 8)}, bytes.Repeat([]byte{1}, i%40), Insert)
	}
	seen := 0
	n, err := db.Traverse(func(k, v []byte) error {
		seen++
		if k[0]%2 == 0 {
			return db.Delete(k)
		}
		return db.Store(k, bytes.Repeat([]byte{2}, 80), Replace)
	})
	if err != nil || n != seen || n < 300 {
		t.Fatalf("traverse %d/%d: %v", n, seen, err)
	}
	cnt := 0
	db.TraverseRead(func(k, v []byte) error {
		cnt++
		if k[0]%2 == 0 || !bytes.Equal(v, bytes.Repeat([]byte{2}, 80)) {
			t.Fatalf("bad record %x=%x", k, v)
		}
		return nil
	})
	if cnt != 150 {
		t.Fatalf("%d records left", cnt)
	}
	if c, err := db.Check(); err != nil || c != 150 {
		t.Fatalf("check %d %v", c, err)
	}
	db.Close()
	tdbtoolCheck(t, path)
}
