package tdbcore

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pyWriter does atomic read-modify-writes from libtdb: under the
// all-record lock or inside a transaction it reads a key's counter, stores
// counter+1 (or deletes the key) and logs the operation with a
// CLOCK_MONOTONIC timestamp taken while the lock is still held.
const pyWriter = `
import os, sys, tdb, time, random
path, secs, seed, nkeys = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
random.seed(seed)
t = tdb.Tdb(path, 0, tdb.NOSYNC, os.O_RDWR, 0o600)
keys = [b"k%03d" % i for i in range(nkeys)]
end = time.monotonic() + secs
out = []
def counter(v):
    return 0 if v is None else int(v.split(b";")[1][2:])
while time.monotonic() < end:
    k = random.choice(keys)
    tx = random.random() < 0.3
    if tx:
        t.transaction_start()
    else:
        t.lock_all()
    old = t.get(k)
    if random.random() < 0.25:
        if old is not None:
            t.delete(k)
        op, n = "D", 0
    else:
        op, n = "S", counter(old) + 1
        t.store(k, b"w=py;n=%d;" % n + b"x" * random.randint(0, 300))
    ts = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    if tx:
        t.transaction_commit()
    else:
        t.unlock_all()
    out.append("%s %s %d %d py" % (k.decode(), op, ts, n))
t.close()
print("\n".join(out))
`

type logEntry struct {
	key, op string
	ts      int64
	n       int
	writer  string
}

func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func counterOf(v []byte) int {
	if v == nil {
		return 0
	}
	parts := bytes.Split(v, []byte(";"))
	n, _ := strconv.Atoi(string(parts[1][2:]))
	return n
}

// TestConcurrentWithLibtdb runs a python3-tdb writer and tdbcore
// goroutines (chain-lock read-modify-writes on one handle, transactions on
// another) on overlapping keys, then checks the file with tdbtool, that no
// update was lost (the counters of each key advance by one in timestamp
// order) and that the final contents are what the merged logs say.
func TestConcurrentWithLibtdb(t *testing.T) {
	py := pythonTDB(t)
	secs := 20.0
	if testing.Short() {
		secs = 3
	}
	if s := os.Getenv("TDBCORE_STRESS_SECONDS"); s != "" {
		secs, _ = strconv.ParseFloat(s, 64)
	}
	const nkeys = 60
	path := filepath.Join(t.TempDir(), "conc.tdb")
	h1, err := Open(path, &Options{HashSize: 17, Flags: NoSync})
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close()
	h2, err := Open(path, &Options{Flags: NoSync})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()

	cmd := exec.Command(py, "-c", pyWriter, path, fmt.Sprint(secs), "1", fmt.Sprint(nkeys))
	var pyOut, pyErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &pyOut, &pyErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	var mu sync.Mutex
	var logs []logEntry
	deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			name := fmt.Sprintf("go%d", g)
			for time.Now().Before(deadline) {
				k := fmt.Sprintf("k%03d", rng.Intn(nkeys))
				c, err := h1.ChainLock([]byte(k))
				if err != nil {
					errs <- err
					return
				}
				old, err := c.Fetch([]byte(k))
				if err != nil && err != ErrNotFound {
					c.Unlock()
					errs <- err
					return
				}
				e := logEntry{key: k, writer: name}
				if rng.Intn(4) == 0 {
					e.op = "D"
					if err == nil {
						err = c.Delete([]byte(k))
					} else {
						err = nil
					}
				} else {
					e.op, e.n = "S", counterOf(old)+1
					v := fmt.Appendf(nil, "w=%s;n=%d;%s", name, e.n, strings.Repeat("y", rng.Intn(300)))
					err = c.Store([]byte(k), v, Replace)
				}
				e.ts = monoNow()
				c.Unlock()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				logs = append(logs, e)
				mu.Unlock()
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewSource(99))
		for time.Now().Before(deadline) {
			k := fmt.Sprintf("k%03d", rng.Intn(nkeys))
			if err := h2.TransactionStart(); err != nil {
				errs <- err
				return
			}
			old, err := h2.Fetch([]byte(k))
			e := logEntry{key: k, writer: "gotx"}
			if rng.Intn(4) == 0 {
				e.op = "D"
				if err == nil {
					err = h2.Delete([]byte(k))
				} else if err == ErrNotFound {
					err = nil
				}
			} else if err == nil || err == ErrNotFound {
				e.op, e.n = "S", counterOf(old)+1
				err = h2.Store([]byte(k), fmt.Appendf(nil, "w=gotx;n=%d;%s", e.n, strings.Repeat("z", rng.Intn(500))), Replace)
			}
			e.ts = monoNow()
			if err == nil {
				err = h2.TransactionCommit()
			}
			if err != nil {
				h2.TransactionCancel()
				errs <- err
				return
			}
			mu.Lock()
			logs = append(logs, e)
			mu.Unlock()
		}
	}()
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python writer: %v\n%s", err, pyErr.String())
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&pyOut)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 {
			continue
		}
		ts, _ := strconv.ParseInt(f[2], 10, 64)
		n, _ := strconv.Atoi(f[3])
		logs = append(logs, logEntry{key: f[0], op: f[1], ts: ts, n: n, writer: f[4]})
	}
	per := map[string][]logEntry{}
	writers := map[string]int{}
	for _, e := range logs {
		per[e.key] = append(per[e.key], e)
		writers[e.writer]++
	}
	t.Logf("operations per writer: %v", writers)
	if writers["py"] == 0 || writers["go0"] == 0 || writers["gotx"] == 0 {
		t.Fatalf("a writer made no progress: %v", writers)
	}
	for k, es := range per {
		sort.Slice(es, func(i, j int) bool { return es[i].ts < es[j].ts })
		prev := 0
		for _, e := range es {
			if e.op == "S" && e.n != prev+1 {
				t.Fatalf("key %s: lost update: %s stored counter %d after %d", k, e.writer, e.n, prev)
			}
			prev = e.n
		}
		last := es[len(es)-1]
		v, err := h1.Fetch([]byte(k))
		switch {
		case last.op == "D" && err != ErrNotFound:
			t.Fatalf("key %s: deleted last by %s but has %q (%v)", k, last.writer, v, err)
		case last.op == "S" && (err != nil || counterOf(v) != last.n || !bytes.HasPrefix(v, []byte("w="+last.writer+";"))):
			t.Fatalf("key %s: last stored by %s with %d, file has %q (%v)", k, last.writer, last.n, v, err)
		}
	}
	tdbtoolCheck(t, path)
	if _, err := h1.Check(); err != nil {
		t.Fatal(err)
	}
}
