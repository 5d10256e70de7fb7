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
