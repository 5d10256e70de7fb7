// Package cli is the frame of the ctdb command: the global options of the
// real tool, parsed the way popt parses them, and a table of commands keyed
// by name. Subsystems add their commands with Register; the binary in
// ctdbd/cmd/ctdb is a one-line main around Main.
package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options are the global options of ctdb (reference 8.1).
type Options struct {
	Node       int    // -n/--node PNN; -1 = not given (the local node)
	NodeSet    bool   // -n was given
	AllNodes   bool   // -n all (a ctdb-go extension: CTDB 4.17 rejects it)
	Machine    bool   // -Y or -X: machine-readable output
	Separator  string // -x/--separator, default "|"
	JSON       bool   // -j/--json
	TimeLimit  int    // -t/--timelimit seconds per control, default 10
	MaxRuntime int    // -T/--maxruntime seconds, default 120 or $CTDB_TIMEOUT
	Debug      string // -d/--debug level
	Verbose    bool   // -v/--verbose

	PrintEmptyRecords, PrintDataSize, PrintLMaster, PrintHash, PrintRecordFlags bool
}

// Context is what a command runs with. It is not shared between
// invocations.
type Context struct {
	Stdout, Stderr io.Writer
	Options        Options
	// Getenv reads the environment (os.Getenv unless a test replaces it).
	Getenv func(string) string
	// Command is the command name as typed.
	Command string
}

// Command is one entry of the command table.
type Command struct {
	Name    string
	Args    string // synopsis shown in the usage, e.g. "[<event>]"
	Help    string
	MinArgs int
	MaxArgs int // -1: no limit
	// Remote commands accept -n PNN; others fail with "Cannot specify node
	// for command NAME" when -n is given.
	Remote bool
	Run    func(c *Context, args []string) int
}

var (
	tableMu sync.Mutex
	table   = map[string]Command{}
	order   []string
)

// Register adds commands to the table; a name registered twice panics at
// start-up (a programming error).
func Register(cmds ...Command) {
	tableMu.Lock()
	defer tableMu.Unlock()
	for _, c := range cmds {
		if _, dup := table[c.Name]; dup {
			panic("cli: command registered twice: " + c.Name)
		}
		table[c.Name] = c
		order = append(order, c.Name)
	}
}

// Lookup returns the command called name.
func Lookup(name string) (Command, bool) {
	tableMu.Lock()
	defer tableMu.Unlock()
	c, ok := table[name]
	return c, ok
}

const optionsHelp = `Usage: [OPTION...]
  -d, --debug=STRING       debug level
  -t, --timelimit=INT      timelimit (in seconds)
  -n, --node=INT           node specification - integer
  -Y                       enable machine readable output
  -x, --separator=CHAR     specify separator for machine readable output
  -X                       enable machine parsable output with separator |
  -v, --verbose            enable verbose output
  -T, --maxruntime=INT     die if runtime exceeds this limit (in seconds)

Help options:
  -?, --help               Show this help message
      --usage              Display brief usage message
`

// Usage writes the full usage: options, then every registered command.
func Usage(w io.Writer) {
	fmt.Fprint(w, optionsHelp)
	fmt.Fprint(w, "\nCommands:\n")
	tableMu.Lock()
	names := append([]string(nil), order...)
	tableMu.Unlock()
	for _, n := range names {
		c, _ := Lookup(n)
		fmt.Fprintf(w, "  %-15s %-27s  %s\n", c.Name, c.Args, c.Help)
	}
}

// CommandUsage writes the usage of one command, as the real tool does when
// its arguments are wrong.
func CommandUsage(w io.Writer, c Command) {
	fmt.Fprint(w, "Usage: [-?YXv] [-?|--help] [--usage] [-d|--debug=STRING]\n"+
		"        [-t|--timelimit=INT] [-n|--node=INT] [-Y] [-x|--separator=CHAR]\n"+
		"        [-X] [-v|--verbose] [-T|--maxruntime=INT]\n\nCommands:\n")
	fmt.Fprintf(w, "  %-15s %-27s  %s\n", c.Name, c.Args, c.Help)
}

