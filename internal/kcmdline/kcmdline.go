// Package kcmdline splits a kernel command line the way the kernel does
// (lib/cmdline.c next_arg): arguments are separated by white space, double
// quotes group white space into one argument and are dropped, and a bare
// "--" ends the kernel's own arguments (what follows belongs to init).
//
// libreflash reads /proc/cmdline to learn whether iomem=relaxed is in effect
// and to confirm, after a reboot, that the change it made took effect; a
// naive strings.Fields would be fooled by quoted values and by "--".
package kcmdline

import "strings"

// Param is one kernel argument. Value is empty and HasValue false for a flag
// such as "quiet".
type Param struct {
	Key      string
	Value    string
	HasValue bool
}

// String renders p as it would appear on a command line, quoting a value
// that contains white space.
func (p Param) String() string {
	if !p.HasValue {
		return p.Key
	}
	v := p.Value
	if strings.ContainsAny(v, " \t\n") {
		v = `"` + v + `"`
	}
	return p.Key + "=" + v
}

// Parse returns the kernel's arguments from line, stopping at "--".
func Parse(line string) []Param {
	var out []Param
	for _, a := range split(line) {
		if a == "--" {
			break
		}
		k, v, ok := strings.Cut(a, "=")
		out = append(out, Param{Key: k, Value: v, HasValue: ok})
	}
	return out
}

// split tokenises like next_arg: a quote toggles "in quotes" anywhere in a
// token, and quote characters themselves are removed.
func split(line string) []string {
	var (
		out   []string
		cur   strings.Builder
		inQ   bool
		inTok bool
	)
	for _, r := range line {
		switch {
		case r == '"':
			inQ = !inQ
			inTok = true
		case !inQ && (r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0):
			if inTok {
				out = append(out, cur.String())
				cur.Reset()
				inTok = false
			}
		default:
			cur.WriteRune(r)
			inTok = true
		}
	}
	if inTok {
		out = append(out, cur.String())
	}
	return out
}

// Lookup returns the value of the last occurrence of key (the kernel lets a
// later argument override an earlier one) and whether key was present.
func Lookup(params []Param, key string) (Param, bool) {
	var (
		found Param
		ok    bool
	)
	for _, p := range params {
		if normKey(p.Key) == normKey(key) {
			found, ok = p, true
		}
	}
	return found, ok
}

// Has reports whether key=value (or the flag key, when value is "") is in
// effect.
func Has(params []Param, key, value string) bool {
	p, ok := Lookup(params, key)
	if !ok {
		return false
	}
	if value == "" {
		return true
	}
	return p.Value == value
}

// normKey folds '-' to '_' as the kernel does when matching parameter names.
func normKey(k string) string { return strings.ReplaceAll(k, "-", "_") }
