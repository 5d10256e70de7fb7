package tdbcore

import (
	"path/filepath"
	"testing"
)

// TestMaxDeadStoreDuringTraverse: with dead records kept (MaxDead, CTDB's
// DatabaseMaxDead), a store made from a traversal's callback must not reuse the dead
// record the traversal stands on: the traversal would then follow the reused record to
// the head of the chain and see a loop.
func TestMaxDeadStoreDuringTraverse(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "md.tdb"), &Options{HashSize: 1, Flags: NoSync, MaxDead: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"aaaa", "bbbb", "cccc", "dddd"} {
		if err := db.Store([]byte(k), []byte("value-"+k), Replace); err != nil {
			t.Fatal(err)
		}
	}
	stored := 0
	n, err := db.Traverse(func(key, value []byte) error {
		if err := db.Delete(key); err != nil {
			return err
		}
		stored++
		return db.Store([]byte{'n', byte('0' + stored)}, []byte("v"), Replace)
	})
	if err != nil {
		t.Fatalf("traverse after %d records: %v", n, err)
	}
	if _, err := db.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
}
