package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/testutil"

	"libreflash/internal/exitcode"
)

const systemFlashrom = "/usr/sbin/flashrom"

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the ownership check wants root-owned files, and chown needs root")
	}
}

func needFlashrom(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(systemFlashrom); err != nil {
		t.Skipf("%s not installed (scripts/test.sh installs it): %v", systemFlashrom, err)
	}
}

// fakeFlasher writes an executable shell script named name in a new
// root-owned 0755 directory; it prints the help fixture and exits 0.
func fakeFlasher(t *testing.T, name, fixture string) (dir, path string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fix, err := filepath.Abs(filepath.Join("testdata", "help", fixture))
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, name)
	script := "#!/bin/sh\ncat '" + fix + "'\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestFindSystemFlashrom(t *testing.T) {
	needRoot(t)
	needFlashrom(t)
	f, err := Find(context.Background(), FindOptions{Explicit: systemFlashrom})
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != "flashrom" || f.Version != "unknown" || f.Path != systemFlashrom {
		t.Errorf("got %+v, want flashrom unknown at %s", f, systemFlashrom)
	}
	want := Caps{FlashContents: true, IFD: true, Include: true, IncludeFile: true, Layout: true,
		FlashSize: true, FlashName: true, Noverify: true, WPOptions: true}
	if f.Caps != want {
		t.Errorf("caps %+v, want %+v (Debian 1.3.0 has no --progress)", f.Caps, want)
	}

	// Searching /usr/sbin finds the same binary.
	g, err := Find(context.Background(), FindOptions{PathEnv: "relative/dir:/usr/sbin"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Path != systemFlashrom {
		t.Errorf("search found %s", g.Path)
	}
}

func TestFindPrefersFlashprog(t *testing.T) {
	needRoot(t)
	needFlashrom(t)
	dir, _ := fakeFlasher(t, "flashprog", "flashprog-p1.5.txt")
	// flashrom comes first in the PATH, flashprog still wins.
	f, err := Find(context.Background(), FindOptions{PathEnv: "/usr/sbin:" + dir})
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != "flashprog" || f.Version != "p1.5-91-g79d5c66" || f.Path != filepath.Join(dir, "flashprog") {
		t.Errorf("got %+v", f)
	}
	if !f.Caps.Progress || !f.Caps.FlashContents || f.Caps.IncludeFile || f.Caps.WPOptions {
		t.Errorf("caps %+v", f.Caps)
	}
}

func TestFindNotFound(t *testing.T) {
	empty := t.TempDir()
	_, err := Find(context.Background(), FindOptions{PathEnv: empty})
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want *NotFoundError", err)
	}
	if nf.ExitCode() != exitcode.Blocked || nf.Cause() != "flasher_missing" || !strings.Contains(nf.Hint(), "apt install flashrom") {
		t.Errorf("exit %d cause %s hint %q", nf.ExitCode(), nf.Cause(), nf.Hint())
	}
	if !strings.Contains(err.Error(), empty) {
		t.Errorf("error does not say where it looked: %v", err)
	}

	_, err = Find(context.Background(), FindOptions{Explicit: filepath.Join(empty, "nosuch")})
	if !errors.As(err, &nf) || nf.Explicit == "" {
		t.Fatalf("got %v, want *NotFoundError for the explicit path", err)
	}
}

func TestFindNotAFlasher(t *testing.T) {
	needRoot(t)
	_, path := fakeFlasher(t, "flashrom", "README.md")
	_, err := Find(context.Background(), FindOptions{Explicit: path})
	var c exitcode.Coder
	if err == nil || !errors.As(err, &c) || c.ExitCode() != exitcode.Blocked {
		t.Fatalf("got %v, want a blocked error", err)
	}
	if !strings.Contains(err.Error(), "does not look like flashprog or flashrom") {
		t.Errorf("error: %v", err)
	}
}

