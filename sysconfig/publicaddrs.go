package sysconfig

import (
	"fmt"
	"net/netip"
	"strings"
)

// PublicAddress is one line of the public addresses file: an address clients use, with
// its prefix length, and the interfaces it may be hosted on (in order of preference).
type PublicAddress struct {
	Prefix     netip.Prefix // the address with its mask bits; the host bits are kept
	Interfaces []string
	Line       int
}

// ParsePublicAddresses parses a public_addresses file: lines `ADDR/MASKBITS
// IFACE[,IFACE...]`, with blank lines and '#' comments (also after the interfaces).
// defaultIface (CTDB_PUBLIC_INTERFACE) is used for lines without interfaces; without it
// such a line is an error. Errors name the file and line: a bad address or mask, a bad or
// missing interface, a duplicate address.
func ParsePublicAddresses(path string, data []byte, defaultIface string) ([]PublicAddress, error) {
	var out []PublicAddress
	seen := map[netip.Addr]int{}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		errf := func(format string, a ...any) error {
			return fmt.Errorf("sysconfig: %s:%d: "+format, append([]any{path, n}, a...)...)
		}
		if len(fields) > 2 {
			return nil, errf("unexpected %q: the form is ADDR/MASKBITS IFACE[,IFACE...] (no spaces between interfaces)", strings.Join(fields[2:], " "))
		}
		addrStr, maskStr, ok := strings.Cut(fields[0], "/")
		if !ok {
			return nil, errf("%q has no mask: write ADDR/MASKBITS, e.g. 10.0.0.10/24", fields[0])
		}
		addr, err := netip.ParseAddr(addrStr)
		if err != nil || addr.Zone() != "" {
			return nil, errf("%q is not an IPv4 or IPv6 address", addrStr)
		}
		addr = addr.Unmap()
		if addr.IsUnspecified() || addr.IsMulticast() {
			return nil, errf("%s cannot be a public address", addr)
		}
		bits, err := parseMaskBits(maskStr, addr.BitLen())
		if err != nil {
			return nil, errf("%s: %v", fields[0], err)
		}
		var ifaces []string
		if len(fields) == 2 {
			ifaces = strings.Split(fields[1], ",")
		} else if defaultIface != "" {
			ifaces = strings.Split(defaultIface, ",")
		} else {
			return nil, errf("%s has no interface and CTDB_PUBLIC_INTERFACE is not set: write ADDR/MASKBITS IFACE", fields[0])
		}
		seenIf := map[string]bool{}
		for _, ifc := range ifaces {
			if err := validIfaceName(ifc); err != nil {
				return nil, errf("%s: %v", fields[0], err)
			}
			if seenIf[ifc] {
				return nil, errf("%s: interface %s is listed twice", fields[0], ifc)
			}
			seenIf[ifc] = true
		}
		if prev, dup := seen[addr]; dup {
			return nil, errf("public address %s is already listed on line %d", addr, prev)
		}
		seen[addr] = n
		out = append(out, PublicAddress{Prefix: netip.PrefixFrom(addr, bits), Interfaces: ifaces, Line: n})
	}
	return out, nil
}

func parseMaskBits(s string, max int) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("mask %q must be a number of bits from 1 to %d", s, max)
	}
	bits := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("mask %q must be a number of bits from 1 to %d (not a dotted netmask)", s, max)
		}
		if bits = bits*10 + int(c-'0'); bits > 1000 {
			break
		}
	}
	if bits < 1 || bits > max {
		return 0, fmt.Errorf("mask %d is out of range: 1 to %d bits", bits, max)
	}
	return bits, nil
}

// validIfaceName checks a Linux interface name: 1 to 15 bytes, no '/', ':' or blanks.
func validIfaceName(s string) error {
	if s == "" {
		return fmt.Errorf("empty interface name (check the commas)")
	}
	if len(s) > 15 {
		return fmt.Errorf("interface name %q is longer than 15 characters", s)
	}
	if s == "." || s == ".." || strings.ContainsAny(s, "/: \t") {
		return fmt.Errorf("%q is not a valid interface name", s)
	}
	return nil
}
