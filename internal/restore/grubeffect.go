package restore

import (
	"bytes"
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// grubMarker follows the line libreflash edited in /etc/default/grub, so
// that the edit is found again even without a journal (Orphans).
const grubMarker = "# libreflash: iomem=relaxed was added to the assignment above by 'libreflash prepare'; 'libreflash restore' takes it out"

// AmbiguousGrubError says libreflash cannot tell which assignment of a
// variable takes effect when grub-mkconfig sources /etc/default/grub, so it
// does not edit the file.
type AmbiguousGrubError struct{ Name, Reason string }

func (e *AmbiguousGrubError) Error() string {
	return fmt.Sprintf("cannot tell which %s takes effect in /etc/default/grub: %s", e.Name, e.Reason)
}

func parseGrub(src []byte) (*syntax.File, error) {
	f, err := syntax.NewParser(syntax.KeepComments(true), syntax.Variant(syntax.LangBash)).
		Parse(bytes.NewReader(src), "/etc/default/grub")
	if err != nil {
		return nil, fmt.Errorf("cannot parse /etc/default/grub: %w", err)
	}
	return f, nil
}

// grubEffective returns the assignment of name that takes effect when the
// file is sourced: the last plain (or exported) assignment among the
// file's top-level commands; nil when there is none. Anything that could
// set or unset name in a way that depends on more than the order of those
// commands makes it *AmbiguousGrubError: an assignment inside if/else, a
// loop, a function, a subshell, a && or || list or a background command;
// unset, read, readonly, declare and the like naming it; ${name:=...};
// source, . and eval anywhere (they could set anything).
func grubEffective(f *syntax.File, name string) (*syntax.Assign, error) {
	top := map[*syntax.Assign]bool{}
	var last *syntax.Assign
	for _, st := range f.Stmts {
		if st.Background || st.Coprocess || st.Negated {
			continue
		}
		var as []*syntax.Assign
		switch x := st.Cmd.(type) {
		case *syntax.CallExpr:
			if len(x.Args) == 0 {
				as = x.Assigns
			}
		case *syntax.DeclClause:
			if x.Variant != nil && x.Variant.Value == "export" {
				as = x.Args
			}
		}
		for _, a := range as {
			if a.Name != nil && a.Name.Value == name && !a.Naked {
				top[a] = true
				last = a
			}
		}
	}
	amb := func(why string) error { return &AmbiguousGrubError{Name: name, Reason: why} }
	var err error
	syntax.Walk(f, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		switch x := n.(type) {
		case *syntax.Assign:
			if x.Name != nil && x.Name.Value == name && !x.Naked && !top[x] {
				err = amb("it is assigned inside a condition, loop, function, list or command")
			}
			if x.Name != nil && x.Name.Value == name && (x.Array != nil || x.Index != nil) {
				err = amb("it is assigned as an array")
			}
		case *syntax.DeclClause:
			if x.Variant != nil && x.Variant.Value != "export" {
				for _, a := range x.Args {
					if a.Name != nil && a.Name.Value == name {
						err = amb("it is declared with " + x.Variant.Value)
					}
				}
			}
		case *syntax.CallExpr:
			if len(x.Args) == 0 {
				break
			}
			switch cmd := x.Args[0].Lit(); cmd {
			case "source", ".", "eval":
				err = amb("the file runs " + cmd + ", which could set it")
				return false
			}
			for _, a := range x.Args[1:] {
				if l := a.Lit(); l == name || strings.HasPrefix(l, name+"=") {
					err = amb("the command " + x.Args[0].Lit() + " names it")
				}
			}
		case *syntax.ParamExp:
			if x.Param != nil && x.Param.Value == name && x.Exp != nil &&
				(x.Exp.Op == syntax.AssignUnset || x.Exp.Op == syntax.AssignUnsetOrNull) {
				err = amb("it is assigned by ${" + name + x.Exp.Op.String() + "...}")
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return last, nil
}

// grubValue returns the source text of a's value ("" for none).
func grubValue(src []byte, a *syntax.Assign) string {
	if a == nil || a.Value == nil {
		return ""
	}
	return string(src[a.Value.Pos().Offset():a.Value.End().Offset()])
}

// grubEffectiveHas says whether the value of name that takes effect has
// param as a word.
func grubEffectiveHas(src []byte, name, param string) (bool, error) {
	f, err := parseGrub(src)
	if err != nil {
		return false, err
	}
	a, err := grubEffective(f, name)
	if err != nil {
		return false, err
	}
	return hasToken(grubValue(src, a), param), nil
}

// insertMarker puts grubMarker on its own line after the line on which the
// byte at offset end lies.
func insertMarker(src []byte, end int) []byte {
	nl := "\n"
	i := bytes.IndexByte(src[end:], '\n')
	var at int
	if i < 0 {
		at = len(src)
	} else {
		at = end + i + 1
		if at >= 2 && src[at-2] == '\r' {
			nl = "\r\n"
		}
	}
	out := make([]byte, 0, len(src)+len(grubMarker)+2)
	out = append(out, src[:at]...)
	if i < 0 {
		out = append(out, nl...)
	}
	out = append(out, grubMarker+nl...)
	return append(out, src[at:]...)
}

// countTokens counts the whole-argument occurrences of tok in s.
func countTokens(s, tok string) int {
	n := 0
	for i := 0; ; n++ {
		j := tokenIndex(s, tok, i)
		if j < 0 {
			return n
		}
		i = j + 1
	}
}

// removeLastToken removes the last whole-argument occurrence of tok from s
// together with one adjoining blank (the one before it, else the one
// after), which is exactly what adding " tok" or "tok " put there.
func removeLastToken(s, tok string) (string, bool) {
	last := -1
	for i := 0; ; {
		j := tokenIndex(s, tok, i)
		if j < 0 {
			break
		}
		last, i = j, j+1
	}
	if last < 0 {
		return s, false
	}
	start, end := last, last+len(tok)
	if start > 0 && (s[start-1] == ' ' || s[start-1] == '\t') {
		start--
	} else if end < len(s) && (s[end] == ' ' || s[end] == '\t') {
		end++
	}
	return s[:start] + s[end:], true
}

// removeAdded takes out of cur, last first, the occurrences of an argument
// beyond the number orig had: what libreflash added goes, what the user
// had before stays. count counts them; removeLast removes the last one.
func removeAdded(cur, orig []byte, count func([]byte) int, removeLast func([]byte) ([]byte, bool)) []byte {
	keep := count(orig)
	out := cur
	for count(out) > keep {
		next, ok := removeLast(out)
		if !ok {
			break
		}
		out = next
	}
	return out
}
