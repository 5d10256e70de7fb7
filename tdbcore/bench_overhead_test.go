package tdbcore

import (
	"encoding/binary"
	"path/filepath"
	"testing"
)

// BenchmarkOverhead runs the BenchmarkSpeed workload on a NoLock handle:
// no kernel locks, so it measures tdbcore's own cost per operation (the
// in-process lock table, the handle mutex, hashing, reading and copying)
// without the fcntl calls that dominate BenchmarkSpeed.
func BenchmarkOverhead(b *testing.B) {
	for _, op := range []string{"store", "fetch", "traverse"} {
		b.Run(op, func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "speed.tdb"), &Options{Flags: NoLock})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var val [8]byte
			skey, tkey := []byte("store test"), []byte("transaction test")
			db.Store(skey, val[:], Replace)
			db.Store(tkey, val[:], Replace)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				switch op {
				case "store":
					binary.LittleEndian.PutUint64(val[:], uint64(i))
					err = db.Store(skey, val[:], Replace)
				case "fetch":
					_, err = db.Fetch(skey)
				case "traverse":
					_, err = db.Traverse(func(k, v []byte) error { return nil })
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
