package restore

import (
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
	f, err := parseGrub(src)
	if err != nil {
		return nil, err
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

// grubHasArg says whether the GRUB_CMDLINE_LINUX or
// GRUB_CMDLINE_LINUX_DEFAULT that takes effect in src has param as a word;
// where that cannot be told (grubEffective), whether any assignment to
// them has it.
func grubHasArg(src []byte, param string) (bool, error) {
	sure := true
	for _, name := range []string{grubVarDefault, grubVarLinux} {
		ok, err := grubEffectiveHas(src, name, param)
		if ok {
			return true, nil
		}
		if err != nil {
			sure = false
		}
	}
	if sure {
		return false, nil
	}
	as, err := grubAssigns(src, grubVarDefault, grubVarLinux)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if hasToken(grubValue(src, a), param) {
			return true, nil
		}
	}
	return false, nil
}

// addGrubArg adds param to the assignment of GRUB_CMDLINE_LINUX_DEFAULT
// that takes effect when the file is sourced (grubEffective), changing only
// the bytes of that value, and puts grubMarker on the line after it. With
// no assignment, one is appended at the end of the file. It refuses
// (*AmbiguousGrubError) when it cannot tell which assignment takes effect.
func addGrubArg(src []byte, param string) ([]byte, error) {
	out, err := addGrubArgUnchecked(src, param)
	if err != nil {
		return nil, err
	}
	// Whatever the file looked like, the result must parse and have the
	// argument where grub-mkconfig will see it; otherwise leave it alone.
	if ok, err := grubEffectiveHas(out, grubVarDefault, param); err != nil || !ok {
		return nil, errors.New("cannot add iomem=relaxed to /etc/default/grub safely; add it by hand")
	}
	return out, nil
}

func addGrubArgUnchecked(src []byte, param string) ([]byte, error) {
	f, err := parseGrub(src)
	if err != nil {
		return nil, err
	}
	a, err := grubEffective(f, grubVarDefault)
	if err != nil {
		return nil, err
	}
	if a == nil {
		out := append([]byte(nil), src...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, fmt.Sprintf("%s=%q\n%s\n", grubVarDefault, param, grubMarker)...), nil
	}
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
	out = append(out, src[at:]...)
	return insertMarker(out, int(a.End().Offset())+len(ins)), nil
}

// removeGrubArg takes out of the GRUB_CMDLINE_LINUX(_DEFAULT) assignments
// of cur the occurrences of param beyond those orig (the file before
// libreflash changed it) had, last first, and libreflash's marker line,
// leaving everything else as it is.
func removeGrubArg(cur, orig []byte, param string) ([]byte, error) {
	if _, err := parseGrub(cur); err != nil {
		return nil, err
	}
	count := func(b []byte) int {
		as, _ := grubAssigns(b, grubVarDefault, grubVarLinux)
		n := 0
		for _, a := range as {
			n += countTokens(grubValue(b, a), param)
		}
		return n
	}
	out := removeAdded(removeLine(cur, grubMarker), orig, count, func(b []byte) ([]byte, bool) {
		return grubRemoveLast(b, param)
	})
	return out, nil
}

// grubRemoveLast removes the last occurrence of param in the last
// GRUB_CMDLINE_LINUX(_DEFAULT) assignment that has it.
func grubRemoveLast(src []byte, param string) ([]byte, bool) {
	as, err := grubAssigns(src, grubVarDefault, grubVarLinux)
	if err != nil {
		return src, false
	}
	for i := len(as) - 1; i >= 0; i-- {
		w := as[i].Value
		if w == nil {
			continue
		}
		s, e := int(w.Pos().Offset()), int(w.End().Offset())
		nt, ok := removeLastToken(string(src[s:e]), param)
		if !ok {
			continue
		}
		out := append([]byte(nil), src[:s]...)
		out = append(out, nt...)
		return append(out, src[e:]...), true
	}
	return src, false
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

// removeWord takes out of a command line file the occurrences of param
// beyond those orig had.
func removeWord(cur, orig []byte, param string) []byte {
	return removeAdded(cur, orig, func(b []byte) int { return countTokens(string(b), param) },
		func(b []byte) ([]byte, bool) {
			s, ok := removeLastToken(string(b), param)
			return []byte(s), ok
		})
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

// removeOption takes out of the "options" lines of an entry the
// occurrences of param beyond those orig had, last first; an options line
// left empty was libreflash's and goes.
func removeOption(cur, orig []byte, param string) []byte {
	count := func(b []byte) int {
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "options" {
				n += countTokens(l, param)
			}
		}
		return n
	}
	return removeAdded(cur, orig, count, func(b []byte) ([]byte, bool) {
		lines := strings.SplitAfter(string(b), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			l := lines[i]
			if f := strings.Fields(l); len(f) == 0 || f[0] != "options" {
				continue
			}
			body := strings.TrimRight(l, "\r\n")
			rest, ok := removeLastToken(body[len("options"):], param)
			if !ok {
				continue
			}
			lines[i] = "options" + rest + l[len(body):]
			if strings.TrimSpace(lines[i]) == "options" {
				lines[i] = "" // the line libreflash added
			}
			return []byte(strings.Join(lines, "")), true
		}
		return b, false
	})
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
		if strings.TrimRight(l, "\r\n") != line {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}
