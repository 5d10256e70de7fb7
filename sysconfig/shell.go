package sysconfig

import (
	"fmt"
	"strings"
)

// ShellVar is one variable set by a plain shell assignment in a sysconfig file.
type ShellVar struct {
	Name     string
	Value    string
	Line     int  // 1-based line of the assignment that set the value
	Exported bool // set by `export NAME=...` (or exported by a later `export NAME`)
}

// IgnoredLine is a line of a sysconfig file that is not a plain assignment. The file is
// also sourced by /bin/sh (event scripts do that), so such lines are legal there; ctdbd
// does not evaluate them.
type IgnoredLine struct {
	Line   int
	Text   string
	Reason string
	// SetsCTDB is true when the line looks like it assigns a CTDB_ variable that ctdbd
	// will therefore not see (for example inside an if block): worth a warning.
	SetsCTDB bool
}

// ShellFile is the result of parsing a sysconfig file with ParseShell.
type ShellFile struct {
	Path    string
	Vars    map[string]ShellVar // last assignment wins, as in sh
	Order   []string            // names in order of first assignment
	Ignored []IgnoredLine
}

// Get returns the value of a variable the file assigns.
func (f *ShellFile) Get(name string) (ShellVar, bool) {
	v, ok := f.Vars[name]
	return v, ok
}

// ParseShell parses a sysconfig file: plain shell assignments `NAME=value`,
// `NAME="..."`, `NAME='...'`, `export NAME=...` (several on one line are allowed),
// comments and blank lines. For every line it accepts, the value is exactly what /bin/sh
// (dash or bash) assigns when it sources the file. Expansions of the forms $NAME, ${NAME},
// ${NAME-word}, ${NAME:-word}, ${NAME+word} and ${NAME:+word} are evaluated from the
// variables assigned earlier in the file and then from env (which may be nil: unset).
//
// Lines that are not assignments (`ulimit -n 10000`, `. /etc/other`, if blocks) are not
// errors: they are returned in Ignored, and assignments inside compound commands are
// ignored too, since ctdbd cannot know whether sh would run them. An assignment that ctdbd
// cannot evaluate exactly as sh would (an unterminated quote, command substitution,
// tilde expansion, a value followed by a command, a DOS line end) is an error naming the
// file and the line.
func ParseShell(path string, data []byte, env func(string) (string, bool)) (*ShellFile, error) {
	f := &ShellFile{Path: path, Vars: map[string]ShellVar{}}
	p := &shellParser{file: f, env: env}
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		if err := p.line(i+1, raw); err != nil {
			return nil, fmt.Errorf("sysconfig: %s:%d: %w", path, i+1, err)
		}
	}
	return f, nil
}

type shellParser struct {
	file  *ShellFile
	env   func(string) (string, bool)
	depth int // nesting of if/case/for/while/until/{ blocks
}

// wordPart is one piece of a shell word: literal text (quoted or not) or a parameter
// expansion.
type wordPart struct {
	lit    string
	quoted bool
	param  *paramExp
}

type paramExp struct {
	name string
	op   string // "", "-", ":-", "+", ":+"
	word string
}

type shellWord struct {
	parts []wordPart
	// unsupported, when set, is why the word cannot be evaluated exactly as sh would.
	unsupported string
}

// tokKind distinguishes the tokens of a line.
type tokKind int

const (
	tokWord tokKind = iota
	tokOp
)

type shellTok struct {
	kind tokKind
	word shellWord
	op   string
}

// literalPrefix returns the unquoted literal text at the start of the word.
func (w *shellWord) literalPrefix() string {
	var b strings.Builder
	for _, p := range w.parts {
		if p.param != nil || p.quoted {
			break
		}
		b.WriteString(p.lit)
	}
	return b.String()
}

