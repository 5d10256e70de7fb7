package sysconfig

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Dump writes the effective configuration in ctdb.conf syntax, like `ctdb-config
// dump`: every option of every section, options at their default commented out
// (`# key = default`), options that are set written out. A value that comes from the
// sysconfig file is preceded by a comment naming the file, line and variable. Settings
// that have no ctdb.conf key (the sysconfig-only variables, managed services and
// tunables that differ from their defaults) follow as comments, so the output can be
// read back as a ctdb.conf.
func (c *Config) Dump(w io.Writer) error {
	var b strings.Builder
	for _, sec := range confSections {
		fmt.Fprintf(&b, "[%s]\n", sec)
		for _, o := range confOptions {
			if o.Section != sec {
				continue
			}
			if o.AliasOf != "" {
				fmt.Fprintf(&b, "\t# %s = \n", o.Key)
				continue
			}
			s := c.values[[2]string{o.Section, o.Key}]
			if !s.isSet {
				fmt.Fprintf(&b, "\t# %s = %s\n", o.Key, s.value)
				continue
			}
			if c.ConfFile == "" || !strings.HasPrefix(s.origin, c.ConfFile+":") {
				fmt.Fprintf(&b, "\t# from %s\n", s.origin)
			}
			fmt.Fprintf(&b, "\t%s = %s\n", o.Key, s.value)
		}
	}
	var extra []string
	for _, e := range c.extras {
		extra = append(extra, fmt.Sprintf("%s=%s\t(%s)", e.name, e.value, e.origin))
	}
	for _, svc := range sortedKeys(c.Managed) {
		v := "no"
		if c.Managed[svc] {
			v = "yes"
		}
		extra = append(extra, fmt.Sprintf("CTDB_MANAGES_%s=%s", svc, v))
	}
	if c.Tunables != nil {
		for _, d := range tunableDefs {
			if src := c.Tunables.Source(d.Name); src != "" {
				v, _ := c.Tunables.Get(d.Name)
				extra = append(extra, fmt.Sprintf("%s=%d\t(%s)", d.Name, v, src))
			}
		}
	}
	if len(extra) > 0 {
		b.WriteString("# Settings without a ctdb.conf key:\n")
		for _, e := range extra {
			fmt.Fprintf(&b, "#\t%s\n", e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
