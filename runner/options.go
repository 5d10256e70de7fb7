package runner

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"strings"
)

// ParseOptionsFile reads a script options file (script.options or
// NN.name.options): plain shell assignments NAME=value, one per line, with
// optional "export ", and values unquoted, 'single-quoted' or "double-quoted"
// (backslash escapes of \ " $ ` inside double quotes). Comments and blank
// lines are skipped. Lines that are not plain assignments (commands, $(...),
// variable references) cannot be evaluated here: they are returned in
// ignored and left to the scripts, which source the file themselves through
// loadconfig. A missing file is not an error.
func ParseOptionsFile(path string) (vars []string, ignored []string, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 64*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := parseAssignment(line)
		if !ok {
			ignored = append(ignored, line)
			continue
		}
		vars = append(vars, name+"="+val)
	}
	return vars, ignored, sc.Err()
}

func parseAssignment(line string) (name, val string, ok bool) {
	line = strings.TrimPrefix(line, "export ")
	eq := strings.IndexByte(line, '=')
	if eq <= 0 {
		return "", "", false
	}
	name = line[:eq]
	for i, c := range name {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return "", "", false
		}
	}
	rest := line[eq+1:]
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(rest[i+1:], '\'')
			if j < 0 {
				return "", "", false
			}
			b.WriteString(rest[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			i++
			for ; i < len(rest) && rest[i] != '"'; i++ {
				switch rest[i] {
				case '\\':
					if i+1 < len(rest) && strings.IndexByte("\\\"$`", rest[i+1]) >= 0 {
						i++
					}
				case '$', '`':
					return "", "", false
				}
				b.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return "", "", false
			}
		case c == '#' && i > 0 && (rest[i-1] == ' ' || rest[i-1] == '\t'):
			return name, strings.TrimRight(b.String(), " \t"), true
		case c == ' ' || c == '\t':
			// Only trailing blanks (before a comment) are allowed.
			tail := strings.TrimLeft(rest[i:], " \t")
			if tail != "" && tail[0] != '#' {
				return "", "", false
			}
			return name, b.String(), true
		case c == '$' || c == '`' || c == '\\' || c == ';' || c == '&' || c == '|' ||
			c == '<' || c == '>' || c == '(' || c == ')':
			return "", "", false
		default:
			b.WriteByte(c)
		}
	}
	return name, b.String(), true
}
