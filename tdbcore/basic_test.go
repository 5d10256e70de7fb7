package tdbcore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

func openTemp(t *testing.T, opts *Options) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.tdb")
	db, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestBasicOps(t *testing.T) {
	for _, fl := range []Flags{0, IncompatibleHash, NoMmap} {
		t.Run(fmt.Sprint(fl), func(t *testing.T) {
			db, _ := openTemp(t, &Options{Flags: fl})
			if _, err := db.Fetch([]byte("nope")); !errors.Is(err, ErrNotFound) {
				t.Fatalf("fetch missing: %v", err)
			}
			for i := 0; i < 2000; i++ {
				k := []byte(fmt.Sprintf("key%d", i))
				if err := db.Store(k, bytes.Repeat([]byte{byte(i)}, i%50), Insert); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Store([]byte("key1"), []byte("x"), Insert); !errors.Is(err, ErrExists) {
				t.Fatalf("insert existing: %v", err)
			}
			if err := db.Store([]byte("zz"), []byte("x"), Modify); !errors.Is(err, ErrNotFound) {
				t.Fatalf("modify missing: %v", err)
			}
			for i := 0; i < 2000; i += 2 {
				if err := db.Delete([]byte(fmt.Sprintf("key%d", i))); err != nil {
					t.Fatal(err)
				}
			}
			for i := 1; i < 2000; i += 4 {
				if err := db.Store([]byte(fmt.Sprintf("key%d", i)), bytes.Repeat([]byte("y"), 100), Modify); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 2000; i++ {
				v, err := db.Fetch([]byte(fmt.Sprintf("key%d", i)))
				switch {
				case i%2 == 0:
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("key%d: %v", i, err)
					}
				case i%4 == 1:
					if err != nil || !bytes.Equal(v, bytes.Repeat([]byte("y"), 100)) {
						t.Fatalf("key%d: %q %v", i, v, err)
					}
				default:
					if err != nil || !bytes.Equal(v, bytes.Repeat([]byte{byte(i)}, i%50)) {
						t.Fatalf("key%d: %q %v", i, v, err)
					}
				}
			}
			n, err := db.Traverse(func(k, v []byte) error { return nil })
			if err != nil || n != 1000 {
				t.Fatalf("traverse %d %v", n, err)
			}
			if cnt, err := db.Check(); err != nil || cnt != 1000 {
				t.Fatalf("check: %d %v", cnt, err)
			}
		})
	}
}

func TestParseKeysAndChainMisuse(t *testing.T) {
	db, _ := openTemp(t, &Options{HashSize: 7})
	db.Store([]byte("a"), []byte("apple"), Insert)
	db.Store([]byte("b"), []byte(""), Insert)
	var got string
	if err := db.Parse([]byte("a"), func(v []byte) error { got = string(v); return nil }); err != nil || got != "apple" {
		t.Fatalf("parse: %q %v", got, err)
	}
	if err := db.Parse([]byte("b"), func(v []byte) error {
		if v == nil || len(v) != 0 {
			t.Fatalf("empty value parsed as %v", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Parse([]byte("zz"), func([]byte) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("parse missing: %v", err)
	}
	keys, err := db.Keys()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %q %v", keys, err)
	}
	// A chain lock only covers keys of its own chain.
	var other []byte
	for i := 0; ; i++ {
		k := fmt.Appendf(nil, "k%d", i)
		if db.Hash(k)%7 != db.Hash([]byte("a"))%7 {
			other = k
			break
		}
	}
	c, err := db.ChainLock([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Store(other, []byte("x"), Replace); !errors.Is(err, ErrLockState) {
		t.Fatalf("store on another chain: %v", err)
	}
	if err := c.Store([]byte("a"), []byte("pear"), Modify); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	c.Unlock() // idempotent
	if _, err := c.Fetch([]byte("a")); !errors.Is(err, ErrLockState) {
		t.Fatalf("use after unlock: %v", err)
	}
	r, _ := db.ChainLockRead([]byte("a"))
	if err := r.Delete([]byte("a")); !errors.Is(err, ErrLockState) {
		t.Fatalf("write under read lock: %v", err)
	}
	if v, err := r.Fetch([]byte("a")); err != nil || string(v) != "pear" {
		t.Fatalf("fetch under read lock: %q %v", v, err)
	}
	r.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Fetch([]byte("a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("fetch after close: %v", err)
	}
}

func TestLockAllAndTransactionOwnership(t *testing.T) {
	db, path := openTemp(t, nil)
	other, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := db.LockAll(); err != nil {
		t.Fatal(err)
	}
	// Operations of this handle work under its all-record lock; another
	// handle cannot get in.
	if err := db.Store([]byte("k"), []byte("v"), Insert); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ChainLockNonblock([]byte("k")); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("other handle under lockall: %v", err)
	}
	if err := db.TransactionStart(); !errors.Is(err, ErrLockState) {
		t.Fatalf("transaction under lockall: %v", err)
	}
	if err := db.UnlockAll(); err != nil {
		t.Fatal(err)
	}
	if err := db.UnlockAll(); !errors.Is(err, ErrLockState) {
		t.Fatalf("double unlock: %v", err)
	}
	if err := db.LockAllRead(); err != nil {
		t.Fatal(err)
	}
	if err := db.Store([]byte("k"), []byte("w"), Replace); !errors.Is(err, ErrLockState) {
		t.Fatalf("write under read lockall: %v", err)
	}
	if v, err := other.Fetch([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("reader beside read lockall: %q %v", v, err)
	}
	db.UnlockAll()
	if err := db.TransactionCommit(); !errors.Is(err, ErrNoTransaction) {
		t.Fatalf("commit without transaction: %v", err)
	}
}
