package admincmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/cli"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// Commands returns the command-table entries of this package, in the order
// of 4.17's usage text.
func Commands() []cli.Command {
	d := func(name, args, help string, min, max int, remote bool, run func(*tool, []string) int) cli.Command {
		// cli's own -n check is for commands that never reach the daemon; the
		// daemon commands check -n themselves after connecting, as 4.17 does.
		// Arguments are checked after connecting, as 4.17 does (without a
		// daemon, "status x" reports the failed connection, not the usage).
		c := cli.Command{Name: name, Args: args, Help: help, MinArgs: min, MaxArgs: max}
		return cli.Command{Name: name, Args: args, Help: help, MinArgs: 0, MaxArgs: -1, Remote: true,
			Run: wrap(name, daemonCommand{remote: remote, run: run, usage: c})}
	}
	return []cli.Command{
		{Name: "version", Help: "show version of ctdb", MaxArgs: -1, Run: cmdVersion},
		d("status", "", "show node status", 0, 0, true, cmdStatus),
		d("uptime", "", "show node uptime", 0, -1, true, cmdUptime),
		d("ping", "", "ping a node", 0, -1, true, cmdPing),
		d("runstate", "[setup|first_recovery|startup|running]", "get/check runstate of a node", 0, -1, true, cmdRunstate),
		d("getvar", "<name>", "get a tunable variable", 1, 1, true, cmdGetvar),
		d("setvar", "<name> <value>", "set a tunable variable", 2, 2, true, cmdSetvar),
		d("listvars", "", "list tunable variables", 0, 0, true, cmdListvars),
		d("statistics", "", "show ctdb statistics", 0, -1, true, cmdStatistics),
		d("statisticsreset", "", "reset ctdb statistics", 0, -1, true, cmdStatisticsReset),
		d("ip", "[all]", "show public ips", 0, 1, true, cmdIP),
		d("ipinfo", "<ip>", "show public ip details", 1, 1, true, cmdIPInfo),
		d("ifaces", "", "show interfaces", 0, 0, true, cmdIfaces),
		d("setifacelink", "<iface> up|down", "set interface link status", 2, 2, true, cmdSetIfaceLink),
		d("getcapabilities", "", "show node capabilities", 0, -1, true, cmdGetCapabilities),
		d("pnn", "", "show the pnn of the currnet node", 0, -1, false, cmdPNN),
		d("setdebug", "ERROR|WARNING|NOTICE|INFO|DEBUG", "set debug level", 1, 1, true, cmdSetdebug),
		d("getdebug", "", "get debug level", 0, -1, true, cmdGetdebug),
		d("getpid", "", "get ctdbd process ID", 0, -1, true, cmdGetpid),
		d("disable", "", "disable a node", 0, -1, true, cmdDisable),
		d("enable", "", "enable a node", 0, -1, true, cmdEnable),
		d("stop", "", "stop a node", 0, -1, true, cmdStop),
		d("continue", "", "continue a stopped node", 0, -1, true, cmdContinue),
		d("ban", "<bantime>", "ban a node", 1, 1, true, cmdBan),
		d("unban", "", "unban a node", 0, -1, true, cmdUnban),
		d("shutdown", "", "shutdown ctdb daemon", 0, -1, true, cmdShutdown),
		d("recover", "", "force recovery", 0, -1, true, cmdRecover),
		d("sync", "", "run ip reallocation (deprecated)", 0, 0, true, cmdIPReallocate),
		d("ipreallocate", "", "run ip reallocation", 0, 0, true, cmdIPReallocate),
		d("gratarp", "<ip> <interface>", "send a gratuitous arp", 2, 2, true, cmdGratARP),
		{Name: "tickle", Args: "<srcip:port> <dstip:port>", Help: "send a tcp tickle ack", MaxArgs: -1, Run: cmdTickle},
		d("gettickles", "<ip> [<port>]", "get the list of tickles", 1, 2, true, cmdGetTickles),
		d("addtickle", "<ip>:<port> <ip>:<port>", "add a tickle", 0, -1, true, cmdAddTickle),
		d("deltickle", "<ip>:<port> <ip>:<port>", "delete a tickle", 0, -1, true, cmdDelTickle),
		{Name: "listnodes", Help: "list nodes in the cluster", MaxArgs: -1, Run: cmdListnodes},
		d("reloadnodes", "", "reload the nodes file all nodes", 0, -1, false, cmdReloadnodes),
		d("moveip", "<ip> <node>", "move an ip address to another node", 2, 2, false, cmdMoveIP),
		d("addip", "<ip/mask> <iface>", "add an ip address to a node", 2, 2, true, cmdAddIP),
		d("delip", "<ip>", "delete an ip address from a node", 1, 1, true, cmdDelIP),
		d("leader", "", "show the pnn of the leader", 0, -1, true, cmdLeader),
		d("recmaster", "", "show the pnn of the leader (old name of leader)", 0, -1, true, cmdLeader),
		d("getreclock", "", "get recovery lock file", 0, -1, true, cmdGetreclock),
		d("nodestatus", "[all|<pnn-list>]", "show and return node status", 0, 1, true, cmdNodestatus),
		d("reloadips", "[all|<pnn-list>]", "reload the public addresses file", 0, 1, false, cmdReloadIPs),
	}
}

