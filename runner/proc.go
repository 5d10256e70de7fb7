package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procSpec describes one child process: a script, a notification script or
// the debug script.
type procSpec struct {
	path        string
	argv        []string // argv[0] included
	env         []string
	dir         string
	outputLimit int           // bytes of output kept; the rest is counted and dropped
	grace       time.Duration // between SIGTERM and SIGKILL of the group
	drain       time.Duration // how long to keep reading output after the script exited
	// onHung is called with the script's PID when ctx's deadline expires
	// while the script runs, before the group is killed (the debug script).
	onHung func(pid int)
}

// procResult is what happened to the child.
type procResult struct {
	pid      int
	startErr error // could not start: exec failed (wraps a syscall.Errno)
	exitCode int
	signal   syscall.Signal // non-zero if it died of a signal
	ended    error          // ctx.Err() if ctx ended while it ran (it was killed)
	// abandoned: the script did not die of SIGKILL within the grace period
	// (uninterruptible sleep); it is reaped in the background.
	abandoned bool
	output    []byte
	dropped   int64
}

// truncMarker is appended to output that went past the bound.
const truncMarker = "\n[ctdb: output truncated, %d bytes dropped]\n"

// runProc starts the child in its own process group with stdin on
// /dev/null and stdout and stderr on one pipe, and waits for it to exit or
// for ctx to end. When ctx ends first, onHung runs (deadline only), then the
// whole group gets SIGTERM and, after the grace period or once the script
// itself has exited, SIGKILL, so no process of the group survives.
//
// The script's own exit is detected without reaping it (waitid WNOWAIT), so
// its PID, which is also the group ID, cannot be reused by another process
// while the group is being signalled. A background child that keeps the
// output pipe open does not hold up the return: after the script exits,
// output is read for at most drain longer.
func runProc(ctx context.Context, spec procSpec) procResult {
	var res procResult
	pr, pw, err := os.Pipe()
	if err != nil {
		res.startErr = err
		return res
	}
	cmd := &exec.Cmd{
		Path:        spec.path,
		Args:        spec.argv,
		Env:         spec.env,
		Dir:         spec.dir,
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		res.startErr = err
		return res
	}
	pw.Close()
	res.pid = cmd.Process.Pid

	outc := make(chan capture, 1)
	go readCapped(pr, spec.outputLimit, outc)

	exited := make(chan struct{})
	go func() {
		waitNoReap(res.pid)
		close(exited)
	}()

	select {
	case <-exited:
	case <-ctx.Done():
		res.ended = ctx.Err()
		if errors.Is(res.ended, context.DeadlineExceeded) && spec.onHung != nil {
			spec.onHung(res.pid)
		}
		_ = syscall.Kill(-res.pid, syscall.SIGTERM)
		t := time.NewTimer(spec.grace)
		select {
		case <-exited:
		case <-t.C:
		}
		t.Stop()
		_ = syscall.Kill(-res.pid, syscall.SIGKILL)
		t = time.NewTimer(spec.grace)
		select {
		case <-exited:
			t.Stop()
		case <-t.C:
			// Still there after SIGKILL: stuck in the kernel (a hung
			// cluster file system, say). Do not hang the event with it;
			// reap it whenever it goes.
			res.abandoned = true
			go func() {
				<-exited
				_ = cmd.Wait()
			}()
			_ = pr.SetReadDeadline(time.Now())
			c := <-outc
			pr.Close()
			res.output, res.dropped = c.data, c.dropped
			return res
		}
	}
	err = cmd.Wait() // reaps; the group ID is free for reuse from here on
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		res.startErr = err
	}
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.signal = ws.Signal()
			res.exitCode = -1
		} else {
			res.exitCode = ps.ExitCode()
		}
	}

	// Output written before the exit is in the pipe already; a background
	// child may hold the write end open for ever, so bound the wait.
	_ = pr.SetReadDeadline(time.Now().Add(spec.drain))
	c := <-outc
	pr.Close()
	res.output, res.dropped = c.data, c.dropped
	return res
}

// waitNoReap blocks until pid has exited, leaving it a zombie.
func waitNoReap(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

type capture struct {
	data    []byte
	dropped int64
}

// readCapped reads r to the end (or a read error or deadline) keeping at
// most limit bytes.
func readCapped(r io.Reader, limit int, out chan<- capture) {
	var c capture
	buf := make([]byte, 16*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			keep := n
			if room := limit - len(c.data); keep > room {
				keep = max(room, 0)
			}
			c.data = append(c.data, buf[:keep]...)
			c.dropped += int64(n - keep)
		}
		if err != nil {
			break
		}
	}
	out <- c
}
