// Package onnode is the logic of the onnode command: run a command on some nodes of a
// CTDB cluster through ssh (or any command given in $ONNODE_SSH), as admins know it from
// CTDB:
//
//	onnode [-c] [-f NODESFILE] [-i] [-n] [-p] [-P] [-q] [-v] NODES COMMAND...
//
// NODES is a comma-separated list of: all; any (one node where ctdbd runs, the lowest
// PNN that answers `ctdb pnn`); ok or healthy (nodes with no flag set); con or connected
// (nodes not DISCONNECTED); a node number (PNN, 0-based, the line of the nodes file);
// a range of numbers (2-4); a host name (with -n). Order and repetition are kept.
//
// The behaviour, output and exit status match CTDB's onnode shell script: headers
// ">> NODE: ADDR <<" on standard error before each node when there are several nodes
// (or -v, never with -q); with -p the nodes run in parallel and, with headers on, every
// line is prefixed "[ADDR] "; the exit status is the last non-zero exit status of the
// ssh commands, 1 for a bad command line or node list. The ssh command is $ONNODE_SSH
// (split on blanks; default "ssh"), which $CTDB_BASE/onnode.conf may set (it is a shell
// fragment, read by sh as the script does); it is called as `SSH [-n] ADDR COMMAND`,
// with -n unless -i is given without -p, so it must accept -n.
//
// Node states for ok and con come from the local daemon (GET_NODEMAP over
// $CTDB_SOCKET), not from parsing `ctdb status` as the script does, so they do not wait
// for a leader broadcast.
package onnode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options are the parsed command-line options.
type Options struct {
	CurrentDir bool   // -c: cd to the current directory on the nodes first
	NodesFile  string // -f: nodes file (relative: also looked up in $CTDB_BASE)
	Stdin      bool   // -i: keep standard input open (no ssh -n)
	Names      bool   // -n: allow host names in NODES
	Parallel   bool   // -p: run on all nodes at once
	Push       bool   // -P: push the named files with rsync instead of running a command
	Quiet      bool   // -q: no headers (overrides -v)
	Verbose    bool   // -v: headers even for one node
	Nodes      string // the NODES argument
	Command    []string
}

// UsageError is a command line onnode cannot run; Run prints the usage after it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usage is the help text, printed on standard error for a bad command line.
const Usage = `Usage: onnode [OPTION] ... <NODES> <COMMAND> ...
  options:
    -c          Run in current working directory on specified nodes.
    -f          Specify nodes file, overriding default.
    -i          Keep standard input open - the default is to close it.
    -n          Allow nodes to be specified by name.
    -p          Run command in parallel on specified nodes.
    -P          Push given files to nodes instead of running commands.
    -q          Do not print node addresses (overrides -v).
    -v          Print node address even for a single node.
  <NODES>       "all", "any", "ok" (or "healthy"), "con" (or "connected") ; or
                a node number (0 base); or
                a hostname (if -n is specified); or
                list (comma separated) of <NODES>; or
                range (hyphen separated) of node numbers.
`

// Parse parses onnode's arguments (without the program name) as getopts does: options
// may be grouped (-pq), -f takes the next word or the rest of its own, option parsing
// stops at the first non-option or "--".
func Parse(args []string) (*Options, error) {
	o := &Options{}
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
		for j := 1; j < len(a); j++ {
			switch a[j] {
			case 'c':
				o.CurrentDir = true
			case 'i':
				o.Stdin = true
			case 'n':
				o.Names = true
			case 'p':
				o.Parallel = true
			case 'P':
				o.Push = true
			case 'q':
				o.Quiet = true
			case 'v':
				o.Verbose = true
			case 'f':
				if j+1 < len(a) {
					o.NodesFile = a[j+1:]
				} else if i+1 < len(args) {
					i++
					o.NodesFile = args[i]
				} else {
					return nil, &UsageError{"option -f needs a nodes file"}
				}
				j = len(a)
			case 'h':
				return nil, &UsageError{}
			default:
				return nil, &UsageError{fmt.Sprintf("unknown option -%c", a[j])}
			}
		}
	}
	rest := args[i:]
	if len(rest) < 2 {
		return nil, &UsageError{"NODES and COMMAND are required"}
	}
	o.Nodes, o.Command = rest[0], rest[1:]
	return o, nil
}

