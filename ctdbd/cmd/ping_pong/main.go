// Command ping_pong checks that a cluster file system's byte-range locks are coherent and
// measures how fast they are, the way admins test a file system before trusting it with
// the cluster lock. Same arguments and output as CTDB's ping_pong:
//
//	ping_pong [-r] [-w] [-m] [-c] FILE NUM_LOCKS
//	ping_pong -l FILE
//
// Run the same command on every node at once, with NUM_LOCKS above the number of nodes.
// Each process holds one of NUM_LOCKS one-byte locks and walks around the ring: lock the
// next byte (waiting for it), optionally read (-r) and increment (-w) the byte it holds
// (through mmap with -m), check with F_GETLK that the lock is really held (-c), unlock
// it. It prints the lock rate every second ("%8u locks/sec") and, with -r and -w,
// "data increment = N", which must equal the number of processes running: anything else
// means the file system's data is not coherent under its locks.
//
// -l only tests whether byte-range locks work at all: it locks the whole file and waits
// for a key; run it on a second node meanwhile, which must report the lock as held.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `ping_pong -rwmc <file> <num_locks>
ping_pong -l <file>

Options
 -r    do reads
 -w    do writes
 -m    use mmap
 -c    check locks
 -l    test for working byte range locks
`

type options struct {
	reads, writes, mmap, check, lockTest bool
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for _, c := range a[1:] {
			switch c {
			case 'r':
				o.reads = true
			case 'w':
				o.writes = true
			case 'm':
				o.mmap = true
			case 'c':
				o.check = true
			case 'l':
				o.lockTest = true
			default:
				fmt.Fprintf(stderr, "ping_pong: invalid option -- '%c'\n", c)
				fmt.Fprint(stdout, usage)
				return 1
			}
		}
	}
	rest := args[i:]
	if o.lockTest {
		if len(rest) < 1 {
			fmt.Fprint(stdout, usage)
			return 1
		}
		return lockTest(rest[0], stdin, stdout, stderr)
	}
	if len(rest) < 2 {
		fmt.Fprint(stdout, usage)
		return 1
	}
	n, err := strconv.Atoi(rest[1])
	if err != nil || n <= 0 {
		fmt.Fprintln(stdout, "num_locks should be > 0")
		return 1
	}
	f, err := os.OpenFile(rest[0], os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "ping_pong: %v\n", err)
		return 1
	}
	defer f.Close()
	return pingPong(f, n, o, stdout, nil)
}

func setLock(fd int, cmd int, typ int16, start, length int64) error {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: start, Len: length}
	for {
		err := unix.FcntlFlock(uintptr(fd), cmd, &lk)
		if err != unix.EINTR {
			return err
		}
	}
}

// checkLock reports (on out) whether another process holds a lock that would conflict
// with a write lock on the range: it returns true when the range is free.
func checkLock(fd int, start, length int64, out io.Writer) bool {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: start, Len: length}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk); err != nil {
		fmt.Fprintf(out, "error calling fcntl F_GETLCK: %v\n", err)
		return false
	}
	if lk.Type == unix.F_UNLCK {
		return true
	}
	fmt.Fprintf(out, "check_lock failed: lock held: pid='%d', type='%d', start='%d', len='%d'\n", lk.Pid, lk.Type, lk.Start, lk.Len)
	return false
}

// pingPong runs the ring of locks until stop is closed (nil: forever).
func pingPong(f *os.File, n int, o options, out io.Writer, stop <-chan struct{}) int {
	fd := int(f.Fd())
	w := bufio.NewWriter(out)
	defer w.Flush()
	if err := f.Truncate(int64(n) + 1); err != nil {
		fmt.Fprintf(w, "ftruncate failed: %v\n", err)
		return 1
	}
	var mem []byte
	if o.mmap {
		m, err := unix.Mmap(fd, 0, n+1, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			fmt.Fprintf(w, "mmap failed: %v\n", err)
			return 1
		}
		defer unix.Munmap(m)
		mem = m
	}
	val := make([]byte, n+1)
	var incr, lastIncr byte
	var count uint64
	loops := 0
	start := time.Now()
	if err := setLock(fd, unix.F_SETLKW, unix.F_WRLCK, 0, 1); err != nil {
		fmt.Fprintf(w, "lock at 0 failed! - %v\n", err)
	}
	buf := make([]byte, 1)
	for i := 0; ; {
		select {
		case <-stop:
			return 0
		default:
		}
		next := (i + 1) % n
		if err := setLock(fd, unix.F_SETLKW, unix.F_WRLCK, int64(next), 1); err != nil {
			fmt.Fprintf(w, "lock at %d failed! - %v\n", next, err)
		}
		if o.check {
			// We hold byte i ourselves, so F_GETLK must find no conflicting lock.
			checkLock(fd, int64(i), 1, w)
		}
		if o.reads {
			var c byte
			if mem != nil {
				c = mem[i]
			} else if k, err := f.ReadAt(buf, int64(i)); k != 1 {
				fmt.Fprintf(w, "read failed at %d: %v\n", i, err)
			} else {
				c = buf[0]
			}
			incr = c - val[i]
			val[i] = c
		}
		if o.writes {
			c := val[i] + 1
			if mem != nil {
				mem[i] = c
			} else {
				buf[0] = c
				if k, err := f.WriteAt(buf, int64(i)); k != 1 {
					fmt.Fprintf(w, "write failed at %d: %v\n", i, err)
				}
			}
		}
		if err := setLock(fd, unix.F_SETLKW, unix.F_UNLCK, int64(i), 1); err != nil {
			fmt.Fprintf(w, "unlock at %d failed! - %v\n", i, err)
		}
		i = next
		count++
		if loops > n && incr != lastIncr {
			lastIncr = incr
			fmt.Fprintf(w, "data increment = %d\n", incr)
			w.Flush()
		}
		if el := time.Since(start); el > time.Second {
			fmt.Fprintf(w, "%8d locks/sec\r", uint64(float64(2*count)/el.Seconds()))
			w.Flush()
			start = time.Now()
			count = 0
		}
		loops++
	}
}

// lockTest locks the whole file and holds the lock until a key is pressed, or, if the
// lock is held elsewhere, says who holds it: either way locks work.
func lockTest(name string, stdin io.Reader, stdout, stderr io.Writer) int {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "ping_pong: %v\n", err)
		return 1
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := setLock(fd, unix.F_SETLK, unix.F_WRLCK, 0, 0); err != nil {
		fmt.Fprintln(stdout, "File already locked, calling check_lock to tell us who has it locked:")
		checkLock(fd, 0, 0, stdout)
		fmt.Fprintln(stdout, "Working POSIX byte range locks")
		return 0
	}
	fmt.Fprintln(stdout, "Holding lock, press any key to continue...")
	fmt.Fprintln(stdout, "You should run the same command on another node now.")
	var b [1]byte
	stdin.Read(b[:])
	fmt.Fprintln(stdout, "Good bye.")
	return 0
}