type optDef struct {
	short    byte
	long     string
	hasArg   bool
	numeric  bool
	apply    func(o *Options, v string) error
	internal bool
}

var optDefs = []optDef{
	{short: 'n', long: "node", hasArg: true, numeric: true, apply: func(o *Options, v string) error {
		if v == "all" {
			o.AllNodes, o.NodeSet = true, true
			return nil
		}
		n, err := strconv.Atoi(v)
		o.Node, o.NodeSet = n, true
		return err
	}},
	{short: 'Y', apply: func(o *Options, _ string) error { o.Machine = true; return nil }},
	{short: 'X', apply: func(o *Options, _ string) error { o.Machine = true; o.Separator = "|"; return nil }},
	{short: 'x', long: "separator", hasArg: true, apply: func(o *Options, v string) error {
		if len(v) != 1 {
			return fmt.Errorf("invalid separator")
		}
		o.Separator = v
		return nil
	}},
	{short: 'j', long: "json", apply: func(o *Options, _ string) error { o.JSON = true; return nil }},
	{short: 't', long: "timelimit", hasArg: true, numeric: true, apply: func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		o.TimeLimit = n
		return err
	}},
	{short: 'T', long: "maxruntime", hasArg: true, numeric: true, apply: func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		o.MaxRuntime = n
		return err
	}},
	{short: 'd', long: "debug", hasArg: true, apply: func(o *Options, v string) error { o.Debug = v; return nil }},
	{short: 'v', long: "verbose", apply: func(o *Options, _ string) error { o.Verbose = true; return nil }},
	{long: "print-emptyrecords", apply: func(o *Options, _ string) error { o.PrintEmptyRecords = true; return nil }},
	{long: "print-datasize", apply: func(o *Options, _ string) error { o.PrintDataSize = true; return nil }},
	{long: "print-lmaster", apply: func(o *Options, _ string) error { o.PrintLMaster = true; return nil }},
	{long: "print-hash", apply: func(o *Options, _ string) error { o.PrintHash = true; return nil }},
	{long: "print-recordflags", apply: func(o *Options, _ string) error { o.PrintRecordFlags = true; return nil }},
}

// errHelp and errUsage are returned by ParseArgs for --help and --usage.
type helpRequest struct{ brief bool }

func (helpRequest) Error() string { return "help requested" }

// ParseArgs separates global options from the command words. Like popt,
// options may stand anywhere; "--" ends them. Short options combine (-Xv),
// and take their value attached (-n1) or as the next word; long options
// take --name=value or --name value.
func ParseArgs(args []string, getenv func(string) string) (Options, []string, error) {
	o := Options{Node: -1, Separator: "|", TimeLimit: 10, MaxRuntime: 120}
	if v := getenv("CTDB_TIMEOUT"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			o.MaxRuntime = n
		}
	}
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			words = append(words, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			words = append(words, a)
			continue
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			if name == "help" {
				return o, nil, helpRequest{}
			}
			if name == "usage" {
				return o, nil, helpRequest{brief: true}
			}
			d := findOpt(0, name)
			if d == nil {
				return o, nil, fmt.Errorf("Invalid option %s: unknown option", a)
			}
			if d.hasArg && !hasVal {
				if i+1 >= len(args) {
					return o, nil, fmt.Errorf("Invalid option %s: missing argument", a)
				}
				i++
				val = args[i]
			}
			if err := applyOpt(&o, d, val); err != nil {
				return o, nil, err
			}
			continue
		}
		for j := 1; j < len(a); j++ {
			if a[j] == '?' {
				return o, nil, helpRequest{}
			}
			d := findOpt(a[j], "")
			if d == nil {
				return o, nil, fmt.Errorf("Invalid option %s: unknown option", a)
			}
			if !d.hasArg {
				if err := applyOpt(&o, d, ""); err != nil {
					return o, nil, err
				}
				continue
			}
			val := a[j+1:]
			if val == "" {
				if i+1 >= len(args) {
					return o, nil, fmt.Errorf("Invalid option %s: missing argument", a)
				}
				i++
				val = args[i]
			}
			if err := applyOpt(&o, d, val); err != nil {
				return o, nil, err
			}
			break
		}
	}
	return o, words, nil
}

