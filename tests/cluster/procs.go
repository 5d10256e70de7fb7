package cluster

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes this process the reaper of orphans below it, so that the
// children a killed ctdbd leaves are reparented here and reaped (reap) instead of
// lingering as zombies under a PID 1 that may not reap.
func becomeSubreaper() {
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// readPPIDs maps every PID in /proc to its parent's PID.
func readPPIDs() map[int]int {
	ppid := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if p, err := strconv.Atoi(f[1]); err == nil {
			ppid[pid] = p
		}
	}
	return ppid
}

// descendants lists every process below pid (not pid itself).
func descendants(pid int, ppid map[int]int) []int {
	children := map[int][]int{}
	for c, p := range ppid {
		children[p] = append(children[p], c)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// freezeTree stops pid and all its descendants with SIGSTOP, repeating until no new
// descendant appears (a stopped process cannot fork), and returns them, pid first.
func freezeTree(pid int) []int {
	syscall.Kill(pid, syscall.SIGSTOP)
	seen := map[int]bool{pid: true}
	all := []int{pid}
	for round := 0; round < 20; round++ {
		added := false
		for _, c := range descendants(pid, readPPIDs()) {
			if !seen[c] {
				seen[c] = true
				all = append(all, c)
				syscall.Kill(c, syscall.SIGSTOP)
				added = true
			}
		}
		if !added {
			break
		}
	}
	return all
}

// reap waits (up to limit) for each of pids to be gone, reaping those that were
// reparented to this process (becomeSubreaper), and returns those still alive.
func reap(pids []int, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	var alive []int
	for _, p := range pids {
		for {
			var ws unix.WaitStatus
			n, err := unix.Wait4(p, &ws, unix.WNOHANG, nil)
			if n == p {
				break
			}
			if errors.Is(err, unix.ECHILD) {
				// Not (yet) our child: gone already, or still being reparented.
				if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err != nil {
					break
				}
			}
			if time.Now().After(deadline) {
				alive = append(alive, p)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return alive
}
