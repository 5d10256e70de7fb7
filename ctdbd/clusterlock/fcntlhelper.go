package clusterlock

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// FcntlHelperMain is ctdb_mutex_fcntl_helper: `FILE [RECHECK-INTERVAL [PING-TIMEOUT]]`,
// compatible with CTDB's helper of the same name and the helper protocol.
//
// It takes a non-blocking fcntl write lock on byte 0 of FILE (creating it) and answers
// '0' on stdout, or '1' when another process holds the lock, or '3' on an error. While
// holding it, it checks every RECHECK-INTERVAL seconds (default 5, 0 = never) that FILE
// still is the locked file (same device and inode: a replaced or removed lock file means
// two nodes could both "hold" it), and when PING-TIMEOUT is above 0 that a blocking lock
// on byte 1 is granted within that many seconds (a hung cluster file system). Either
// failure is reported on stderr as a lost lock, and the helper exits 1.
//
// Unlike CTDB's helper, which polls its parent every RECHECK-INTERVAL seconds (so a
// killed leader keeps the lock for up to 5 s), it exits as soon as its parent dies
// (pidfd) or its stdin pipe reaches end-of-file, so failover does not wait for a poll.
// SIGTERM releases the lock and exits 0.
//
// It uses classic fcntl locks (not OFD locks) on purpose: they are what cluster file
// systems coordinate between nodes, and what CTDB's own helper takes, so both helpers
// exclude each other on one lock file. The helper opens the file exactly once, so the
// close-drops-all-locks rule of classic locks cannot bite.
func FcntlHelperMain(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	name := "ctdb_mutex_fcntl_helper"
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "%s: "+format+"\n", append([]any{name}, a...)...)
		io.WriteString(stdout, "3")
		return 1
	}
	if len(args) < 1 || len(args) > 3 {
		return fail("usage: %s FILE [RECHECK-INTERVAL [PING-TIMEOUT]]", name)
	}
	file := args[0]
	recheck, ping := 5*time.Second, time.Duration(0)
	if len(args) >= 2 {
		n, err := strconv.ParseUint(args[1], 10, 31)
		if err != nil {
			return fail("RECHECK-INTERVAL %q is not a number of seconds", args[1])
		}
		recheck = time.Duration(n) * time.Second
	}
	if len(args) == 3 {
		n, err := strconv.ParseUint(args[2], 10, 31)
		if err != nil {
			return fail("PING-TIMEOUT %q is not a number of seconds", args[2])
		}
		ping = time.Duration(n) * time.Second
	}

	// Watch for the parent's death before taking the lock, so that no window exists
	// in which an orphaned helper holds it.
	parentGone := WatchParent(stdin)

	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fail("cannot open lock file: %v", err)
	}
	fd := int(f.Fd())
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: 0, Len: 1}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk); err != nil {
		if err == unix.EAGAIN || err == unix.EACCES {
			io.WriteString(stdout, "1")
			return 0
		}
		return fail("cannot lock %s: %v", file, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail("cannot stat %s: %v", file, err)
	}
	if _, err := io.WriteString(stdout, "0"); err != nil {
		return 1
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	var tick <-chan time.Time
	if recheck > 0 {
		t := time.NewTicker(recheck)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-sigs:
			return 0
		case why := <-parentGone:
			fmt.Fprintf(stderr, "%s: %s, releasing the lock on %s\n", name, why, file)
			return 0
		case <-tick:
			if err := checkLockFile(file, &st); err != nil {
				fmt.Fprintf(stderr, "%s: lock lost: %v\n", name, err)
				return 1
			}
			if ping > 0 {
				if err := pingLock(fd, ping); err != nil {
					fmt.Fprintf(stderr, "%s: lock lost: %s: %v\n", name, file, err)
					return 1
				}
			}
		}
	}
}

// checkLockFile verifies that path still names the locked inode. It uses stat, never a
// second open: closing another descriptor of the file would drop the fcntl lock.
func checkLockFile(path string, locked *unix.Stat_t) error {
	var now unix.Stat_t
	if err := unix.Stat(path, &now); err != nil {
		return fmt.Errorf("lock file %s: %v", path, err)
	}
	if now.Dev != locked.Dev || now.Ino != locked.Ino {
		return fmt.Errorf("lock file %s was replaced (inode %d, locked %d)", path, now.Ino, locked.Ino)
	}
	return nil
}

// pingLock takes and drops a blocking lock on byte 1; a cluster file system that does
// not grant it within timeout is considered hung.
func pingLock(fd int, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: 1, Len: 1}
		if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLKW, &lk); err != nil {
			done <- err
			return
		}
		lk.Type = unix.F_UNLCK
		done <- unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("ping lock not granted within %v (hung cluster file system?)", timeout)
	}
}

// WatchParent reports (once) when the parent process dies or stdin, if it is a pipe or
// socket, reaches end-of-file: how a mutex helper learns at once that the daemon it
// holds the lock for is gone. Call it early, while the parent is surely alive.
func WatchParent(stdin *os.File) <-chan string {
	out := make(chan string, 2)
	ppid := os.Getppid()
	if pidfd, err := unix.PidfdOpen(ppid, 0); err == nil {
		go func() {
			fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); err == unix.EINTR {
					continue
				}
				break
			}
			out <- fmt.Sprintf("parent process %d exited", ppid)
		}()
	} else {
		go func() {
			for os.Getppid() == ppid {
				time.Sleep(200 * time.Millisecond)
			}
			out <- fmt.Sprintf("parent process %d exited", ppid)
		}()
	}
	if stdin != nil {
		if fi, err := stdin.Stat(); err == nil && fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0 {
			go func() {
				io.Copy(io.Discard, stdin)
				out <- "stdin closed (the daemon went away)"
			}()
		}
	}
	return out
}