// plain reports whether the word is a single unquoted literal, and returns it.
func (w *shellWord) plain() (string, bool) {
	if w.unsupported != "" || len(w.parts) != 1 || w.parts[0].quoted || w.parts[0].param != nil {
		return "", false
	}
	return w.parts[0].lit, true
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameChar(c byte) bool { return isNameStart(c) || (c >= '0' && c <= '9') }

// validName reports whether s is a shell variable name.
func validName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

const shellOps = ";&|<>()"

// lexLine splits one line into tokens. Comments end the line. A lexing problem that
// would matter only for an assignment is recorded in the word's unsupported field; an
// unterminated quote ends the line with an error token.
func lexLine(s string) (toks []shellTok, unterminated string) {
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) || s[i] == '#' {
			return toks, ""
		}
		if strings.IndexByte(shellOps, s[i]) >= 0 {
			j := i + 1
			for j < len(s) && strings.IndexByte(shellOps, s[j]) >= 0 && s[j] == s[i] {
				j++
			}
			toks = append(toks, shellTok{kind: tokOp, op: s[i:j]})
			i = j
			continue
		}
		var w shellWord
		var lit strings.Builder
		flush := func(quoted bool) {
			if lit.Len() > 0 || quoted {
				w.parts = append(w.parts, wordPart{lit: lit.String(), quoted: quoted})
				lit.Reset()
			}
		}
		unsupported := func(why string) {
			if w.unsupported == "" {
				w.unsupported = why
			}
		}
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == ' ' || c == '\t' || strings.IndexByte(shellOps, c) >= 0:
				break word
			case c == '\'':
				flush(false)
				end := strings.IndexByte(s[i+1:], '\'')
				if end < 0 {
					return append(toks, shellTok{kind: tokWord, word: w}), "single"
				}
				lit.WriteString(s[i+1 : i+1+end])
				flush(true)
				i += end + 2
			case c == '"':
				flush(false)
				i++
				closed := false
				for i < len(s) {
					d := s[i]
					if d == '"' {
						closed = true
						i++
						break
					}
					switch d {
					case '\\':
						if i+1 >= len(s) {
							unsupported("a backslash at the end of the line continues it onto the next line")
							i++
							continue
						}
						n := s[i+1]
						if n == '$' || n == '`' || n == '"' || n == '\\' {
							lit.WriteByte(n)
						} else {
							lit.WriteByte('\\')
							lit.WriteByte(n)
						}
						i += 2
					case '`':
						unsupported("command substitution (`...`)")
						i++
					case '$':
						if i+1 < len(s) && s[i+1] == '"' {
							lit.WriteByte('$')
							i++
							continue
						}
						pe, n, why := lexDollar(s[i:])
						if why != "" {
							unsupported(why)
						}
						if pe != nil {
							flush(true)
							w.parts = append(w.parts, wordPart{param: pe, quoted: true})
						} else if why == "" {
							lit.WriteByte('$')
						}
						i += n
					default:
						lit.WriteByte(d)
						i++
					}
				}
				if !closed {
					return append(toks, shellTok{kind: tokWord, word: w}), "double"
				}
				flush(true)
			case c == '\\':
				if i+1 >= len(s) {
					unsupported("a backslash at the end of the line continues it onto the next line")
					i++
					continue
				}
				// An escaped character is quoted: it cannot start an assignment or a
				// tilde expansion.
				flush(false)
				lit.WriteByte(s[i+1])
				flush(true)
				i += 2
			case c == '`':
				unsupported("command substitution (`...`)")
				i++
			case c == '$':
				pe, n, why := lexDollar(s[i:])
				if why != "" {
					unsupported(why)
				}
				if pe != nil {
					flush(false)
					w.parts = append(w.parts, wordPart{param: pe})
				} else if why == "" {
					lit.WriteByte('$')
				}
				i += n
			default:
				lit.WriteByte(c)
				i++
			}
		}
		flush(false)
		toks = append(toks, shellTok{kind: tokWord, word: w})
	}
}

// lexDollar reads an expansion starting at s[0] == '$'. It returns the parameter
// expansion (nil for a literal '$'), the bytes consumed, and why it is unsupported.
func lexDollar(s string) (*paramExp, int, string) {
	if len(s) < 2 {
		return nil, 1, ""
	}
	c := s[1]
	switch {
	case isNameStart(c):
		j := 2
		for j < len(s) && isNameChar(s[j]) {
			j++
		}
		return &paramExp{name: s[1:j]}, j, ""
	case c == '{':
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return nil, len(s), "an unterminated ${"
		}
		body := s[2:end]
		j := 0
		for j < len(body) && isNameChar(body[j]) {
			j++
		}
		name := body[:j]
		if !validName(name) {
			return nil, end + 1, "the expansion ${" + body + "}"
		}
		rest := body[j:]
		pe := &paramExp{name: name}
		for _, op := range []string{":-", ":+", "-", "+"} {
			if strings.HasPrefix(rest, op) {
				pe.op, pe.word = op, rest[len(op):]
				break
			}
		}
		if pe.op == "" && rest != "" {
			return nil, end + 1, "the expansion ${" + body + "}"
		}
		if strings.ContainsAny(pe.word, "$`\\'\"~") {
			return nil, end + 1, "the expansion ${" + body + "} (its word must be literal)"
		}
		return pe, end + 1, ""
	case c == '(':
		return nil, 2, "command substitution or arithmetic ($(...))"
	case c >= '0' && c <= '9', strings.IndexByte("@*#?-$!", c) >= 0:
		return nil, 2, "the special parameter $" + string(c)
	case c == ' ' || c == '\t' || strings.IndexByte("/.,:=+%^]", c) >= 0:
		return nil, 1, ""
	default:
		return nil, 1, "$" + string(c) + " (shells differ on it)"
	}
}

