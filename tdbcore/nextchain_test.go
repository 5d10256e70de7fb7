package tdbcore

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"
)

// TestNextChainSkipsEmpty compares the mapped fast scan of nextChain with
// reading each chain head, for hash tables of many sizes and fill levels.
func TestNextChainSkipsEmpty(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 40; i++ {
		hs := 1 + rng.Intn(300)
		db, err := Open(filepath.Join(t.TempDir(), "nc.tdb"), &Options{HashSize: hs, Flags: NoSync})
		if err != nil {
			t.Fatal(err)
		}
		for n := rng.Intn(hs/2 + 2); n > 0; n-- {
			if err := db.Store(fmt.Appendf(nil, "k%d", rng.Int()), []byte("v"), Replace); err != nil {
				t.Fatal(err)
			}
		}
		db.mu.Lock()
		if db.m == nil {
			t.Fatal("not mapped")
		}
		for h := uint32(0); h <= db.hashSize; h++ {
			want := h
			for want < db.hashSize {
				v, err := db.readOff(hashTop(want))
				if err != nil {
					t.Fatal(err)
				}
				if v != 0 {
					break
				}
				want++
			}
			if got := db.nextChain(h); got != want {
				t.Fatalf("hash size %d: nextChain(%d) = %d, want %d", hs, h, got, want)
			}
		}
		db.mu.Unlock()
		db.Close()
	}
}
