package tdbcore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"
)

// TestStateMachine drives a DB with random operations, transactions and
// reopens, and compares it with a map after every step.
func TestStateMachine(t *testing.T) {
	dir := t.TempDir()
	n := 0
	rapid.Check(t, func(t *rapid.T) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("sm%d.tdb", n))
		defer os.Remove(path)
		opts := &Options{
			HashSize: rapid.IntRange(1, 17).Draw(t, "hashSize"),
			MaxDead:  rapid.IntRange(0, 3).Draw(t, "maxDead"),
			Flags:    rapid.SampledFrom([]Flags{0, IncompatibleHash, NoMmap, IncompatibleHash | NoMmap, NoLock, Seqnum}).Draw(t, "flags") | NoSync,
		}
		db, err := Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { db.Close() }()
		model := map[string][]byte{}
		var saved map[string][]byte // model at transaction start
		inTx := false
		key := rapid.Custom(func(t *rapid.T) []byte {
			return fmt.Appendf(nil, "k%d", rapid.IntRange(0, 40).Draw(t, "k"))
		})
		val := rapid.SliceOfN(rapid.Byte(), 0, 300)
		clone := func(m map[string][]byte) map[string][]byte {
			c := make(map[string][]byte, len(m))
			for k, v := range m {
				c[k] = v
			}
			return c
		}
		t.Repeat(map[string]func(*rapid.T){
			"store": func(t *rapid.T) {
				k, v := key.Draw(t, "key"), val.Draw(t, "val")
				flag := rapid.SampledFrom([]StoreFlag{Replace, Insert, Modify}).Draw(t, "flag")
				_, exists := model[string(k)]
				err := db.Store(k, v, flag)
				switch {
				case flag == Insert && exists:
					if !errors.Is(err, ErrExists) {
						t.Fatalf("insert over existing: %v", err)
					}
				case flag == Modify && !exists:
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("modify missing: %v", err)
					}
				case err != nil:
					t.Fatal(err)
				default:
					model[string(k)] = v
				}
			},
			"delete": func(t *rapid.T) {
				k := key.Draw(t, "key")
				_, exists := model[string(k)]
				err := db.Delete(k)
				if exists && err != nil || !exists && !errors.Is(err, ErrNotFound) {
					t.Fatalf("delete %s (exists %v): %v", k, exists, err)
				}
				delete(model, string(k))
			},
			"fetch": func(t *rapid.T) {
				k := key.Draw(t, "key")
				v, err := db.Fetch(k)
				want, exists := model[string(k)]
				if exists != (err == nil) || exists && !bytes.Equal(v, want) {
					t.Fatalf("fetch %s: %q %v, want %q", k, v, err, want)
				}
				if ok, _ := db.Exists(k); ok != exists {
					t.Fatalf("exists %s: %v", k, ok)
				}
			},
			"append": func(t *rapid.T) {
				k, v := key.Draw(t, "key"), val.Draw(t, "val")
				if err := db.Append(k, v); err != nil {
					t.Fatal(err)
				}
				model[string(k)] = append(bytes.Clone(model[string(k)]), v...)
			},
			"traverseDelete": func(t *rapid.T) {
				// Delete every other record from inside a write traverse.
				i := 0
				_, err := db.Traverse(func(k, v []byte) error {
					i++
					if i%2 == 0 {
						delete(model, string(k))
						return db.Delete(k)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			},
			"wipe": func(t *rapid.T) {
				if err := db.Wipe(); err != nil {
					t.Fatal(err)
				}
				model = map[string][]byte{}
			},
			"begin": func(t *rapid.T) {
				if inTx {
					t.Skip("in a transaction")
				}
				if err := db.TransactionStart(); err != nil {
					t.Fatal(err)
				}
				inTx, saved = true, clone(model)
			},
			"commit": func(t *rapid.T) {
				if !inTx {
					t.Skip("no transaction")
				}
				if rapid.Bool().Draw(t, "prepare") {
					if err := db.TransactionPrepareCommit(); err != nil {
						t.Fatal(err)
					}
				}
				if err := db.TransactionCommit(); err != nil {
					t.Fatal(err)
				}
				inTx = false
			},
			"cancel": func(t *rapid.T) {
				if !inTx {
					t.Skip("no transaction")
				}
				if err := db.TransactionCancel(); err != nil {
					t.Fatal(err)
				}
				inTx, model = false, saved
			},
			"reopen": func(t *rapid.T) {
				if inTx {
					model, inTx = saved, false // Close cancels
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if db, err = Open(path, opts); err != nil {
					t.Fatal(err)
				}
			},
			"": func(t *rapid.T) {
				got := map[string][]byte{}
				if _, err := db.TraverseRead(func(k, v []byte) error {
					if _, dup := got[string(k)]; dup {
						return fmt.Errorf("key %q visited twice", k)
					}
					got[string(k)] = v
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(model) {
					t.Fatalf("%d records, model has %d", len(got), len(model))
				}
				for k, v := range model {
					if !bytes.Equal(got[k], v) {
						t.Fatalf("key %s: %q, model %q", k, got[k], v)
					}
				}
				if c, err := db.Check(); err != nil || c != len(model) {
					t.Fatalf("check: %d %v", c, err)
				}
			},
		})
	})
}