var (
	blockOpen  = map[string]bool{"if": true, "case": true, "for": true, "while": true, "until": true, "{": true}
	blockClose = map[string]bool{"fi": true, "esac": true, "done": true, "}": true}
	// Words after which the next word is again in command position.
	cmdLead = map[string]bool{"then": true, "do": true, "else": true, "elif": true, "{": true, "!": true}
)

// trackBlocks updates the compound-command depth from the words in command position.
func (p *shellParser) trackBlocks(toks []shellTok) {
	cmdPos := true
	for _, t := range toks {
		if t.kind == tokOp {
			cmdPos = true
			continue
		}
		lit, ok := t.word.plain()
		if cmdPos && ok {
			if blockOpen[lit] {
				p.depth++
			} else if blockClose[lit] && p.depth > 0 {
				p.depth--
			}
			// A function definition `name()` opens with the `{` that follows.
			cmdPos = cmdLead[lit] || blockOpen[lit] || blockClose[lit]
			continue
		}
		cmdPos = false
	}
}

func looksLikeCTDBAssignment(s string) bool {
	i := strings.Index(s, "CTDB_")
	return i >= 0 && strings.Contains(s[i:], "=")
}

func (p *shellParser) ignore(line int, text, reason string) {
	p.file.Ignored = append(p.file.Ignored, IgnoredLine{
		Line: line, Text: text, Reason: reason, SetsCTDB: looksLikeCTDBAssignment(text),
	})
}

// assignmentName returns NAME when the word has the form NAME=... with NAME unquoted.
// ok is false when the word is not an assignment at all; err is set for an
// assignment-like word whose name is not valid.
func assignmentName(w *shellWord) (name string, ok bool, err error) {
	pre := w.literalPrefix()
	eq := strings.IndexByte(pre, '=')
	if eq < 0 {
		return "", false, nil
	}
	name = pre[:eq]
	if validName(name) {
		return name, true, nil
	}
	if eq > 0 && !strings.ContainsAny(name, "/.") && (isNameStart(name[0]) || name[0] >= '0' && name[0] <= '9') {
		return "", false, fmt.Errorf("%q is not a valid variable name (letters, digits and _ only, not starting with a digit)", name)
	}
	return "", false, nil
}

