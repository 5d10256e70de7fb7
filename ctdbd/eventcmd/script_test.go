package eventcmd

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/goleak"

	"github.com/ctdb-go/ctdb/ctdbd/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files of the testscript tests")

// leakCheck runs the tests, then fails the run if goroutines leaked.
type leakCheck struct{ m *testing.M }

func (l leakCheck) Run() int {
	code := l.m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

func TestMain(m *testing.M) {
	cli.Register(Commands()...)
	testscript.Main(leakCheck{m}, map[string]func(){
		"ctdb": func() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar: golden output of the event
// commands, checked against what CTDB 4.17 prints. Each script gets its own
// CTDB_BASE under $WORK/etc with CTDB's test mode (the data directory is
// $CTDB_BASE/share/events/legacy, results go to $CTDB_BASE/var), no
// sysconfig file and times in UTC.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("CTDB_BASE", e.WorkDir+"/etc")
			e.Setenv("CTDB_TEST_MODE", "yes")
			e.Setenv("CTDB_SYSCONFIG", "none")
			e.Setenv("TZ", "UTC")
			return nil
		},
	})
}