func findOpt(short byte, long string) *optDef {
	for i := range optDefs {
		d := &optDefs[i]
		if short != 0 && d.short == short || long != "" && d.long == long {
			return d
		}
	}
	return nil
}

func applyOpt(o *Options, d *optDef, val string) error {
	if err := d.apply(o, val); err != nil {
		if d.numeric {
			return fmt.Errorf("Invalid option %s: invalid numeric value", val)
		}
		return fmt.Errorf("Invalid option %s: %v", val, err)
	}
	return nil
}

// Main runs the ctdb command line args (without the program name) and
// returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	return MainEnv(args, stdout, stderr, os.Getenv)
}

// MainEnv is Main with the environment lookup given (for tests).
func MainEnv(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	opts, words, err := ParseArgs(args, getenv)
	var help helpRequest
	switch {
	case err == nil:
	case asHelp(err, &help):
		if help.brief {
			fmt.Fprint(stdout, "Usage: [-?YXv] [-?|--help] [--usage] [-d|--debug=STRING]\n"+
				"        [-t|--timelimit=INT] [-n|--node=INT] [-Y] [-x|--separator=CHAR]\n"+
				"        [-X] [-v|--verbose] [-T|--maxruntime=INT]\n")
		} else {
			fmt.Fprint(stdout, optionsHelp)
		}
		return 0
	default:
		fmt.Fprintln(stderr, err)
		return 1
	}
	if len(words) == 0 {
		Usage(stdout)
		return 1
	}
	cmd, ok := Lookup(words[0])
	if !ok {
		fmt.Fprintf(stderr, "Unknown command '%s'\n", words[0])
		return 1
	}
	if opts.NodeSet && !cmd.Remote {
		fmt.Fprintf(stderr, "Cannot specify node for command %s\n", cmd.Name)
		return 1
	}
	rest := words[1:]
	if len(rest) < cmd.MinArgs || cmd.MaxArgs >= 0 && len(rest) > cmd.MaxArgs {
		CommandUsage(stdout, cmd)
		return 1
	}
	if opts.AllNodes {
		return runOnAll(cmd, opts, rest, stdout, stderr, getenv)
	}
	c := &Context{Stdout: stdout, Stderr: stderr, Options: opts, Getenv: getenv, Command: cmd.Name}
	if opts.MaxRuntime > 0 {
		t := time.AfterFunc(time.Duration(opts.MaxRuntime)*time.Second, func() {
			fmt.Fprintf(stderr, "Maximum runtime exceeded - exiting\n")
			os.Exit(1)
		})
		defer t.Stop()
	}
	return cmd.Run(c, rest)
}

// ConnectedNodes lists the PNNs `-n all` runs a command on: the nodes the local daemon
// reports connected, in PNN order. The admin commands set it (they hold the client).
var ConnectedNodes func(getenv func(string) string) ([]int, error)

// runOnAll runs cmd once per connected node (`-n all`), one after another; the exit
// status is the first non-zero one. CTDB 4.17 rejects `-n all`; earlier versions had it.
func runOnAll(cmd Command, opts Options, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if ConnectedNodes == nil {
		fmt.Fprintln(stderr, "-n all is not available")
		return 1
	}
	nodes, err := ConnectedNodes(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	status := 0
	for _, pnn := range nodes {
		o := opts
		o.Node, o.AllNodes = pnn, false
		c := &Context{Stdout: stdout, Stderr: stderr, Options: o, Getenv: getenv, Command: cmd.Name}
		if rc := cmd.Run(c, args); rc != 0 && status == 0 {
			status = rc
		}
	}
	return status
}

func asHelp(err error, h *helpRequest) bool {
	hr, ok := err.(helpRequest)
	if ok {
		*h = hr
	}
	return ok
}

// Names returns the registered command names, sorted (for tests).
func Names() []string {
	tableMu.Lock()
	defer tableMu.Unlock()
	n := append([]string(nil), order...)
	sort.Strings(n)
	return n
}