func cmdVersion(c *cli.Context, _ []string) int {
	fmt.Fprintln(c.Stdout, Version)
	return 0
}

func cmdPNN(t *tool, _ []string) int {
	fmt.Fprintf(t.out, "%d\n", t.pnn)
	return 0
}

func cmdLeader(t *tool, _ []string) int {
	l := t.getLeader()
	if l == protocol.UnknownPNN {
		fmt.Fprintln(t.out, "UNKNOWN")
	} else {
		fmt.Fprintf(t.out, "%d\n", l)
	}
	return 0
}

func cmdGetpid(t *tool, _ []string) int {
	pid, err := t.status(t.cmdPNN, protocol.ControlGetPID)
	if err != nil {
		return t.reportErr(protocol.ControlGetPID, t.cmdPNN, err)
	}
	fmt.Fprintf(t.out, "%d\n", uint32(pid))
	return 0
}

func cmdPing(t *tool, _ []string) int {
	start := time.Now()
	n, err := t.status(t.cmdPNN, protocol.ControlPing)
	if err != nil {
		return t.reportErr(protocol.ControlPing, t.cmdPNN, err)
	}
	fmt.Fprintf(t.out, "response from %d time=%.6f sec  (%d clients)\n", t.cmdPNN, time.Since(start).Seconds(), n)
	return 0
}

func cmdUptime(t *tool, _ []string) int {
	var u protocol.Uptime
	if r := t.data(t.cmdPNN, protocol.ControlUptime, nil, &u); r != 0 {
		return r
	}
	fmt.Fprintf(t.out, "Current time of node %-4d     :                %s\n", t.cmdPNN, ctime(u.CurrentTime.Sec))
	fmt.Fprintf(t.out, "Ctdbd start time              : (%s) %s\n", dhms(u.CurrentTime.Sec-u.CtdbdStartTime.Sec), ctime(u.CtdbdStartTime.Sec))
	fmt.Fprintf(t.out, "Time of last recovery/failover: (%s) %s\n", dhms(u.CurrentTime.Sec-u.LastRecoveryFinished.Sec), ctime(u.LastRecoveryFinished.Sec))
	d := float64(u.LastRecoveryFinished.Sec-u.LastRecoveryStarted.Sec) + float64(u.LastRecoveryFinished.Usec-u.LastRecoveryStarted.Usec)*1e-6
	fmt.Fprintf(t.out, "Duration of last recovery/failover: %f seconds\n", d)
	return 0
}

func cmdRunstate(t *tool, args []string) int {
	var rs protocol.Uint32
	if r := t.data(t.cmdPNN, protocol.ControlGetRunstate, nil, &rs); r != 0 {
		return r
	}
	cur := protocol.Runstate(rs)
	found := true
	for _, a := range args {
		found = false
		want := protocol.RunstateUnknown
		for s := protocol.RunstateInit; s <= protocol.RunstateShutdown; s++ {
			if strings.EqualFold(s.String(), a) {
				want = s
			}
		}
		if want == protocol.RunstateUnknown {
			fmt.Fprintf(t.out, "Invalid run state (%s)\n", a)
			return 1
		}
		if want == cur {
			found = true
			break
		}
	}
	if !found {
		fmt.Fprintf(t.out, "CTDB not in required run state (got %s)\n", cur)
		return 1
	}
	fmt.Fprintln(t.out, cur)
	return 0
}

// listTunables fetches the names of the (non-obsolete) tunables.
func (t *tool) listTunables() ([]string, int) {
	var vl protocol.VarList
	if r := t.data(t.cmdPNN, protocol.ControlListTunables, nil, &vl); r != 0 {
		fmt.Fprintf(t.errw, "Failed to get list of variables from node %d\n", t.cmdPNN)
		return nil, r
	}
	return vl.Names, 0
}

