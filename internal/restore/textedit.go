package restore

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// The GRUB variables that reach the Linux command line of a normal boot.
const (
	grubVarDefault = "GRUB_CMDLINE_LINUX_DEFAULT"
	grubVarLinux   = "GRUB_CMDLINE_LINUX"
)

// grubAssigns parses /etc/default/grub (a shell file, sourced by
// grub-mkconfig) and returns every assignment to one of names, in source
// order. A real parser, not a regexp, so that quoting, comments, line
// continuations and "export" are understood.
func grubAssigns(src []byte, names ...string) ([]*syntax.Assign, error) {
	f, err := syntax.NewParser(syntax.KeepComments(true), syntax.Variant(syntax.LangBash)).
		Parse(bytes.NewReader(src), "/etc/default/grub")
	if err != nil {
		return nil, fmt.Errorf("cannot parse /etc/default/grub: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []*syntax.Assign
	syntax.Walk(f, func(n syntax.Node) bool {
		var as []*syntax.Assign
		switch x := n.(type) {
		case *syntax.CallExpr:
			if len(x.Args) == 0 {
				as = x.Assigns
			}
		case *syntax.DeclClause:
			as = x.Args
		}
		for _, a := range as {
			if a.Name != nil && want[a.Name.Value] && !a.Naked && a.Array == nil && a.Index == nil {
				out = append(out, a)
			}
		}
		return true
	})
	return out, nil
}

// literal returns the value of w when it has no expansions.
func literal(w *syntax.Word) (string, bool) {
	if w == nil {
		return "", true
	}
	var b strings.Builder
	for _, p := range w.Parts {
		switch x := p.(type) {
		case *syntax.Lit:
			b.WriteString(x.Value)
		case *syntax.SglQuoted:
			if x.Dollar {
				return "", false
			}
			b.WriteString(x.Value)
		case *syntax.DblQuoted:
			for _, q := range x.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(l.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// grubHasArg says whether an assignment to GRUB_CMDLINE_LINUX or
// GRUB_CMDLINE_LINUX_DEFAULT in src has param as a word.
func grubHasArg(src []byte, param string) (bool, error) {
	as, err := grubAssigns(src, grubVarDefault, grubVarLinux)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.Value == nil {
			continue
		}
		text := string(src[a.Value.Pos().Offset():a.Value.End().Offset()])
		if hasToken(text, param) {
			return true, nil
		}
	}
	return false, nil
}

// addGrubArg adds param to the last assignment of GRUB_CMDLINE_LINUX_DEFAULT
// (the one that wins when the file is sourced), changing only the bytes of
// that value. With no assignment, one is appended at the end of the file.
func addGrubArg(src []byte, param string) ([]byte, error) {
	out, err := addGrubArgUnchecked(src, param)
	if err != nil {
		return nil, err
	}
	// Whatever the file looked like, the result must parse and have the
	// argument where grub-mkconfig will see it; otherwise leave it alone.
	if ok, err := grubHasArg(out, param); err != nil || !ok {
		return nil, errors.New("cannot add iomem=relaxed to /etc/default/grub safely; add it by hand")
	}
	return out, nil
}

func addGrubArgUnchecked(src []byte, param string) ([]byte, error) {
	as, err := grubAssigns(src, grubVarDefault)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		out := append([]byte(nil), src...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, fmt.Sprintf("%s=%q\n", grubVarDefault, param)...), nil
	}
	a := as[len(as)-1]
	if a.Append {
		return nil, errors.New("GRUB_CMDLINE_LINUX_DEFAULT is set with +=, which libreflash does not edit")
	}
	var at int
	var ins string
	switch {
	case a.Value == nil || len(a.Value.Parts) == 0: // GRUB_CMDLINE_LINUX_DEFAULT=
		at, ins = int(a.End().Offset()), `"`+param+`"`
	default:
		val, _ := literal(a.Value)
		sep := " "
		last := a.Value.Parts[len(a.Value.Parts)-1]
		switch q := last.(type) {
		case *syntax.DblQuoted:
			if lit, ok := literal(a.Value); ok && strings.TrimSpace(lit) == "" {
				sep = ""
			}
			at, ins = int(q.End().Offset())-1, sep+param
		case *syntax.SglQuoted:
			if q.Dollar {
				at, ins = int(q.End().Offset()), `" `+param+`"`
				break
			}
			if strings.TrimSpace(val) == "" && len(a.Value.Parts) == 1 {
				sep = ""
			}
			at, ins = int(q.End().Offset())-1, sep+param
		default:
			at, ins = int(a.Value.End().Offset()), `" `+param+`"`
		}
	}
	out := make([]byte, 0, len(src)+len(ins))
	out = append(out, src[:at]...)
	out = append(out, ins...)
	return append(out, src[at:]...), nil
}

// removeGrubArg takes param out of every GRUB_CMDLINE_LINUX(_DEFAULT)
// assignment, leaving everything else as it is.
func removeGrubArg(src []byte, param string) ([]byte, error) {
	as, err := grubAssigns(src, grubVarDefault, grubVarLinux)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), src...)
	// Edit from the end so earlier offsets stay valid.
	for i := len(as) - 1; i >= 0; i-- {
		w := as[i].Value
		if w == nil {
			continue
		}
		s, e := int(w.Pos().Offset()), int(w.End().Offset())
		text := string(out[s:e])
		nt := removeToken(text, param)
		if nt == text {
			continue
		}
		out = append(out[:s:s], append([]byte(nt), out[e:]...)...)
	}
	return out, nil
}

func isSep(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '"' || b == '\'' }

// hasToken says whether tok occurs in s as a whole argument.
func hasToken(s, tok string) bool { return tokenIndex(s, tok, 0) >= 0 }

func tokenIndex(s, tok string, from int) int {
	for i := from; ; {
		j := strings.Index(s[i:], tok)
		if j < 0 || tok == "" {
			return -1
		}
		j += i
		end := j + len(tok)
		if (j == 0 || isSep(s[j-1])) && (end == len(s) || isSep(s[end])) {
			return j
		}
		i = j + 1
	}
}

// removeToken removes every whole-argument occurrence of tok from s together
// with one adjoining blank (the one before it, else the one after), which is
// exactly what adding " tok" or "tok " put there.
func removeToken(s, tok string) string {
	for {
		j := tokenIndex(s, tok, 0)
		if j < 0 {
			return s
		}
		start, end := j, j+len(tok)
		if start > 0 && (s[start-1] == ' ' || s[start-1] == '\t') {
			start--
		} else if end < len(s) && (s[end] == ' ' || s[end] == '\t') {
			end++
		}
		s = s[:start] + s[end:]
	}
}

// addWord appends param to a one-line command line file
// (/etc/kernel/cmdline), before its final newline.
func addWord(src []byte, param string) []byte {
	s := string(src)
	body := strings.TrimRight(s, "\n")
	nl := s[len(body):]
	if strings.TrimSpace(body) == "" {
		return []byte(body + param + nl)
	}
	return []byte(body + " " + param + nl)
}

// removeWord takes param out of a command line file.
func removeWord(src []byte, param string) []byte {
	return []byte(removeToken(string(src), param))
}

// addOption appends param to the "options" line of a boot loader entry
// (Boot Loader Specification), adding one if there is none.
func addOption(src []byte, param string) []byte {
	lines := strings.SplitAfter(string(src), "\n")
	last := -1
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "options" {
			last = i
		}
	}
	if last < 0 {
		s := string(src)
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return []byte(s + "options " + param + "\n")
	}
	l := lines[last]
	body := strings.TrimRight(l, "\r\n")
	lines[last] = body + " " + param + l[len(body):]
	return []byte(strings.Join(lines, ""))
}

// removeOption takes param out of the "options" lines of an entry.
func removeOption(src []byte, param string) []byte {
	lines := strings.SplitAfter(string(src), "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "options" {
			body := strings.TrimRight(l, "\r\n")
			lines[i] = "options" + removeToken(body[len("options"):], param) + l[len(body):]
			if strings.TrimSpace(lines[i]) == "options" {
				lines[i] = "" // the line libreflash added
			}
		}
	}
	return []byte(strings.Join(lines, ""))
}

// optionsHave says whether an entry's options line has param.
func optionsHave(src []byte, param string) bool {
	for _, l := range strings.Split(string(src), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "options" && hasToken(l, param) {
			return true
		}
	}
	return false
}

// appendLine adds line at the end of a file.
func appendLine(src []byte, line string) []byte {
	out := append([]byte(nil), src...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line+"\n"...)
}

// removeLine deletes every line equal to line.
func removeLine(src []byte, line string) []byte {
	lines := strings.SplitAfter(string(src), "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.TrimRight(l, "\n") != line {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}
