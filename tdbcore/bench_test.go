package tdbcore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// BenchmarkSpeed runs the workload of `tdbtool speed` (store and fetch of
// one key with an 8-byte random value, a one-store transaction with
// fsync, a traverse of the resulting two-record database) with tdbcore,
// and runs `tdbtool speed` itself (libtdb) in the same process run, so
// that `make bench` prints both rates as ops/s side by side.
func BenchmarkSpeed(b *testing.B) {
	for _, op := range []string{"store", "fetch", "transaction", "traverse"} {
		b.Run(op+"/tdbcore", func(b *testing.B) { benchTdbcore(b, op) })
		b.Run(op+"/libtdb", func(b *testing.B) { benchLibtdb(b, op) })
	}
}

func benchTdbcore(b *testing.B, op string) {
	db, err := Open(filepath.Join(b.TempDir(), "speed.tdb"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var val [8]byte
	rnd := func() []byte {
		binary.LittleEndian.PutUint64(val[:], uint64(rand.Int63()))
		return val[:]
	}
	skey, tkey := []byte("store test"), []byte("transaction test")
	db.Store(skey, rnd(), Replace)
	db.Store(tkey, rnd(), Replace)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		switch op {
		case "store":
			err = db.Store(skey, rnd(), Replace)
		case "fetch":
			_, err = db.Fetch(skey)
		case "transaction":
			if err = db.TransactionStart(); err == nil {
				if err = db.Store(tkey, rnd(), Replace); err == nil {
					err = db.TransactionCommit()
				}
			}
		case "traverse":
			_, err = db.Traverse(func(k, v []byte) error { return nil })
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

var (
	libtdbOnce  sync.Once
	libtdbRates map[string]float64
	libtdbErr   error
)

// benchLibtdb reports the rate `tdbtool speed 1` measured for op.
func benchLibtdb(b *testing.B, op string) {
	libtdbOnce.Do(func() {
		tdbtool, err := exec.LookPath("tdbtool")
		if err != nil {
			libtdbErr = err
			return
		}
		dir := b.TempDir()
		cmd := exec.Command(tdbtool)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("create speed.tdb\nspeed 1\nquit\n")
		out, err := cmd.Output()
		if err != nil {
			libtdbErr = err
			return
		}
		libtdbRates = map[string]float64{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		cur := ""
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "Testing"); i >= 0 {
				line = line[i:]
			}
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Testing" {
				cur = f[1]
			} else if len(f) == 2 && f[1] == "ops/sec" && cur != "" {
				libtdbRates[cur], _ = strconv.ParseFloat(f[0], 64)
			}
		}
	})
	if libtdbErr != nil {
		b.Skipf("tdbtool (Debian tdb-tools) not usable: %v", libtdbErr)
	}
	rate, ok := libtdbRates[op]
	if !ok {
		b.Skipf("tdbtool speed printed no %s rate", op)
	}
	for i := 0; i < b.N; i++ {
	}
	b.ReportMetric(rate, "ops/s")
	b.ReportMetric(1e9/rate, "ns/op")
}
