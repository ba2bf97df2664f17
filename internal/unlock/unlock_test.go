package unlock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/runner"
)

// The tool's messages, as dell_flash_unlock.c prints them (upstream
// nic3-14159/dell-flash-unlock; err(3) prefixes the program name and
// appends strerror, and the exit status is errno).
const (
	armedOut = "Sending FDO override command to EC:\nFlash Descriptor Override enabled.\nShut down (don't reboot) now.\n\n" +
		"The EC may auto-boot on some systems; if not then manually power on.\n When the system boots rerun this utility to finish unlocking.\n"
	disabledOut = "SMIs disabled. Internal flashing should work now.\n After flashing, re-run this utility to enable SMIs.\n (shutdown is buggy when SMIs are disabled)\n"
	unlockedOut = "Flash is unlocked.\nInternal flashing should work.\n"
	enabledOut  = "SMIs enabled.\nYou can now shutdown the system.\n"
	ecTimeout   = "Sending FDO override command to EC:\ndell_flash_unlock: Timeout while waiting for EC!: Operation canceled\n"
)

// standIn writes an executable stand-in for the tool that prints out (to
// stdout, or stderr for lines starting with "dell_flash_unlock:") and
// exits with code, in a root-owned directory (the ownership rules apply).
func standIn(t *testing.T, out string, code int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("stand-in tools must be root's; these tests run as root")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("#!/bin/sh\n")
	for _, l := range strings.SplitAfter(out, "\n") {
		if l == "" {
			continue
		}
		redirect := ""
		if strings.HasPrefix(l, "dell_flash_unlock:") {
			redirect = " >&2"
		}
		sb.WriteString("printf '%s' '" + strings.ReplaceAll(l, "'", `'\''`) + "'" + redirect + "\n")
	}
	sb.WriteString("exit " + strconv.Itoa(code) + "\n")
	p := filepath.Join(dir, "dell_flash_unlock")
	if err := os.WriteFile(p, []byte(sb.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, path string, timeout time.Duration) (*Result, string, error) {
	t.Helper()
	tool, err := Find(FindOptions{Explicit: path})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	r, err := tool.Run(context.Background(), RunOptions{Log: &log, Timeout: timeout})
	return r, log.String(), err
}

func TestOutcomes(t *testing.T) {
	for _, tc := range []struct {
		out      string
		want     Outcome
		shutDown bool
	}{
		{armedOut, OverrideArmed, true},
		{disabledOut, SMIsDisabled, false},
		{unlockedOut, Unlocked, false},
		{enabledOut, SMIsEnabled, false},
	} {
		r, log, err := run(t, standIn(t, tc.out, 0), 0)
		if err != nil || r.Outcome != tc.want || r.ShutDown != tc.shutDown {
			t.Errorf("%s: got %+v, %v", tc.want, r, err)
		}
		if log != tc.out {
			t.Errorf("%s: log %q, want the tool's whole output", tc.want, log)
		}
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		code      int
		kind      string
		msg, hint string
	}{
		{"EC timeout", ecTimeout, 125, KindFailed, "the embedded controller did not answer", "nothing was lowered"},
		{"SMI lock", "dell_flash_unlock: Could not disable SMIs!: Operation canceled\n", 125, KindFailed, "SMI_LOCK", "Flash externally"},
		{"no iopl", "dell_flash_unlock: Could not access IO ports: Operation not permitted\n", 1, KindFailed, "I/O port access", "CONFIG_X86_IOPL_IOPERM"},
		{"RCBA", "dell_flash_unlock: Could not map RCBA: Operation not permitted\n", 1, KindFailed, "RCBA window", "iomem=relaxed"},
		{"devmem", "dell_flash_unlock: /dev/mem: Permission denied\n", 13, KindFailed, "/dev/mem could not be opened", "root"},
		{"LPC", "dell_flash_unlock: Can't forward I/O to LPC: Operation canceled\n", 125, KindFailed, "decode range", "flash externally"},
		{"unknown text", "Hello from another tool\n", 0, KindUnrecognised, "printed nothing libreflash recognises: Hello from another tool", "report it"},
		{"silent", "", 0, KindUnrecognised, "(no output)", "report it"},
		{"contradiction", disabledOut + enabledOut, 0, KindUnrecognised, "recognises", "report it"},
		{"success text, failed exit", disabledOut, 1, KindFailed, "reported smis_disabled but exited 1", "nothing was written"},
		{"unknown failure", "Segmentation fault\n", 139, KindFailed, "failed (exit 139): Segmentation fault", "nothing was written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, err := run(t, standIn(t, tc.out, tc.code), 0)
			var re *RunError
			if !errors.As(err, &re) || re.Kind != tc.kind {
				t.Fatalf("got %+v, %v; want a %s RunError", r, err, tc.kind)
			}
			if codeOf(err) != exitcode.Blocked {
				t.Errorf("exit code %d, want %d", codeOf(err), exitcode.Blocked)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(re.Hint(), tc.hint) {
				t.Errorf("error %q / hint %q; want %q / %q", err, re.Hint(), tc.msg, tc.hint)
			}
			if r.Outcome != "" {
				t.Errorf("outcome %s after a failure", r.Outcome)
			}
		})
	}
}

// A tool that hangs is stopped, process group and all, at the timeout.
func TestTimeout(t *testing.T) {
	p := standIn(t, "", 0)
	script := "#!/bin/sh\necho 'Sending FDO override command to EC:'\nsleep 60 &\nsleep 60\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, log, err := run(t, p, 300*time.Millisecond)
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindTimeout || codeOf(err) != exitcode.Blocked {
		t.Fatalf("got %v, want a timeout (exit 3)", err)
	}
	if !strings.Contains(err.Error(), "did not finish within 300ms") || !strings.Contains(log, "Sending FDO") {
		t.Errorf("error %q, log %q", err, log)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to stop a hung tool", d)
	}
}

func TestFind(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ownership tests need root")
	}
	empty := t.TempDir()
	_, err := Find(FindOptions{PathEnv: empty})
	var me *MissingError
	if !errors.As(err, &me) || codeOf(err) != exitcode.Blocked ||
		!strings.Contains(err.Error(), "no dell_flash_unlock found (searched "+empty+")") ||
		!strings.Contains(me.Hint(), "util/dell-flash-unlock") || !strings.Contains(me.Hint(), "--unlock-tool") {
		t.Errorf("missing: %v / %v", err, hintOf(err))
	}
	if _, err := Find(FindOptions{Explicit: filepath.Join(empty, "nosuch")}); !errors.As(err, &me) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("explicit missing: %v", err)
	}

	p := standIn(t, enabledOut, 0)
	tool, err := Find(FindOptions{PathEnv: filepath.Dir(p)})
	if err != nil || tool.Path != p {
		t.Errorf("search: %+v %v", tool, err)
	}
	// The same binary under the old name is found too.
	old := filepath.Join(filepath.Dir(p), "e6400_flash_unlock")
	if err := os.Rename(p, old); err != nil {
		t.Fatal(err)
	}
	if tool, err := Find(FindOptions{PathEnv: filepath.Dir(p)}); err != nil || tool.Path != old {
		t.Errorf("old name: %+v %v", tool, err)
	}

	// Not root's: a user could swap what root runs.
	if err := os.Chown(old, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	_, err = Find(FindOptions{Explicit: old})
	var ie *runner.InsecureError
	if !errors.As(err, &ie) || codeOf(err) != exitcode.Blocked || !strings.Contains(err.Error(), "owned by uid 1000") {
		t.Errorf("user-owned tool: %v", err)
	}
	if err := os.Chown(old, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(FindOptions{Explicit: old}); !errors.As(err, &me) || !strings.Contains(err.Error(), "not an executable file") {
		t.Errorf("not executable: %v", err)
	}
}

func codeOf(err error) int {
	var c exitcode.Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return -1
}

func TestParseChunks(t *testing.T) {
	// Parse sees the whole output; lines split across writes still count.
	if o, ok := Parse(armedOut); !ok || o != OverrideArmed {
		t.Errorf("armed: %s %v", o, ok)
	}
	if _, ok := Parse("Flash Descriptor Override enabled.\n"); ok {
		t.Error("half of the armed message taken as the outcome")
	}
}
