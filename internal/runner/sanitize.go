package runner

import (
	"strings"
	"unicode/utf8"
)

// Sanitize makes text that came from a flasher (or any other program) safe
// to show on a terminal: escape sequences (CSI, OSC, two-byte ESC and the
// 8-bit CSI) and control characters other than newline and tab are
// removed, as are the Unicode controls that reorder what a terminal shows
// (bidirectional overrides and isolates), and invalid UTF-8 becomes
// U+FFFD. Everything runner hands out for display — Event.Text, error
// messages quoting the flasher, trace lines — has been through it; use it
// for any other flasher text shown to a user.
func Sanitize(s string) string {
	if safeASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	const (
		text = iota
		esc  // after ESC
		csi  // in a CSI sequence, up to its final byte
		osc  // in an OSC/DCS/APC/PM string, up to BEL or ST
		oscEsc
	)
	state := text
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			i++
			if state == text {
				b.WriteRune(utf8.RuneError)
			}
			continue
		}
		i += n
		switch state {
		case esc:
			switch r {
			case '[':
				state = csi
			case ']', 'P', '_', '^', 'X':
				state = osc
			default:
				if r >= 0x20 && r <= 0x2f {
					// intermediate bytes ("ESC ( B"): the final byte follows
					continue
				}
				state = text
			}
			continue
		case csi:
			if r >= 0x40 && r <= 0x7e {
				state = text
			}
			if r == '\n' {
				// a broken sequence never swallows a line end
				state = text
				b.WriteByte('\n')
			}
			continue
		case osc:
			switch r {
			case 0x07, 0x9c:
				state = text
			case 0x1b:
				state = oscEsc
			case '\n':
				state = text
				b.WriteByte('\n')
			}
			continue
		case oscEsc:
			state = text
			continue
		}
		switch {
		case r == 0x1b:
			state = esc
		case r == 0x9b:
			state = csi
		case r == 0x9d || r == 0x90 || r == 0x9e || r == 0x9f:
			state = osc
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
			// other control characters
		case isBidiControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// safeASCII reports whether s is printable ASCII, newlines and tabs only.
func safeASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// isBidiControl reports the invisible characters that change the order in
// which a terminal shows text (so "rm -rf" can be made to look like
// something else).
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