func TestCheckOwnershipInsecure(t *testing.T) {
	needRoot(t)
	needFlashrom(t)
	const nobody = 65534
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir, path string) string // returns the path to check
		offender func(dir, path string) string
		reason   string
	}{
		{"world-writable binary", func(t *testing.T, dir, path string) string {
			must(t, os.Chmod(path, 0o757))
			return path
		}, func(_, p string) string { return p }, "writable by others"},
		{"group-writable binary", func(t *testing.T, dir, path string) string {
			must(t, os.Chmod(path, 0o775))
			return path
		}, func(_, p string) string { return p }, "writable by group"},
		{"binary owned by nobody", func(t *testing.T, dir, path string) string {
			must(t, os.Chown(path, nobody, nobody))
			return path
		}, func(_, p string) string { return p }, "owned by uid 65534"},
		{"world-writable directory", func(t *testing.T, dir, path string) string {
			must(t, os.Chmod(dir, 0o777))
			return path
		}, func(d, _ string) string { return d }, "writable by group and others"},
		{"directory owned by nobody", func(t *testing.T, dir, path string) string {
			must(t, os.Chown(dir, nobody, nobody))
			return path
		}, func(d, _ string) string { return d }, "owned by uid 65534"},
		{"safe symlink to binary in unsafe dir", func(t *testing.T, dir, path string) string {
			must(t, os.Chmod(dir, 0o777))
			link := filepath.Join(filepath.Dir(dir), "link")
			must(t, os.Symlink(path, link))
			return link
		}, func(d, _ string) string { return d }, "writable"},
		{"symlink in unsafe dir to safe binary", func(t *testing.T, dir, path string) string {
			must(t, os.Chmod(dir, 0o777))
			link := filepath.Join(dir, "flashrom-link")
			must(t, os.Symlink(systemFlashrom, link))
			return link
		}, func(d, _ string) string { return d }, "writable"},
		{"relative symlink through unsafe dir", func(t *testing.T, dir, path string) string {
			unsafe := filepath.Join(filepath.Dir(dir), "unsafe")
			must(t, os.Mkdir(unsafe, 0o755))
			must(t, os.Chmod(unsafe, 0o777))
			must(t, os.Symlink("../bin/flashrom", filepath.Join(unsafe, "hop")))
			link := filepath.Join(filepath.Dir(dir), "link")
			must(t, os.Symlink("unsafe/hop", link))
			return link
		}, func(d, _ string) string { return filepath.Join(filepath.Dir(d), "unsafe") }, "writable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, path := fakeFlasher(t, "flashrom", "flashrom-1.3.0-debian.txt")
			if err := CheckOwnership(path); err != nil {
				t.Fatalf("before setup: %v", err)
			}
			check := tt.setup(t, dir, path)
			err := CheckOwnership(check)
			var ie *InsecureError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want *InsecureError", err)
			}
			if ie.Offender != tt.offender(dir, path) || !strings.Contains(ie.Reason, tt.reason) {
				t.Errorf("offender %s (%s), want %s (%s)", ie.Offender, ie.Reason, tt.offender(dir, path), tt.reason)
			}
			if ie.ExitCode() != exitcode.Blocked || !strings.Contains(ie.Hint(), "chown root "+ie.Offender) ||
				!strings.Contains(ie.Hint(), "chmod go-w") {
				t.Errorf("exit %d hint %q", ie.ExitCode(), ie.Hint())
			}
			// Find refuses it too, before running it.
			if _, err := Find(context.Background(), FindOptions{Explicit: check}); !errors.As(err, &ie) {
				t.Errorf("Find: got %v, want *InsecureError", err)
			}
		})
	}
}