func knownTunable(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func (t *tool) printTunable(name string) int {
	var v protocol.Uint32
	sn := protocol.StringN(name)
	if r := t.data(t.cmdPNN, protocol.ControlGetTunable, &sn, &v); r != 0 {
		return r
	}
	fmt.Fprintf(t.out, "%-26s = %d\n", name, uint32(v))
	return 0
}

// requireTunable checks name against the daemon's tunable list, printing 4.17's "No
// such tunable" (exit 1) for an unknown or obsolete one.
func (t *tool) requireTunable(name string) int {
	names, r := t.listTunables()
	if r != 0 {
		return r
	}
	if !knownTunable(names, name) {
		fmt.Fprintf(t.out, "No such tunable %s\n", name)
		return 1
	}
	return 0
}

func cmdGetvar(t *tool, args []string) int {
	if r := t.requireTunable(args[0]); r != 0 {
		return r
	}
	return t.printTunable(args[0])
}

func cmdListvars(t *tool, _ []string) int {
	names, r := t.listTunables()
	if r != 0 {
		return r
	}
	for _, n := range names {
		t.printTunable(n) // like 4.17: a failing one does not stop the list
	}
	return 0
}

func cmdSetvar(t *tool, args []string) int {
	if r := t.requireTunable(args[0]); r != 0 {
		return r
	}
	v, errno := strtoul(args[1])
	if errno != 0 {
		return errno
	}
	ctx, cancel := t.ctx()
	defer cancel()
	rep, err := t.conn.Control(ctx, t.cmdPNN, protocol.ControlSetTunable, &protocol.Tunable{Name: args[0], Value: uint32(v)})
	if err != nil {
		if rep != nil && rep.Status == 1 {
			fmt.Fprintf(t.errw, "Setting obsolete tunable variable '%s'\n", args[0])
			return 0
		}
		return t.reportErr(protocol.ControlSetTunable, t.cmdPNN, err)
	}
	return 0
}

func cmdGetdebug(t *tool, _ []string) int {
	var v protocol.Uint32
	if r := t.data(t.cmdPNN, protocol.ControlGetDebug, nil, &v); r != 0 {
		return r
	}
	fmt.Fprintln(t.out, debugLevelName(int32(v)))
	return 0
}

func cmdSetdebug(t *tool, args []string) int {
	lvl, ok := parseDebugLevel(args[0])
	if !ok {
		fmt.Fprintf(t.errw, "Invalid debug level '%s'. Valid levels are:\n\tERROR | WARNING | NOTICE | INFO | DEBUG\n", args[0])
		return 1
	}
	v := protocol.Uint32(lvl)
	return t.control(t.cmdPNN, protocol.ControlSetDebug, &v)
}

func cmdGetCapabilities(t *tool, _ []string) int {
	var v protocol.Uint32
	if r := t.data(t.cmdPNN, protocol.ControlGetCapabilities, nil, &v); r != 0 {
		return r
	}
	caps := uint32(v)
	leader, lmaster := caps&protocol.CapRecMaster != 0, caps&protocol.CapLMaster != 0
	if t.c.Options.Machine {
		sep := t.c.Options.Separator
		fmt.Fprintf(t.out, "%sLEADER%sLMASTER%s\n", sep, sep, sep)
		fmt.Fprintf(t.out, "%s%d%s%d%s\n", sep, b2i(leader), sep, b2i(lmaster), sep)
		return 0
	}
	yes := func(b bool) string {
		if b {
			return "YES"
		}
		return "NO"
	}
	fmt.Fprintf(t.out, "LEADER: %s\nLMASTER: %s\n", yes(leader), yes(lmaster))
	return 0
}

func cmdGetreclock(t *tool, _ []string) int {
	var s protocol.String
	if r := t.data(t.cmdPNN, protocol.ControlGetReclockFile, nil, &s); r != 0 {
		return r
	}
	if s != "" {
		fmt.Fprintln(t.out, string(s))
	}
	return 0
}

func cmdStatisticsReset(t *tool, _ []string) int {
	return t.control(t.cmdPNN, protocol.ControlStatisticsReset, nil)
}

func cmdShutdown(t *tool, _ []string) int {
	ctx, cancel := t.ctx()
	defer cancel()
	_, err := t.conn.Control(ctx, t.cmdPNN, protocol.ControlShutdown, nil)
	if err != nil {
		select {
		case <-t.conn.Done():
			// The daemon we talk to shut down before its reply got out: done.
			return 0
		default:
		}
		return t.reportErr(protocol.ControlShutdown, t.cmdPNN, err)
	}
	if t.cmdPNN == t.pnn {
		// As 4.17: wait until the local daemon has gone (it closes the socket).
		select {
		case <-t.conn.Done():
		case <-time.After(t.maxWait()):
		}
	}
	return 0
}

func cmdListnodes(c *cli.Context, _ []string) int {
	m, err := readNodesFile(c.Getenv)
	if err != nil {
		fmt.Fprintln(c.Stderr, err)
		return 1
	}
	for _, n := range m.Nodes {
		if n.Flags&protocol.NodeFlagsDeleted != 0 {
			continue
		}
		if c.Options.Machine {
			sep := c.Options.Separator
			fmt.Fprintf(c.Stdout, "%s%d%s%s%s\n", sep, n.PNN, sep, addrString(n.Addr), sep)
		} else {
			fmt.Fprintln(c.Stdout, addrString(n.Addr))
		}
	}
	return 0
}
