// Command ctdb is the CTDB administration tool: the same command names,
// global options, output and exit codes as CTDB 4.17's ctdb(1). Commands
// live in packages that register them in the table of ctdbd/cli; this file
// only assembles the table.
package main

import (
	"os"

	"github.com/ctdb-go/ctdb/ctdbd/admincmd"
	"github.com/ctdb-go/ctdb/ctdbd/cli"
	"github.com/ctdb-go/ctdb/ctdbd/eventcmd"
)

func init() {
	cli.Register(admincmd.Commands()...)
	cli.Register(eventcmd.Commands()...)
	// `ctdb event run` goes to the running daemon when there is one.
	eventcmd.DaemonService = eventcmd.ConnectDaemon
}

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
