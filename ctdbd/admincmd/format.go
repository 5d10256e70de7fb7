package admincmd

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// prettyFlags renders node flags as `ctdb status` does: names joined by '|'
// in CTDB's order, "OK" for none.
func prettyFlags(f uint32) string {
	names := []struct {
		bit  uint32
		name string
	}{
		{protocol.NodeFlagsDisconnected, "DISCONNECTED"},
		{nodeFlagsUnknown, "UNKNOWN"},
		{protocol.NodeFlagsPermanentlyDisabled, "DISABLED"},
		{protocol.NodeFlagsBanned, "BANNED"},
		{protocol.NodeFlagsUnhealthy, "UNHEALTHY"},
		{protocol.NodeFlagsDeleted, "DELETED"},
		{protocol.NodeFlagsStopped, "STOPPED"},
		{protocol.NodeFlagsInactive, "INACTIVE"},
	}
	var s []string
	for _, n := range names {
		if f&n.bit != 0 {
			s = append(s, n.name)
		}
	}
	if len(s) == 0 {
		return "OK"
	}
	return strings.Join(s, "|")
}

// addrString prints a node address as CTDB does (no port).
func addrString(a protocol.SockAddr) string {
	if !a.Addr.IsValid() {
		return "0.0.0.0"
	}
	return a.Addr.String()
}

// ctime formats a Unix time as C's ctime(3) without the newline, in the
// local time zone ($TZ), e.g. "Sat Nov 21 10:38:19 2026".
func ctime(sec int64) string {
	return time.Unix(sec, 0).Format("Mon Jan _2 15:04:05 2006")
}

// dhms formats a duration in seconds as "DDD HH:MM:SS" (days, then time).
func dhms(secs int64) string {
	s := secs % 60
	secs /= 60
	m := secs % 60
	secs /= 60
	h := secs % 24
	d := secs / 24
	return fmt.Sprintf("%03d %02d:%02d:%02d", d, h, m, s)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nodesFileError is a nodes file that cannot be read, worded as 4.17 does.
type nodesFileError struct{ path string }

func (e *nodesFileError) Error() string {
	return fmt.Sprintf("Failed to read nodes file \"%s\"", e.path)
}

// nodesFilePath is the nodes file the tool reads: $CTDB_BASE/nodes, by
// default /etc/ctdb/nodes.
func nodesFilePath(getenv func(string) string) string {
	base := getenv("CTDB_BASE")
	if base == "" {
		base = "/etc/ctdb"
	}
	return base + "/nodes"
}

// readNodesFile reads the nodes file as the 4.17 tool does: one address per
// line, surrounding blanks ignored, blank lines skipped, a line starting
// with '#' is a deleted node (address 0.0.0.0). An invalid address is
// reported on stderr-worthy text in the error.
func readNodesFile(getenv func(string) string) (*protocol.NodeMap, error) {
	path := nodesFilePath(getenv)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &nodesFileError{path}
	}
	return parseNodes(data, path)
}

func parseNodes(data []byte, path string) (*protocol.NodeMap, error) {
	m := &protocol.NodeMap{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.Trim(sc.Text(), " \t")
		if line == "" {
			continue
		}
		n := protocol.NodeAndFlags{PNN: uint32(len(m.Nodes))}
		if line[0] == '#' {
			n.Flags = protocol.NodeFlagsDeleted
			n.Addr = protocol.SockAddr{Addr: netip.IPv4Unspecified()}
		} else {
			a, err := netip.ParseAddr(line)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("Invalid IP address %s\n%w", line, &nodesFileError{path})
			}
			n.Addr = protocol.SockAddr{Addr: a.Unmap()}
		}
		m.Nodes = append(m.Nodes, n)
	}
	if err := sc.Err(); err != nil {
		return nil, &nodesFileError{path}
	}
	return m, nil
}

// debug level names and their numbers on the wire (Samba's debug levels).
var debugLevels = []struct {
	name  string
	level uint32
}{
	{"ERROR", 0}, {"WARNING", 1}, {"NOTICE", 3}, {"INFO", 5}, {"DEBUG", 10},
}

// debugLevelName names a level as `ctdb getdebug` prints it: the highest
// named level not above it.
func debugLevelName(v int32) string {
	name := "ERROR"
	for _, l := range debugLevels {
		if v >= int32(l.level) {
			name = l.name
		}
	}
	return name
}

// parseDebugLevel accepts what `ctdb setdebug` does: a number from 0 to 10
// (leading digits, the rest ignored), or a case-insensitive prefix of a level
// name (the empty string is a prefix of ERROR).
func parseDebugLevel(s string) (uint32, bool) {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		n := 0
		for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n <= 10; i++ {
			n = n*10 + int(s[i]-'0')
		}
		if n > 10 {
			return 0, false
		}
		return uint32(n), true
	}
	for _, l := range debugLevels {
		if len(s) <= len(l.name) && strings.EqualFold(l.name[:len(s)], s) {
			return l.level, true
		}
	}
	return 0, false
}

// strtoul parses a number as Samba's smb_strtoul(s, NULL, 0, ...) with
// SMB_STR_STANDARD does: leading blanks, optional '+', base from the prefix
// (0x hex, 0 octal, else decimal), trailing text ignored; no digits or any
// '-' is EINVAL, overflow of 64 bits ERANGE.
func strtoul(s string) (uint64, int) {
	if strings.Contains(s, "-") {
		return 0, exitEINVAL
	}
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\v' || s[i] == '\f' || s[i] == '\r') {
		i++
	}
	if i < len(s) && s[i] == '+' {
		i++
	}
	base := uint64(10)
	switch {
	case i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && hexDigit(s[i+2]) >= 0:
		base, i = 16, i+2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	var v uint64
	digits := 0
	overflow := false
	for ; i < len(s); i++ {
		d := hexDigit(s[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		digits++
		if v > (^uint64(0)-uint64(d))/base {
			overflow = true
		}
		v = v*base + uint64(d)
	}
	if digits == 0 {
		return 0, exitEINVAL
	}
	if overflow {
		return 0, 34 // ERANGE
	}
	return v, 0
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