// ReadNodes reads a nodes file: one address per line, "#" starts a comment, blanks are
// dropped; an empty line is a deleted node, kept as "" so that line numbers stay PNNs.
func ReadNodes(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if k := strings.IndexByte(l, '#'); k >= 0 {
			l = l[:k]
		}
		nodes = append(nodes, strings.ReplaceAll(l, " ", ""))
	}
	return nodes, nil
}

// NodeState is one node as the local daemon sees it.
type NodeState struct {
	PNN   uint32
	Flags uint32 // CTDB node flags; 0 is OK
}

// Node flag bits used for selection.
const (
	flagDisconnected = 0x01
	flagDeleted      = 0x10
)

// Env is what Run needs from the outside world; zero fields take the process's own.
type Env struct {
	// Environ is the environment (CTDB_BASE, ONNODE_SSH, CTDB_SOCKET, and that of the
	// commands run); nil is the process's own.
	Environ []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Dir     string // current directory (for -c and -P)
	// Status returns the node states (for ok and con); nil asks the daemon at
	// $CTDB_SOCKET (DaemonStatus).
	Status func(ctx context.Context) ([]NodeState, error)
}

func (e *Env) fill() {
	if e.Environ == nil {
		e.Environ = os.Environ()
	}
	if e.Stdin == nil {
		e.Stdin = os.Stdin
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Dir == "" {
		e.Dir, _ = os.Getwd()
	}
	if e.Status == nil {
		sock := e.getenv("CTDB_SOCKET")
		e.Status = func(ctx context.Context) ([]NodeState, error) { return DaemonStatus(ctx, sock) }
	}
}

// getenv looks name up in Environ (the last setting wins, as in exec).
func (e *Env) getenv(name string) string {
	v := ""
	for _, kv := range e.Environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// exitError ends Run with a status after printing its message (if any).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Run is the onnode command: it parses args (without the program name), selects the
// nodes and runs the command on them; it returns the exit status. ctx cancelled (e.g.
// on SIGINT or SIGTERM) terminates the running ssh commands.
func Run(ctx context.Context, args []string, env Env) int {
	env.fill()
	o, err := Parse(args)
	if err != nil {
		fmt.Fprint(env.Stderr, Usage)
		return 1
	}
	r := &runner{o: o, env: env}
	code, err := r.run(ctx)
	if err != nil {
		var ee *exitError
		var ue *UsageError
		switch {
		case errors.As(err, &ue):
			fmt.Fprintf(env.Stderr, "Invalid <nodespec>\n\n%s", Usage)
		case errors.As(err, &ee):
			if ee.msg != "" {
				fmt.Fprintln(env.Stderr, ee.msg)
			}
			return ee.code
		default:
			fmt.Fprintf(env.Stderr, "onnode: %v\n", err)
		}
		return 1
	}
	return code
}

type runner struct {
	o   *Options
	env Env
	ssh []string
}

func (r *runner) base() string {
	if b := r.env.getenv("CTDB_BASE"); b != "" {
		return b
	}
	return "/etc/ctdb"
}

func (r *runner) run(ctx context.Context) (int, error) {
	o := r.o
	command := strings.Join(o.Command, " ")
	sshVar := r.env.getenv("ONNODE_SSH")
	// The script reads onnode.conf only to run commands; "any" still needs an ssh.
	v := sshVar
	if !o.Push {
		if o.CurrentDir {
			command = "cd " + r.env.Dir + " && " + command
		}
		var err error
		if v, err = r.confSSH(ctx, sshVar); err != nil {
			return 0, err
		}
	}
	if v == "" {
		v = "ssh"
	}
	r.ssh = strings.Fields(v)
	if o.Parallel || !o.Stdin {
		r.ssh = append(r.ssh, "-n")
	}
	hosts, err := r.selectNodes(ctx)
	if err != nil {
		return 0, err
	}
	verbose := o.Verbose
	if o.Quiet {
		verbose = false
	} else if len(hosts) > 1 {
		verbose = true
	}
	if o.Push {
		return r.push(ctx, hosts, verbose, sshVar), nil
	}
	if o.Parallel {
		return r.parallel(ctx, hosts, command, verbose), nil
	}
	code := 0
	for _, h := range hosts {
		if verbose {
			fmt.Fprintf(r.env.Stderr, "\n>> NODE: %s <<\n", h)
		}
		cmd := r.sshCmd(ctx, h, command)
		cmd.Stdout, cmd.Stderr = r.env.Stdout, r.env.Stderr
		if o.Stdin {
			cmd.Stdin = r.env.Stdin
		}
		if c := exitCode(cmd.Run(), r.env.Stderr); c != 0 {
			code = c
		}
	}
	return code, nil
}

// confSSH reads ONNODE_SSH as $CTDB_BASE/onnode.conf leaves it: the file is a shell
// fragment, so sh sources it with ONNODE_SSH preset from the environment.
func (r *runner) confSSH(ctx context.Context, cur string) (string, error) {
	conf := filepath.Join(r.base(), "onnode.conf")
	if f, err := os.Open(conf); err != nil {
		return cur, nil
	} else {
		f.Close()
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", `. "$1" && printf %s "$ONNODE_SSH"`, "sh", conf)
	cmd.Env = append(append([]string{}, r.env.Environ...), "ONNODE_SSH="+cur)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", &exitError{1, fmt.Sprintf("onnode: reading %s failed (%v): %s", conf, err, strings.TrimSpace(errb.String()))}
	}
	return string(out), nil
}

func (r *runner) sshCmd(ctx context.Context, host, command string) *exec.Cmd {
	argv := append(append([]string{}, r.ssh...), host, command)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = r.env.Dir
	cmd.Env = r.env.Environ
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// exitCode is the exit status of a finished command; a command that could not start
// reports 127 as the shell does, with the reason on stderr.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() >= 0 {
			return ee.ExitCode()
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return 1
	}
	fmt.Fprintf(stderr, "onnode: %v\n", err)
	return 127
}

// parallel runs the command on all hosts at once; with headers, every line of a host's
// output (stdout and stderr together) goes to stdout prefixed with "[HOST] ".
func (r *runner) parallel(ctx context.Context, hosts []string, command string, verbose bool) int {
	codes := make([]int, len(hosts))
	var mu sync.Mutex // serialises writes of whole lines
	// Files are shared by the commands as they are; other writers get one write at a
	// time.
	stdout, stderr := r.env.Stdout, r.env.Stderr
	if _, ok := stdout.(*os.File); !ok {
		stdout = &lockedWriter{mu: &mu, w: stdout}
	}
	if _, ok := stderr.(*os.File); !ok {
		stderr = &lockedWriter{mu: &mu, w: stderr}
	}
	var wg sync.WaitGroup
	for k, h := range hosts {
		cmd := r.sshCmd(ctx, h, command)
		var pw *io.PipeWriter
		var done chan struct{}
		if verbose {
			var pr *io.PipeReader
			pr, pw = io.Pipe()
			cmd.Stdout, cmd.Stderr = pw, pw
			done = make(chan struct{})
			go func() {
				defer close(done)
				sc := bufio.NewScanner(pr)
				sc.Buffer(make([]byte, 64*1024), 16<<20)
				for sc.Scan() {
					mu.Lock()
					fmt.Fprintf(r.env.Stdout, "[%s] %s\n", h, sc.Text())
					mu.Unlock()
				}
				io.Copy(io.Discard, pr)
			}()
		} else {
			cmd.Stdout, cmd.Stderr = stdout, stderr
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[k] = exitCode(cmd.Run(), stderr)
			if pw != nil {
				pw.Close()
				<-done
			}
		}()
	}
	wg.Wait()
	code := 0
	for _, c := range codes {
		if c != 0 {
			code = c
		}
	}
	return code
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// push copies each named file to the same path on every host with rsync (relative
// names are taken from the current directory), with $ONNODE_SSH as rsync's remote shell.
func (r *runner) push(ctx context.Context, hosts []string, verbose bool, rsh string) int {
	code := 0
	for _, h := range hosts {
		if verbose {
			fmt.Fprintf(r.env.Stderr, "\n>> NODE: %s <<\n", h)
		}
		for _, f := range strings.Fields(strings.Join(r.o.Command, " ")) {
			if verbose {
				fmt.Fprintf(r.env.Stdout, "Pushing %s\n", f)
			}
			src := f
			if !strings.HasPrefix(f, "/") {
				src = filepath.Join(r.env.Dir, f)
			}
			cmd := exec.CommandContext(ctx, "rsync", src, "["+h+"]:"+src)
			cmd.Dir = r.env.Dir
			cmd.Env = r.env.Environ
			if rsh != "" {
				cmd.Env = append(append([]string{}, r.env.Environ...), "RSYNC_RSH="+rsh)
			}
			cmd.Stdout, cmd.Stderr = r.env.Stdout, r.env.Stderr
			if c := exitCode(cmd.Run(), r.env.Stderr); c != 0 {
				code = c
			}
		}
	}
	return code
}

var (
	numRE = regexp.MustCompile(`^[0-9]{1,3}$`)
	pnnRE = regexp.MustCompile(`^[0-9]+$`)
)

// selectNodes turns the NODES argument into the list of addresses to run on.
func (r *runner) selectNodes(ctx context.Context) ([]string, error) {
	f := filepath.Join(r.base(), "nodes")
	if r.o.NodesFile != "" {
		f = r.o.NodesFile
		if _, err := os.Stat(f); err != nil && !strings.HasPrefix(f, "/") {
			f = filepath.Join(r.base(), f)
		}
	}
	all, err := ReadNodes(f)
	if err != nil {
		return nil, &exitError{1, fmt.Sprintf("onnode: unable to open nodes file  \"%s\"", f)}
	}
	items, err := expand(r.o.Nodes, r.o.Names)
	if err != nil {
		return nil, err
	}
	var states []NodeState
	var out []string
	for _, it := range items {
		switch it {
		case "all":
			for _, n := range all {
				if n != "" {
					out = append(out, n)
				}
			}
		case "any":
			h, ok := r.anyNode(ctx, all)
			if !ok {
				return nil, &exitError{code: 1}
			}
			out = append(out, h)
		case "ok", "healthy", "con", "connected":
			if states == nil {
				if states, err = r.env.Status(ctx); err != nil {
					return nil, &exitError{1, fmt.Sprintf("onnode: unable to get status of CTDB nodes\n%v", err)}
				}
			}
			for _, s := range states {
				if s.Flags&flagDeleted != 0 {
					continue
				}
				healthy := it == "ok" || it == "healthy"
				if healthy && s.Flags != 0 || !healthy && s.Flags&flagDisconnected != 0 {
					continue
				}
				h, err := nth(all, int(s.PNN))
				if err != nil {
					return nil, err
				}
				out = append(out, h)
			}
		default:
			if numRE.MatchString(it) {
				n, _ := strconv.Atoi(it)
				h, err := nth(all, n)
				if err != nil {
					return nil, err
				}
				out = append(out, h)
			} else if r.o.Names {
				out = append(out, it)
			} else {
				return nil, &UsageError{}
			}
		}
	}
	return out, nil
}

func nth(all []string, n int) (string, error) {
	if n < len(all) && all[n] != "" {
		return all[n], nil
	}
	return "", &exitError{1, fmt.Sprintf("onnode: \"node %d\" does not exist", n)}
}

// expand splits a NODES argument on commas and expands ranges A-B into A..B (nothing
// when A > B, as seq does).
func expand(spec string, names bool) ([]string, error) {
	var out []string
	for _, it := range strings.Split(spec, ",") {
		if it == "" {
			continue
		}
		if strings.Contains(it, "-") {
			// As seq "${i%-*}" "${i#*-}": before the last dash, after the first.
			a, b := it[:strings.LastIndexByte(it, '-')], it[strings.IndexByte(it, '-')+1:]
			lo, err1 := strconv.Atoi(a)
			hi, err2 := strconv.Atoi(b)
			if err1 != nil || err2 != nil {
				return nil, &UsageError{}
			}
			for n := lo; n <= hi; n++ {
				out = append(out, strconv.Itoa(n))
			}
			continue
		}
		switch it {
		case "all", "any", "ok", "healthy", "con", "connected":
		default:
			if n, err := strconv.Atoi(it); (err != nil || n < 0) && !names {
				return nil, &UsageError{}
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// anyNode asks every node, in parallel, for `ctdb pnn` (through ssh, as the script
// does) and picks the lowest PNN that answered.
func (r *runner) anyNode(ctx context.Context, all []string) (string, bool) {
	var hosts []string
	for _, n := range all {
		if n != "" {
			hosts = append(hosts, n)
		}
	}
	pnns := make([]int, len(hosts))
	var wg sync.WaitGroup
	for k, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pnns[k] = -1
			ssh := r.ssh
			if !contains(ssh, "-n") {
				ssh = append(append([]string{}, ssh...), "-n")
			}
			argv := append(append([]string{}, ssh...), h, "ctdb pnn")
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = r.env.Environ
			out, _ := cmd.Output()
			for _, l := range strings.Split(string(out), "\n") {
				if l = strings.TrimSpace(l); pnnRE.MatchString(l) {
					pnns[k], _ = strconv.Atoi(l)
					return
				}
			}
		}()
	}
	wg.Wait()
	var ok []int
	for _, p := range pnns {
		if p >= 0 {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return "", false
	}
	sort.Ints(ok)
	h, err := nth(all, ok[0])
	return h, err == nil
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
