package netif

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// The janitor removes a daemon's public addresses when the daemon dies without
// releasing them (kill -9, a crash). Without it, a killed CTDB leaves its addresses on
// its interfaces, so after the survivors take them over the dead node's kernel still
// answers for them: the same address served twice. The janitor is a child process that
// the daemon tells, over a pipe, which addresses it is about to hold and which it has
// released; when the pipe reaches end-of-file without a goodbye (the daemon is gone), it
// deletes whatever is still listed, then exits.

// JanitorEnv, set to "1" in a process's environment, makes the daemon binary run as
// the janitor (JanitorMain) instead of the daemon.
const JanitorEnv = "CTDBD_ADDRESS_JANITOR"

// Janitor is the daemon's end of the janitor process. Safe for concurrent use.
type Janitor struct {
	mu  sync.Mutex
	w   io.WriteCloser
	cmd *exec.Cmd
}

// StartJanitor starts the janitor: the running binary again, with JanitorEnv set.
func StartJanitor() (*Janitor, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("netif: janitor: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), JanitorEnv+"=1")
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("netif: janitor: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netif: janitor: %w", err)
	}
	return &Janitor{w: w, cmd: cmd}, nil
}

func (j *Janitor) send(line string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.w == nil {
		return nil
	}
	_, err := io.WriteString(j.w, line+"\n")
	return err
}

// Close tells the janitor that the daemon released everything it had to and waits for
// it to exit.
func (j *Janitor) Close() error {
	j.mu.Lock()
	w := j.w
	j.w = nil
	j.mu.Unlock()
	if w == nil {
		return nil
	}
	io.WriteString(w, "bye\n")
	w.Close()
	return j.cmd.Wait()
}

// Guarded is a NetIf whose added addresses are known to a janitor: an address is
// reported before it is added and forgotten after it is removed, so that nothing the
// daemon holds is ever unknown to the janitor.
type Guarded struct {
	NetIf
	J *Janitor
}

// AddAddress implements NetIf.
func (g Guarded) AddAddress(iface string, p netip.Prefix) error {
	if err := g.J.send("add " + iface + " " + p.String()); err != nil {
		return fmt.Errorf("netif: janitor: %w", err)
	}
	return g.NetIf.AddAddress(iface, p)
}

// DelAddress implements NetIf.
func (g Guarded) DelAddress(iface string, p netip.Prefix) error {
	if err := g.NetIf.DelAddress(iface, p); err != nil {
		return err
	}
	g.J.send("del " + iface + " " + p.String())
	return nil
}

// JanitorMain runs the janitor: it reads "add IFACE PREFIX", "del IFACE PREFIX" and
// "bye" lines from in; at end-of-file without "bye" it removes the addresses still
// listed from their interfaces with nif. It returns the process exit status.
func JanitorMain(in io.Reader, nif NetIf, log io.Writer) int {
	held := map[string]netip.Prefix{} // "iface prefix" -> prefix
	s := bufio.NewScanner(in)
	for s.Scan() {
		f := strings.Fields(s.Text())
		switch {
		case len(f) == 1 && f[0] == "bye":
			return 0
		case len(f) == 3 && (f[0] == "add" || f[0] == "del"):
			p, err := netip.ParsePrefix(f[2])
			if err != nil {
				fmt.Fprintf(log, "ctdbd address janitor: bad line %q\n", s.Text())
				continue
			}
			k := f[1] + " " + f[2]
			if f[0] == "add" {
				held[k] = p
			} else {
				delete(held, k)
			}
		default:
			fmt.Fprintf(log, "ctdbd address janitor: bad line %q\n", s.Text())
		}
	}
	status := 0
	for k, p := range held {
		iface := strings.Fields(k)[0]
		if err := nif.DelAddress(iface, p); err != nil {
			fmt.Fprintf(log, "ctdbd address janitor: %v\n", err)
			status = 1
			continue
		}
		fmt.Fprintf(log, "ctdbd address janitor: the daemon died holding %s on %s: removed\n", p, iface)
	}
	return status
}
