package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ping_pong-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ping_pong")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building ping_pong: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestUsageAndArguments(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		code    int
		stdout  string
		stderr  string
		comment string
	}{
		{nil, 1, usage, "", "no arguments"},
		{[]string{"-l"}, 1, usage, "", "-l without file"},
		{[]string{"file"}, 1, usage, "", "no lock count"},
		{[]string{"-h"}, 1, usage, "ping_pong: invalid option -- 'h'\n", "unknown option"},
		{[]string{filepath.Join(t.TempDir(), "f"), "0"}, 1, "num_locks should be > 0\n", "", "zero locks"},
		{[]string{filepath.Join(t.TempDir(), "f"), "abc"}, 1, "num_locks should be > 0\n", "", "not a number"},
		{[]string{"/nonexistent-dir/f", "3"}, 1, "", "ping_pong: open /nonexistent-dir/f: no such file or directory\n", "unopenable file"},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, strings.NewReader(""), &out, &errb)
		if code != tc.code || out.String() != tc.stdout || errb.String() != tc.stderr {
			t.Errorf("%s: exit %d stdout %q stderr %q", tc.comment, code, out.String(), errb.String())
		}
	}
}

// proc is a running ping_pong whose output is scanned for lines.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	stdin io.WriteCloser
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000), stdin: stdin}
	go func() {
		s := bufio.NewScanner(out)
		s.Split(scanLinesOrCR)
		for s.Scan() {
			select {
			case p.lines <- s.Text():
			default:
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return p
}

func scanLinesOrCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// waitLine waits for a line containing want; the limit only guards against a hang.
func (p *proc) waitLine(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("ping_pong exited before printing %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q from ping_pong", want)
		}
	}
}

// TestDataCoherence: two processes incrementing under the ring of locks each see the
// other's increments ("data increment = 2"), with pread/pwrite and with mmap, and the
// rate line has CTDB's format.
func TestDataCoherence(t *testing.T) {
	for _, mode := range []string{"-rw", "-rwm", "-rwc"} {
		t.Run(mode, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "pp.dat")
			a := start(t, binary, mode, file, "3")
			b := start(t, binary, mode, file, "3")
			a.waitLine(t, "data increment = 2")
			b.waitLine(t, "data increment = 2")
			rate := a.waitLine(t, "locks/sec")
			var n uint64
			_, err := fmt.Sscanf(rate, "%d locks/sec", &n)
			if err != nil || n == 0 || (n < 1e8 && len(rate) != 8+len(" locks/sec")) {
				t.Errorf("rate line %q", rate)
			}
		})
	}
}

// TestInteropWithCTDBPingPong: ours and CTDB's ping_pong take the same locks and see
// each other's writes.
func TestInteropWithCTDBPingPong(t *testing.T) {
	real, err := exec.LookPath("ping_pong")
	if err != nil || !strings.HasPrefix(real, "/usr/") {
		t.Skip("CTDB's ping_pong is not installed (Debian package ctdb)")
	}
	file := filepath.Join(t.TempDir(), "pp.dat")
	a := start(t, binary, "-rw", file, "3")
	b := start(t, real, "-rw", file, "3")
	a.waitLine(t, "data increment = 2")
	b.waitLine(t, "data increment = 2")
}

// TestLockTest: -l holds a whole-file lock until a key; a second -l finds it held and
// names the holder's PID.
func TestLockTest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pl.dat")
	a := start(t, binary, "-l", file)
	a.waitLine(t, "Holding lock, press any key to continue...")
	a.waitLine(t, "You should run the same command on another node now.")
	var out bytes.Buffer
	cmd := exec.Command(binary, "-l", file)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("File already locked, calling check_lock to tell us who has it locked:\n"+
		"check_lock failed: lock held: pid='%d', type='1', start='0', len='0'\nWorking POSIX byte range locks\n", a.cmd.Process.Pid)
	if out.String() != want {
		t.Errorf("second -l printed\n%s\nwant\n%s", out.String(), want)
	}
	a.stdin.Write([]byte("\n"))
	a.waitLine(t, "Good bye.")
}
