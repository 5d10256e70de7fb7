package eventcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/cli"
	"github.com/ctdb-go/ctdb/runner"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// Component is the only event component CTDB has.
const Component = "legacy"

// Commands returns the command-table entries of this package.
func Commands() []cli.Command {
	return []cli.Command{
		{Name: "event", Help: "event and event script commands", MinArgs: 0, MaxArgs: -1, Run: cmdEvent},
		{Name: "scriptstatus", Args: "[init|setup|startup|monitor|takeip|releaseip|ipreallocated]",
			Help: "show event script status", MinArgs: 0, MaxArgs: 1, Run: cmdScriptStatus},
		{Name: "enablescript", Args: "<script>", Help: "enable an event script", MinArgs: 1, MaxArgs: 1, Run: cmdEnableScript},
		{Name: "disablescript", Args: "<script>", Help: "disable an event script", MinArgs: 1, MaxArgs: 1, Run: cmdDisableScript},
	}
}

// The helper's usage texts (CTDB prints them on standard output).
const eventUsage = `Usage: ctdb-event [<options>] <command> [<args>]

Help Options:
  -h, --help                                      Show this help message

Options:
  -d, --debug=ERROR|WARNING|NOTICE|INFO|DEBUG     debug level

Commands:
  run <timeout> <component> <event> <args>     Run an event
  status <component> <event>                   Get status of an event
  script list <component>                      List event scripts
  script enable <component> <script>           Enable an event script
  script disable <component> <script>          Disable an event script
`

func subUsage(w io.Writer, synopsis, help string) int {
	fmt.Fprintf(w, "Usage: ctdb-event [-h] [-h|--help]\n"+
		"        [-d|--debug=ERROR|WARNING|NOTICE|INFO|DEBUG] <command> [<args>]\n\n"+
		"  %s     %s\n", synopsis, help)
	return 1
}

// logger returns a logger on stderr at the -d level. Without -d it is
// silent, so that the output is exactly CTDB's (whose event daemon logs to
// its own log, not to the tool's stderr).
func logger(c *cli.Context) *slog.Logger {
	lvl := slog.LevelError
	switch strings.ToUpper(c.Options.Debug) {
	case "":
		return slog.New(slog.DiscardHandler)
	case "WARNING", "1":
		lvl = slog.LevelWarn
	case "NOTICE", "2":
		lvl = sysconfig.LevelNotice
	case "INFO", "3":
		lvl = slog.LevelInfo
	case "DEBUG", "4":
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: lvl}))
}

func cmdEvent(c *cli.Context, args []string) int {
	if len(args) == 0 {
		return eventUsageTwice(c.Stdout)
	}
	switch args[0] {
	case "run":
		if len(args) < 4 {
			return subUsage(c.Stdout, "run <timeout> <component> <event> <args>", "Run an event")
		}
		return eventRun(c, args[1], args[2], args[3], args[4:])
	case "status":
		if len(args) != 3 {
			return subUsage(c.Stdout, "status <component> <event>", "Get status of an event")
		}
		return eventStatus(c, args[1], args[2], false)
	case "script":
		if len(args) >= 2 {
			switch args[1] {
			case "list":
				if len(args) != 3 {
					return subUsage(c.Stdout, "script list <component>", "List event scripts")
				}
				return scriptList(c, args[2])
			case "enable", "disable":
				if len(args) != 4 {
					return subUsage(c.Stdout, "script "+args[1]+" <component> <script>",
						strings.ToUpper(args[1][:1])+args[1][1:]+" an event script")
				}
				return scriptChmod(c, args[2], args[3], args[1] == "enable")
			}
		}
	}
	return eventUsageTwice(c.Stdout)
}

// eventUsageTwice prints the helper's usage twice, as CTDB 4.17's does for
// a missing or unknown event subcommand.
func eventUsageTwice(w io.Writer) int {
	fmt.Fprint(w, eventUsage)
	fmt.Fprint(w, eventUsage)
	return 1
}

func eventRun(c *cli.Context, timeoutArg, comp, evName string, evArgs []string) int {
	secs, err := strconv.Atoi(timeoutArg)
	if err != nil || secs < 0 {
		return subUsage(c.Stdout, "run <timeout> <component> <event> <args>", "Run an event")
	}
	if comp != Component {
		fmt.Fprintf(c.Stdout, "Event dir for %s does not exist\n", comp)
		return int(syscall.ENOENT)
	}
	ev := runner.Event(evName)
	if err := ev.ValidateArgs(evArgs); err != nil {
		fmt.Fprintf(c.Stderr, "Invalid event %s in %s: %v\n", evName, comp, strings.TrimPrefix(err.Error(), "runner: "))
		return int(syscall.EINVAL)
	}
	rc := LoadConfig(c.Getenv, logger(c))
	timeout := time.Duration(secs) * time.Second
	if secs == 0 {
		timeout = -1
	}
	res, err := service(rc).Run(context.Background(), timeout, ev, evArgs)
	switch {
	case isNoEventDir(err):
		fmt.Fprintf(c.Stdout, "Event dir for %s does not exist\n", comp)
		return int(syscall.ENOENT)
	case err != nil:
		fmt.Fprintf(c.Stdout, "Failed to run event %s in %s, ret=%d\n", evName, comp, errnoOf(err))
		fmt.Fprintln(c.Stderr, err)
		return errnoOf(err)
	}
	switch res.Status {
	case runner.EventOK:
		return 0
	case runner.EventTimedOut:
		fmt.Fprintf(c.Stdout, "Event %s in %s timed out\n", evName, comp)
		return int(syscall.ETIMEDOUT)
	case runner.EventCancelled, runner.EventSkipped:
		fmt.Fprintf(c.Stdout, "Event %s in %s got cancelled\n", evName, comp)
		return int(syscall.ECANCELED)
	default:
		fmt.Fprintf(c.Stdout, "Event %s in %s failed\n", evName, comp)
		return int(syscall.ENOEXEC)
	}
}

