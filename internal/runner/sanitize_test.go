package runner

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text\twith tab\n", "plain text\twith tab\n"},
		{"\x1b[1;31mWarning:\x1b[0m red", "Warning: red"},
		{"title\x1b]0;pwned\x07 after", "title after"},
		{"osc with st\x1b]8;;http://x\x1b\\link", "osc with stlink"},
		{"\x1b(Bcharset", "charset"},
		{"8-bit csi \u009b31m here", "8-bit csi  here"},
		{"c1 \u0085 next line", "c1  next line"},
		{"bell\a back\b space\r cr\x7f", "bell back space cr"},
		{"bidi \u202erm -rf /\u202c \u2066x\u2069", "bidi rm -rf / x"},
		{"bad \xff\xfe utf-8", "bad \uFFFD\uFFFD utf-8"},
		{"unterminated \x1b[31", "unterminated "},
		{"broken csi \x1b[3\nnext line", "broken csi \nnext line"},
		{"ünïcödé ok", "ünïcödé ok"},
	} {
		if got := Sanitize(tc.in); got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzSanitize: whatever the input, the output is valid UTF-8 without
// escape or control characters (newline and tab aside), never longer than
// the input allows, and sanitising twice changes nothing.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"\x1b[31mred\x1b[0m", "\u009b2J", "\xff\u202e", "a\x1b]0;t\x07b", "ok\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Sanitize(in)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 %q", out)
		}
		for _, r := range out {
			if r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f || isBidiControl(r) {
				t.Fatalf("control %U in %q", r, out)
			}
		}
		// U+FFFD (3 bytes) may stand for one invalid byte
		if len(out) > 3*len(in) {
			t.Fatalf("%d bytes from %d", len(out), len(in))
		}
		if again := Sanitize(out); again != out {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
		if strings.ContainsRune(out, 0x1b) {
			t.Fatalf("ESC in %q", out)
		}
	})
}
