package tdbcore

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// exercise runs every kind of operation on an open (possibly corrupt)
// database. Errors are expected; panics and hangs are the bugs.
func exercise(db *DB, write bool) {
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("key-1"), []byte(""), []byte("zzzzzzzz")}
	for _, k := range keys {
		db.Fetch(k)
		db.Exists(k)
	}
	n := 0
	db.TraverseRead(func(k, v []byte) error {
		if n++; n > 1000 {
			return ErrStopTraverse
		}
		return nil
	})
	db.Check()
	if !write {
		return
	}
	n = 0
	db.Traverse(func(k, v []byte) error {
		if n++; n > 1000 {
			return ErrStopTraverse
		}
		if n%2 == 0 {
			return db.Delete(k)
		}
		return nil
	})
	for i, k := range keys {
		db.Store(k, make([]byte, i*37), Replace)
		db.Delete(keys[(i+2)%len(keys)])
	}
	if db.TransactionStart() == nil {
		db.Store([]byte("tx"), []byte("value"), Replace)
		db.Delete([]byte("a"))
		db.TransactionCommit()
	}
	db.Wipe()
	db.Check()
}

func fuzzFile(t *testing.T, data []byte, write bool) {
	path := filepath.Join(t.TempDir(), "fuzz.tdb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, fl := range []Flags{NoSync, NoSync | NoMmap} {
		db, err := Open(path, &Options{NoCreate: true, ReadOnly: !write, Flags: fl})
		if err != nil {
			continue
		}
		exercise(db, write)
		db.Close()
		if write {
			// What was written must not break a reopen.
			if db, err := Open(path, &Options{NoCreate: true, ReadOnly: true}); err == nil {
				exercise(db, false)
				db.Close()
			}
		}
	}
}

// seedFiles builds small valid databases in various states.
func seedFiles(t testing.TB) [][]byte {
	var out [][]byte
	dir := t.TempDir()
	for i, o := range []Options{
		{HashSize: 1}, {HashSize: 3, Flags: IncompatibleHash}, {HashSize: 5, MaxDead: 2},
	} {
		path := filepath.Join(dir, fmt.Sprintf("seed%d.tdb", i))
		o.Flags |= NoSync
		db, err := Open(path, &o)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		out = append(out, b)
		for j := 0; j < 12; j++ {
			db.Store(fmt.Appendf(nil, "key-%d", j), make([]byte, j*9), Insert)
		}
		for j := 0; j < 12; j += 3 {
			db.Delete(fmt.Appendf(nil, "key-%d", j))
		}
		b, _ = os.ReadFile(path)
		out = append(out, b)
		db.TransactionStart()
		db.Store([]byte("a"), []byte("in a transaction"), Replace)
		db.TransactionCommit()
		db.Close()
		b, _ = os.ReadFile(path)
		out = append(out, b)
	}
	return out
}

// FuzzOpen feeds arbitrary file contents to Open and every operation.
func FuzzOpen(f *testing.F) {
	for _, s := range seedFiles(f) {
		if len(s) <= 16<<10 {
			// Big inputs make every execution and minimization slow;
			// FuzzCorruptRecords covers the big files.
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		fuzzFile(t, data, len(data)%2 == 0)
	})
}

// FuzzCorruptRecords patches bytes of valid databases at chosen offsets,
// which reaches the record, chain and free-list code more often than raw
// files do, and then traverses, reads, writes and checks.
func FuzzCorruptRecords(f *testing.F) {
	seeds := seedFiles(f)
	f.Add(uint8(1), uint32(700), []byte{0xff, 0xff, 0xff, 0xff})
	f.Add(uint8(4), uint32(172), []byte{0xb8, 0x02, 0, 0})
	f.Add(uint8(7), uint32(696), []byte{0, 0, 0, 0, 0x10})
	f.Add(uint8(2), uint32(44), []byte{0xb8, 0x02, 0, 0})
	f.Fuzz(func(t *testing.T, which uint8, off uint32, patch []byte) {
		base := append([]byte(nil), seeds[int(which)%len(seeds)]...)
		if len(base) == 0 || len(patch) > 64 {
			return
		}
		o := int(off % uint32(len(base)))
		copy(base[o:], patch)
		if o >= headerSize && len(patch) >= 4 && which&0x80 != 0 {
			// Also aim a chain head at the patched spot.
			binary.LittleEndian.PutUint32(base[hashTop(0):], uint32(o))
		}
		fuzzFile(t, base, true)
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora under
// testdata/fuzz (run with TDBCORE_WRITE_SEEDS=1).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("TDBCORE_WRITE_SEEDS") == "" {
		t.Skip("set TDBCORE_WRITE_SEEDS=1 to regenerate testdata/fuzz seed corpora")
	}
	for i, s := range seedFiles(t) {
		if len(s) > 10000 {
			continue // the generated in-code seeds cover the big files
		}
		write := func(target, name, body string) {
			dir := filepath.Join("testdata", "fuzz", target)
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("FuzzOpen", fmt.Sprintf("seed-valid-%02d", i), fmt.Sprintf("[]byte(%q)\n", s))
		// A truncated copy and one with a looping chain.
		write("FuzzOpen", fmt.Sprintf("seed-truncated-%02d", i), fmt.Sprintf("[]byte(%q)\n", s[:len(s)*2/3]))
		write("FuzzCorruptRecords", fmt.Sprintf("seed-%02d", i), fmt.Sprintf("uint8(%d)\nuint32(%d)\n[]byte(%q)\n", i|0x80, 700+i*24, []byte{0xb8, 0x02, 0, 0}))
	}
}
