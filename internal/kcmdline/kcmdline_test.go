package kcmdline

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"BOOT_IMAGE=/vmlinuz-6.1.0-26-amd64 root=UUID=1234 ro quiet\n",
			[]string{"BOOT_IMAGE=/vmlinuz-6.1.0-26-amd64", "root=UUID=1234", "ro", "quiet"}},
		{`root=/dev/sda1 iomem=relaxed -- iomem=strict`, []string{"root=/dev/sda1", "iomem=relaxed"}},
		{`dyndbg="file x.c +p" iomem=relaxed`, []string{"dyndbg=file x.c +p", "iomem=relaxed"}},
		{`"iomem=relaxed"`, []string{"iomem=relaxed"}},
		{`a   b	c`, []string{"a", "b", "c"}},
		{``, nil},
		{`""`, []string{""}},
		{`unterminated="a b`, []string{"unterminated=a b"}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range Parse(tt.in) {
			got = append(got, p.String())
		}
		// String re-quotes values with spaces; compare unquoted forms.
		var gotRaw []string
		for _, p := range Parse(tt.in) {
			if p.HasValue {
				gotRaw = append(gotRaw, p.Key+"="+p.Value)
			} else {
				gotRaw = append(gotRaw, p.Key)
			}
		}
		if !reflect.DeepEqual(gotRaw, tt.want) {
			t.Errorf("Parse(%q) = %q, want %q (rendered %q)", tt.in, gotRaw, tt.want, got)
		}
	}
}

func TestHasLastWins(t *testing.T) {
	p := Parse("iomem=relaxed quiet iomem=strict")
	if Has(p, "iomem", "relaxed") {
		t.Error("later iomem=strict must override iomem=relaxed")
	}
	if !Has(p, "iomem", "strict") || !Has(p, "quiet", "") {
		t.Error("missing expected params")
	}
	if !Has(Parse("foo-bar=1"), "foo_bar", "1") {
		t.Error("dash and underscore must match")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`a="b c" -- d`, `"x=y`, "iomem=relaxed\x00", "  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps := Parse(s)
		if len(ps) > len(s)+1 {
			t.Fatalf("%d params from %d bytes", len(ps), len(s))
		}
		// Rendering and re-parsing a parameter without quotes or NUL in it
		// must give the same parameter back.
		for _, p := range ps {
			if !utf8.ValidString(p.Value) {
				continue
			}
			r := Parse(p.String())
			if p.Key == "" || containsAny(p.Key+p.Value, "\"\x00\r\v\f") || p.Key == "--" {
				continue
			}
			if len(r) != 1 || r[0] != p {
				t.Fatalf("round trip of %#v gave %#v", p, r)
			}
		}
	})
}

func containsAny(s, chars string) bool {
	for _, c := range chars {
		for _, d := range s {
			if c == d {
				return true
			}
		}
	}
	return false
}
