package admincmd

import (
	"flag"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ctdb-go/ctdb/ctdbd/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files of the testscript tests")

func TestMain(m *testing.M) {
	cli.Register(Commands()...)
	testscript.Main(m, map[string]func(){
		"ctdb": func() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar: what the admin commands print
// when no daemon is needed or none answers, checked against CTDB 4.17.
// Each script gets CTDB_BASE=$WORK/etc and a CTDB_SOCKET where no daemon
// listens. Comparisons with the real tool against a running cluster are in
// tests/compat.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("CTDB_BASE", e.WorkDir+"/etc")
			e.Setenv("CTDB_SOCKET", e.WorkDir+"/nosuch.socket")
			e.Setenv("TZ", "UTC")
			return nil
		},
	})
}
