package main

import (
	"testing"
)

func TestParseChipSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "8388608": 8 << 20, "12MiB": 12 << 20, "4M": 4 << 20, "512KiB": 512 << 10, "0x400000": 4 << 20} {
		got, err := parseChipSize(in)
		if err != nil || got != want {
			t.Errorf("parseChipSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"8GB", "-1", "0", "65MiB", "lots"} {
		if _, err := parseChipSize(in); err == nil {
			t.Errorf("parseChipSize(%q) accepted", in)
		}
	}
}