func errnoOf(err error) int {
	var e syscall.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	if errors.Is(err, runner.ErrInvalidEvent) {
		return int(syscall.EINVAL)
	}
	return int(syscall.EIO)
}

// eventStatus prints the last result of an event. With classic set (ctdb
// scriptstatus) the exit status is 0 whatever the event's, as in CTDB 4.17.
func eventStatus(c *cli.Context, comp, evName string, classic bool) int {
	code := func(n int) int {
		if classic {
			return 0
		}
		return n
	}
	if comp != Component {
		fmt.Fprintf(c.Stdout, "Event dir for %s does not exist\n", comp)
		return code(int(syscall.ENOENT))
	}
	rc := LoadConfig(c.Getenv, logger(c))
	if _, _, err := runner.Scan(rc.WithDefaults().Dirs()); isNoEventDir(err) {
		fmt.Fprintf(c.Stdout, "Event dir for %s does not exist\n", comp)
		return code(int(syscall.ENOENT))
	}
	res, err := service(rc).Status(runner.Event(evName))
	if errors.Is(err, runner.ErrNeverRun) {
		fmt.Fprintf(c.Stdout, "Event %s has never run in %s\n", evName, comp)
		return code(int(syscall.EINVAL))
	}
	if err != nil {
		fmt.Fprintf(c.Stdout, "Failed to get status for event %s in %s, ret=%d\n", evName, comp, errnoOf(err))
		fmt.Fprintln(c.Stderr, err)
		return code(errnoOf(err))
	}
	FormatStatus(c.Stdout, res, nil)
	return code(res.Code())
}

func scriptList(c *cli.Context, comp string) int {
	if comp != Component {
		fmt.Fprintf(c.Stderr, "Command script list finished with result=%d\n", syscall.ENOENT)
		return int(syscall.ENOENT)
	}
	rc := LoadConfig(c.Getenv, logger(c))
	stock, local, err := runner.ListScripts(rc)
	if err != nil {
		fmt.Fprintf(c.Stderr, "Command script list finished with result=%d\n", syscall.ENOENT)
		return int(syscall.ENOENT)
	}
	FormatList(c.Stdout, stock, local)
	return 0
}

func scriptChmod(c *cli.Context, comp, name string, enable bool) int {
	if comp != Component {
		fmt.Fprintf(c.Stdout, "Script %s does not exist in %s\n", name, comp)
		return int(syscall.ENOENT)
	}
	rc := LoadConfig(c.Getenv, logger(c))
	var err error
	if enable {
		err = runner.EnableScript(rc, name)
	} else {
		err = runner.DisableScript(rc, name)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, runner.ErrScriptNotFound):
		fmt.Fprintf(c.Stdout, "Script %s does not exist in %s\n", name, comp)
		return int(syscall.ENOENT)
	case errors.Is(err, runner.ErrInvalidScriptName):
		fmt.Fprintf(c.Stdout, "Script %s is invalid in %s\n", name, comp)
		return int(syscall.EINVAL)
	case errors.As(err, new(*runner.SymlinkError)):
		var se *runner.SymlinkError
		errors.As(err, &se)
		fmt.Fprintf(c.Stdout, "Failed to %s symlink %s\n", se.Op, se.Path)
		return errnoOf(err)
	case errors.Is(err, runner.ErrNotFileOrLink):
		fmt.Fprintf(c.Stdout, "Script %s is not a file or a link\n", strings.TrimPrefix(err.Error(), runner.ErrNotFileOrLink.Error()+": "))
		return int(syscall.EINVAL)
	default:
		fmt.Fprintln(c.Stdout, strings.TrimPrefix(err.Error(), "runner: "))
		return errnoOf(err)
	}
}

func cmdScriptStatus(c *cli.Context, args []string) int {
	ev := string(runner.Monitor)
	if len(args) == 1 {
		ev = args[0]
	}
	return eventStatus(c, Component, ev, true)
}

func cmdEnableScript(c *cli.Context, args []string) int {
	return scriptChmod(c, Component, args[0], true)
}

func cmdDisableScript(c *cli.Context, args []string) int {
	return scriptChmod(c, Component, args[0], false)
}
