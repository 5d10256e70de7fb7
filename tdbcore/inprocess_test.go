package tdbcore

import (
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSharedHandleGoroutines runs goroutines of one handle against each
// other on a small hash table, so that they meet on the same chains:
// chain-lock counters (no update may be lost), plain stores, fetches and
// deletes, and write traversals that delete what they visit. Afterwards
// the counters must be exact and the file must pass Check and tdbtool
// check.
//
// Not covered here: MaxDead > 0 (see TestMaxDeadStoreDuringTraverse), and
// chain locks taken inside an all-record lock of the handle, which UnlockAll
// does not wait for (a known gap).
func TestSharedHandleGoroutines(t *testing.T) {
	t.Run("counters", func(t *testing.T) { sharedHandle(t, true, false) })
	t.Run("lockall", func(t *testing.T) { sharedHandle(t, false, true) })
}

func sharedHandle(t *testing.T, counters, lockAll bool) {
	secs := 2.0
	if testing.Short() {
		secs = 1
	}
	path := filepath.Join(t.TempDir(), "shared.tdb")
	db, err := Open(path, &Options{HashSize: 5, Flags: NoSync, MaxDead: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
	const ncount = 8
	var incs [ncount]atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for g := 0; g < 3 && counters; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for time.Now().Before(deadline) {
				i := rng.Intn(ncount)
				k := fmt.Appendf(nil, "count%d", i)
				c, err := db.ChainLock(k)
				if err != nil {
					fail(err)
					return
				}
				n := 0
				if v, err := c.Fetch(k); err == nil {
					n, _ = strconv.Atoi(string(v))
				} else if err != ErrNotFound {
					c.Unlock()
					fail(err)
					return
				}
				err = c.Store(k, strconv.AppendInt(nil, int64(n+1), 10), Replace)
				c.Unlock()
				if err != nil {
					fail(err)
					return
				}
				incs[i].Add(1)
			}
		}(g)
	}
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(100 + g)))
			for time.Now().Before(deadline) {
				k := fmt.Appendf(nil, "x%d", rng.Intn(40))
				var err error
				switch rng.Intn(4) {
				case 0:
					err = db.Delete(k)
				case 1:
					_, err = db.Fetch(k)
				default:
					err = db.Store(k, make([]byte, rng.Intn(100)), Replace)
				}
				if err != nil && err != ErrNotFound {
					fail(err)
					return
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewSource(7))
		for time.Now().Before(deadline) {
			var err error
			if rng.Intn(2) == 0 {
				_, err = db.Traverse(func(k, v []byte) error {
					if k[0] == 'x' && rng.Intn(3) == 0 {
						if err := db.Delete(k); err != nil && err != ErrNotFound {
							return err
						}
					}
					return nil
				})
			} else {
				_, err = db.TraverseRead(func(k, v []byte) error { return nil })
			}
			if err != nil {
				fail(err)
				return
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for lockAll && time.Now().Before(deadline) {
			err := db.LockAll()
			if errors.Is(err, ErrLockState) {
				// A traversal of this handle is in progress.
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil {
				fail(err)
				return
			}
			err = db.Store([]byte("x-all"), []byte("under lockall"), Replace)
			if uerr := db.UnlockAll(); err == nil {
				err = uerr
			}
			if err != nil {
				fail(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range incs {
		want := incs[i].Load()
		v, err := db.Fetch(fmt.Appendf(nil, "count%d", i))
		if want == 0 && err == ErrNotFound {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(string(v)); int64(n) != want {
			t.Fatalf("count%d = %d, want %d (lost update)", i, n, want)
		}
	}
	if _, err := db.Check(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	tdbtoolCheck(t, path)
}

// TestChainLockExcludesGoroutines checks the in-process side of a chain
// lock: while one goroutine holds it, another goroutine's Fetch of a key
// on that chain waits, and a key on another chain does not.
func TestChainLockExcludesGoroutines(t *testing.T) {
	db, _ := openTemp(t, &Options{HashSize: 2})
	var same, other []byte
	for i := 0; same == nil || other == nil; i++ {
		k := fmt.Appendf(nil, "k%d", i)
		if db.Hash(k)%2 == db.Hash([]byte("held"))%2 {
			if same == nil {
				same = k
			}
		} else if other == nil {
			other = k
		}
	}
	db.Store(same, []byte("v"), Replace)
	db.Store(other, []byte("v"), Replace)
	for _, write := range []bool{true, false} {
		var c *Chain
		var err error
		if write {
			c, err = db.ChainLock([]byte("held"))
		} else {
			c, err = db.ChainLockRead([]byte("held"))
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Fetch(other); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- db.Store(same, []byte("w"), Replace) }()
		select {
		case err := <-done:
			t.Fatalf("store on a chain locked by another goroutine (write=%v) did not wait: %v", write, err)
		case <-time.After(50 * time.Millisecond):
		}
		if !write {
			// Readers share the chain.
			if _, err := db.Fetch(same); err != nil {
				t.Fatal(err)
			}
		}
		c.Unlock()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