func TestCheckOwnershipSafe(t *testing.T) {
	needRoot(t)
	needFlashrom(t)
	if err := CheckOwnership(systemFlashrom); err != nil {
		t.Errorf("%s: %v", systemFlashrom, err)
	}
	// A root-owned entry in a sticky world-writable directory (/tmp) is
	// safe: others cannot replace it.
	dir, path := fakeFlasher(t, "flashrom", "flashrom-1.3.0-debian.txt")
	sticky := filepath.Join(filepath.Dir(dir), "sticky")
	must(t, os.Mkdir(sticky, 0o755))
	must(t, os.Chmod(sticky, os.ModeSticky|0o777))
	link := filepath.Join(sticky, "flashrom")
	must(t, os.Symlink(path, link))
	if err := CheckOwnership(link); err != nil {
		t.Errorf("symlink in sticky dir: %v", err)
	}
}

func TestParseBanner(t *testing.T) {
	tests := []struct{ in, kind, version string }{
		{"flashprog p1.5-91-g79d5c66 on Linux 6.18.44-fc-v769 (x86_64)\n", "flashprog", "p1.5-91-g79d5c66"},
		{"flashrom unknown on Linux 6.1.0-56-amd64 (x86_64)\nflashrom is free software", "flashrom", "unknown"},
		{"flashrom v1.7.0 on Linux 6.18.44-fc-v769 (x86_64)\n", "flashrom", "v1.7.0"},
		{"flashrom MrChromebox-v1.5.0 (git:v1.5.0-5-g255f289445) on Linux 6.8.0 (x86_64)\n", "flashrom", "MrChromebox-v1.5.0 (git:v1.5.0-5-g255f289445)"},
		{"flashprog v1.5 on OpenBSD 7.6 (amd64)\n", "flashprog", "v1.5"},
		{"Using default programmer\nflashprog HEAD-79d5c66 on Linux\n", "flashprog", "HEAD-79d5c66"},
		{"flashprog is free software, get the source code at https://flashprog.org\n", "", ""},
		{"hello\n", "", ""},
	}
	for _, tt := range tests {
		kind, version, ok := parseBanner(tt.in)
		if kind != tt.kind || version != tt.version || ok != (tt.kind != "") {
			t.Errorf("parseBanner(%q) = %q, %q, %v; want %q, %q", tt.in, kind, version, ok, tt.kind, tt.version)
		}
	}
}

func TestParseCaps(t *testing.T) {
	tests := []struct {
		fixture string
		want    Caps
	}{
		{"flashrom-1.3.0-debian.txt", Caps{FlashContents: true, IFD: true, Include: true, IncludeFile: true,
			Layout: true, FlashSize: true, FlashName: true, Noverify: true, WPOptions: true}},
		{"flashprog-p1.5.txt", Caps{Progress: true, FlashContents: true, IFD: true, Include: true,
			Layout: true, FlashSize: true, FlashName: true, Noverify: true}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", "help", tt.fixture))
		if err != nil {
			t.Fatal(err)
		}
		if got := parseCaps(string(b)); got != tt.want {
			t.Errorf("%s: got %+v\nwant %+v", tt.fixture, got, tt.want)
		}
	}
	b, err := os.ReadFile(filepath.Join(testutil.Flashers(t, "flashrom-1.7.0"), "help.stdout"))
	if err != nil {
		t.Fatal(err)
	}
	c := parseCaps(string(b))
	if want := (Caps{Progress: true, FlashContents: true, IFD: true, Include: true, IncludeFile: true,
		Layout: true, FlashSize: true, FlashName: true, Noverify: true, WPOptions: true}); c != want {
		t.Errorf("flashrom v1.7.0: got %+v\nwant %+v", c, want)
	}
	if a := (&Flasher{Caps: c}).NoVerifyArgs(); len(a) != 1 || a[0] != "--noverify" {
		t.Errorf("NoVerifyArgs %q", a)
	}
	if a := (&Flasher{}).NoVerifyArgs(); a != nil {
		t.Errorf("NoVerifyArgs without the option: %q", a)
	}
	// The version does not decide: a banner alone gives no capabilities.
	if got := parseCaps("flashprog v1.5 on Linux 6.1 (x86_64)\n"); got != (Caps{}) {
		t.Errorf("banner only: %+v", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
