package runner

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Event is the name of a CTDB event, as passed to scripts as their first
// argument ("monitor", "takeip", ...). The zero value is not a valid event.
type Event string

// The events a script may be run for (reference section 5.2). The deprecated
// names "stopped", "status" and "reload" are not events: CTDB never runs them.
const (
	Init              Event = "init"
	Setup             Event = "setup"
	Startup           Event = "startup"
	Monitor           Event = "monitor"
	StartRecovery     Event = "startrecovery"
	Recovered         Event = "recovered"
	TakeIP            Event = "takeip"
	ReleaseIP         Event = "releaseip"
	UpdateIP          Event = "updateip"
	StartIPReallocate Event = "startipreallocate"
	IPReallocated     Event = "ipreallocated"
	Shutdown          Event = "shutdown"
)

// Events lists every valid event in CTDB's enum order.
var Events = []Event{
	Init, Setup, Startup, StartRecovery, Recovered, TakeIP, ReleaseIP,
	Monitor, Shutdown, UpdateIP, IPReallocated, StartIPReallocate,
}

// ParseEvent returns the event called s, or an error naming the valid ones.
func ParseEvent(s string) (Event, error) {
	for _, e := range Events {
		if string(e) == s {
			return e, nil
		}
	}
	names := make([]string, len(Events))
	for i, e := range Events {
		names[i] = string(e)
	}
	return "", fmt.Errorf("runner: unknown event %q: use one of %s", s, strings.Join(names, ", "))
}

// Valid reports whether e is one of Events.
func (e Event) Valid() bool {
	_, err := ParseEvent(string(e))
	return err == nil
}

// ArgsUsage returns the argument synopsis of e ("IFACE IP MASKBITS" for
// takeip), or "" for events that take no arguments.
func (e Event) ArgsUsage() string {
	switch e {
	case TakeIP, ReleaseIP:
		return "IFACE IP MASKBITS"
	case UpdateIP:
		return "OLD-IFACE NEW-IFACE IP MASKBITS"
	}
	return ""
}

// ValidateArgs checks the count and form of args for e: takeip and releaseip
// take IFACE IP MASKBITS, updateip takes OLD-IFACE NEW-IFACE IP MASKBITS, every
// other event takes none. Interface names follow the kernel's rules (1 to 15
// bytes, no '/', ':' is allowed for aliases, no white space); MASKBITS must fit
// the address family of IP.
func (e Event) ValidateArgs(args []string) error {
	if !e.Valid() {
		_, err := ParseEvent(string(e))
		return err
	}
	var ifaces int
	switch e {
	case TakeIP, ReleaseIP:
		ifaces = 1
	case UpdateIP:
		ifaces = 2
	default:
		if len(args) != 0 {
			return fmt.Errorf("runner: event %s takes no arguments, got %d (%s)", e, len(args), strings.Join(args, " "))
		}
		return nil
	}
	if len(args) != ifaces+2 {
		return fmt.Errorf("runner: event %s needs %s, got %d argument(s)", e, e.ArgsUsage(), len(args))
	}
	for _, ifc := range args[:ifaces] {
		if err := checkIface(ifc); err != nil {
			return fmt.Errorf("runner: event %s: %w", e, err)
		}
	}
	ip, err := netip.ParseAddr(args[ifaces])
	if err != nil || ip.Zone() != "" {
		return fmt.Errorf("runner: event %s: %q is not an IP address", e, args[ifaces])
	}
	bits, err := strconv.Atoi(args[ifaces+1])
	if err != nil || bits < 0 || bits > ip.BitLen() || strings.HasPrefix(args[ifaces+1], "+") {
		return fmt.Errorf("runner: event %s: mask bits %q must be a number from 0 to %d for %s", e, args[ifaces+1], ip.BitLen(), ip)
	}
	return nil
}

func checkIface(s string) error {
	if s == "" || len(s) > 15 || s == "." || s == ".." || strings.ContainsAny(s, "/ \t\n\r\x00") {
		return fmt.Errorf("%q is not an interface name", s)
	}
	return nil
}

// AllowedInRecovery reports whether e may run while the cluster's recovery
// mode is ACTIVE (reference 5.2): init, setup, startrecovery, shutdown,
// releaseip, ipreallocated and startipreallocate. The runner does not know
// the recovery mode; the daemon asks this before calling Run.
func (e Event) AllowedInRecovery() bool {
	switch e {
	case Init, Setup, StartRecovery, Shutdown, ReleaseIP, IPReallocated, StartIPReallocate:
		return true
	}
	return false
}

// TimeoutIsSuccess reports whether CTDB treats a timeout of e as success
// (logged only): startrecovery, recovered, takeip and releaseip. The runner
// still reports TIMEDOUT; this is the daemon's policy helper.
func (e Event) TimeoutIsSuccess() bool {
	switch e {
	case StartRecovery, Recovered, TakeIP, ReleaseIP:
		return true
	}
	return false
}
