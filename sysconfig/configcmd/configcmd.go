// Package configcmd implements the ctdb-config command, so that tests run it in-process
// (testscript) and the binary stays a one-line main.
package configcmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ctdb-go/ctdb/sysconfig"
)

const usage = `Usage: ctdb-config [<options>] <command> [<args>]

Options:
  --sysconfig=FILE                               sysconfig file to read instead of
                                                 /etc/sysconfig/ctdb or /etc/default/ctdb
                                                 ("none" for no sysconfig file)
  -d, --debug=ERROR|WARNING|NOTICE|INFO|DEBUG    debug level (default NOTICE)
  -h, --help                                     show this help message

Commands:
  dump                    Dump configuration
  get <section> <key>     Get a config value
  validate                Validate configuration file

The configuration is read under CTDB_BASE (default /etc/ctdb).
`

// Main runs ctdb-config with args (without the program name) and returns the exit
// status: 0 on success, 1 on any error (printed on stderr).
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ctdb-config", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sysFile, debug string
	fs.StringVar(&sysFile, "sysconfig", "", "")
	fs.StringVar(&debug, "debug", "NOTICE", "")
	fs.StringVar(&debug, "d", "NOTICE", "")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ctdb-config: %v\n%s", err, usage)
		return 1
	}
	if *help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	level, err := sysconfig.ParseLogLevel(debug)
	if err != nil {
		fmt.Fprintf(stderr, "ctdb-config: --debug: %v\n", err)
		return 1
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	cmd, cargs := rest[0], rest[1:]
	want := map[string]int{"validate": 0, "dump": 0, "get": 2}
	n, known := want[cmd]
	if !known {
		fmt.Fprintf(stderr, "ctdb-config: unknown command %q\n%s", cmd, usage)
		return 1
	}
	if len(cargs) != n {
		fmt.Fprintf(stderr, "ctdb-config: %s takes %d argument(s), got %d\n%s", cmd, n, len(cargs), usage)
		return 1
	}
	if cmd == "get" {
		// An unknown option is an error even before the files are read.
		if _, ok := (&sysconfig.Config{}).Get(cargs[0], cargs[1]); !ok {
			fmt.Fprintf(stderr, "Configuration option [%s] -> \"%s\" not defined\n", cargs[0], cargs[1])
			return 1
		}
	}

	min, _ := sysconfig.SlogLevel(level)
	logger := slog.New(&lineHandler{w: stderr, min: min})
	cfg, err := sysconfig.Load(sysconfig.Options{SysconfigFile: sysFile, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	switch cmd {
	case "dump":
		if err := cfg.Dump(stdout); err != nil {
			fmt.Fprintf(stderr, "ctdb-config: %v\n", err)
			return 1
		}
	case "get":
		v, _ := cfg.Get(cargs[0], cargs[1])
		fmt.Fprintln(stdout, v)
	}
	return 0
}

// lineHandler prints log records as "level: message" lines, for a command's stderr.
type lineHandler struct {
	w   io.Writer
	min slog.Level
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	name := "debug"
	switch {
	case r.Level >= slog.LevelError:
		name = "error"
	case r.Level >= slog.LevelWarn:
		name = "warning"
	case r.Level >= sysconfig.LevelNotice:
		name = "notice"
	case r.Level >= slog.LevelInfo:
		name = "info"
	}
	_, err := fmt.Fprintf(h.w, "%s: %s\n", name, strings.TrimSpace(r.Message))
	return err
}

func (h *lineHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lineHandler) WithGroup(string) slog.Handler      { return h }