func (p *shellParser) line(n int, raw string) error {
	text := raw
	cr := strings.HasSuffix(text, "\r")
	text = strings.TrimSuffix(text, "\r")
	toks, unterminated := lexLine(text)
	startDepth := p.depth
	p.trackBlocks(toks)
	if len(toks) == 0 {
		if unterminated == "" {
			return nil // blank or comment
		}
	}
	// Is this an assignment line?
	words := toks
	export := false
	if len(words) > 0 && words[0].kind == tokWord {
		if lit, ok := words[0].word.plain(); ok && lit == "export" {
			export = true
			words = words[1:]
		}
	}
	if len(words) == 0 || words[0].kind != tokWord {
		if unterminated != "" {
			p.ignore(n, text, "not an assignment (unterminated quote)")
			return nil
		}
		p.ignore(n, text, "not an assignment")
		return nil
	}
	first := &words[0].word
	name, isAssign, err := assignmentName(first)
	if err != nil {
		return err
	}
	if !isAssign && !export {
		p.ignore(n, text, "not an assignment")
		return nil
	}
	if export && !isAssign {
		// `export NAME` marks a variable; `export -p` and other forms set nothing.
		if lit, ok := first.plain(); !ok || !validName(lit) {
			p.ignore(n, text, "not an assignment")
			return nil
		}
	}
	if startDepth > 0 {
		p.ignore(n, text, "inside a compound command (if, case, for, while or a function): ctdbd does not evaluate it")
		return nil
	}
	if unterminated != "" {
		what := name
		if what == "" {
			what = "export"
		}
		return fmt.Errorf("%s: unterminated %s quote (a quoted value must end on the same line)", what, unterminated)
	}
	if cr {
		return fmt.Errorf("%s: line ends with a carriage return (DOS line end); sh would make it part of the value: convert the file with dos2unix", orDefault(name, "export"))
	}
	if p.depth != startDepth {
		return fmt.Errorf("%s: an assignment cannot share its line with if, case, for, while or { ... }", orDefault(name, "export"))
	}
	// The line is a list of simple commands separated by ';', each of them only
	// assignments (optionally after export).
	segExport := export
	segStart := true
	for _, t := range words {
		if t.kind == tokOp {
			if t.op != ";" {
				return fmt.Errorf("%s: %q after an assignment: only plain assignments are supported on an assignment line", orDefault(name, "export"), t.op)
			}
			segExport, segStart = false, true
			continue
		}
		w := t.word
		if segStart {
			segStart = false
			if lit, plain := w.plain(); plain && lit == "export" {
				segExport = true
				continue
			}
		}
		nm, ok, err := assignmentName(&w)
		if err != nil {
			return err
		}
		if !ok {
			if lit, plain := w.plain(); plain && segExport && validName(lit) {
				if v, set := p.file.Vars[lit]; set {
					v.Exported = true
					p.file.Vars[lit] = v
				}
				continue
			}
			return fmt.Errorf("%s: %q follows the assignment; quote a value that contains spaces (NAME=\"a b\")", orDefault(name, "export"), wordText(&w))
		}
		if w.unsupported != "" {
			return fmt.Errorf("%s: %s is not supported by ctdbd; write the value literally", nm, w.unsupported)
		}
		val, err := p.evalValue(nm, &w)
		if err != nil {
			return err
		}
		v, seen := p.file.Vars[nm]
		if !seen {
			p.file.Order = append(p.file.Order, nm)
		}
		p.file.Vars[nm] = ShellVar{Name: nm, Value: val, Line: n, Exported: segExport || v.Exported}
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// wordText renders a word roughly as written, for error messages.
func wordText(w *shellWord) string {
	var b strings.Builder
	for _, p := range w.parts {
		if p.param != nil {
			b.WriteString("${" + p.param.name + p.param.op + p.param.word + "}")
		} else {
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// evalValue evaluates the value of an assignment word NAME=value the way sh does:
// no field splitting, no pathname expansion; tilde expansion is refused.
func (p *shellParser) evalValue(name string, w *shellWord) (string, error) {
	var b strings.Builder
	skip := len(name) + 1 // "NAME=" at the start of the unquoted literal prefix
	atStart := true       // at the start of the value or just after an unquoted ':'
	for _, part := range w.parts {
		if part.param != nil {
			b.WriteString(p.expand(part.param))
			atStart = false
			continue
		}
		lit := part.lit
		if skip > 0 {
			if len(lit) <= skip {
				skip -= len(lit)
				continue
			}
			lit = lit[skip:]
			skip = 0
		}
		if !part.quoted {
			for i := 0; i < len(lit); i++ {
				if lit[i] == '~' && atStart {
					return "", fmt.Errorf("%s: an unquoted ~ is expanded by sh to a home directory; write the path or quote it", name)
				}
				atStart = lit[i] == ':'
			}
		} else if lit != "" {
			atStart = false
		}
		b.WriteString(lit)
	}
	return b.String(), nil
}

func (p *shellParser) lookup(name string) (string, bool) {
	if v, ok := p.file.Vars[name]; ok {
		return v.Value, true
	}
	if p.env != nil {
		return p.env(name)
	}
	return "", false
}

func (p *shellParser) expand(pe *paramExp) string {
	v, set := p.lookup(pe.name)
	switch pe.op {
	case "-":
		if !set {
			return pe.word
		}
	case ":-":
		if !set || v == "" {
			return pe.word
		}
	case "+":
		if set {
			return pe.word
		}
		return ""
	case ":+":
		if set && v != "" {
			return pe.word
		}
		return ""
	}
	return v
}
