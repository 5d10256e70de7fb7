package configcmd

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ctdb-config": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the ctdb-config golden tests in testdata/*.txtar: each names the
// behaviour it checks and compares the exact output and exit status.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Never read the host's /etc/ctdb or /etc/default/ctdb.
			env.Setenv("CTDB_BASE", env.WorkDir+"/etc/ctdb")
			env.Setenv("CTDB_SYSCONFIG", "none")
			return nil
		},
	})
}
