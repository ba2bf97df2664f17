package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"libreflash/internal/exitcode"
	"libreflash/internal/runner"
)

// reportError is the one place errors become exit codes and messages.
func TestReportError(t *testing.T) {
	blocked := exitcode.New(exitcode.Blocked, "fix it", "blocked by %s", "iopl")
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"nil", nil, 0, ""},
		{"plain", errors.New("boom"), 1, "libreflash: error: boom\n"},
		{"cobra usage", errors.New(`unknown flag: --nope`), 2,
			"libreflash: error: unknown flag: --nope\nlibreflash: hint: run 'libreflash help' or add --help to the command for usage\n"},
		{"coded, wrapped", fmt.Errorf("install: %w", blocked), 3, "libreflash: error: install: blocked by iopl\nlibreflash: hint: fix it\n"},
		{"cancelled flasher", &runner.CancelledError{Argv: []string{"/usr/sbin/flashrom", "--help"}}, 130,
			"libreflash: error: flashrom: cancelled\n"},
		{"multi-line", exitcode.New(exitcode.Unknown, "a\nb", "one\ntwo"), 5,
			"libreflash: error: one\nlibreflash: error: two\nlibreflash: hint: a\nlibreflash: hint: b\n"},
		{"silent", silentExit(6), 6, ""},
		{"reported", reported(blocked), 3, ""},
	} {
		var stderr bytes.Buffer
		a := &app{stderr: &stderr}
		if code := a.reportError(tc.err); code != tc.code || stderr.String() != tc.stderr {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", tc.name, code, stderr.String(), tc.code, tc.stderr)
		}
	}
}

// Every one-document --json output starts with its schema version.
func TestWriteJSONSchema(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{map[string]any{"ok": true}, "{\n  \"schema\": 1,\n  \"ok\": true\n}\n"},
		{struct{}{}, "{\n  \"schema\": 1\n}\n"},
		{struct {
			Path string `json:"path"`
		}{"a<b"}, "{\n  \"schema\": 1,\n  \"path\": \"a\\u003cb\"\n}\n"},
	} {
		var out bytes.Buffer
		a := &app{stdout: &out}
		if err := a.writeJSON(tc.v); err != nil || out.String() != tc.want {
			t.Errorf("%#v: %q, %v; want %q", tc.v, out.String(), err, tc.want)
		}
	}
}
