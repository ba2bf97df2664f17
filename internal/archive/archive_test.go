package archive

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/exitcode"
)

// Archives here are made the way a release is: real tar and xz, sha512sum
// beside the archive, and a detached signature by real gpg with a key made
// for the test (in a private GNUPGHOME).

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/test.sh installs it)", tool)
		}
	}
}

func sh(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// signer is a test OpenPGP key in its own GNUPGHOME.
type signer struct {
	env     []string
	pubring string // exported public key
	fpr     string
}

func newSigner(t *testing.T, name string) *signer {
	t.Helper()
	need(t, "gpg")
	home, err := os.MkdirTemp("", "lf-gpg-") // short: gpg-agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &signer{env: []string{"GNUPGHOME=" + home}}
	sh(t, home, s.env, "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
		"--quick-gen-key", name+" <"+name+"@example.invalid>", "ed25519", "sign", "never")
	for _, l := range strings.Split(sh(t, home, s.env, "gpg", "--batch", "--with-colons", "--list-keys"), "\n") {
		if f := strings.Split(l, ":"); len(f) > 9 && f[0] == "fpr" && s.fpr == "" {
			s.fpr = f[9]
		}
	}
	s.pubring = filepath.Join(home, "pub.asc")
	sh(t, home, s.env, "gpg", "--batch", "--armor", "--output", s.pubring, "--export", s.fpr)
	return s
}

func (s *signer) sign(t *testing.T, file string) {
	t.Helper()
	sh(t, filepath.Dir(file), s.env, "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
		"--yes", "--detach-sign", "--output", file+".sig", file)
}

// release builds dir/libreboot-25.06_x230_12mb.tar.xz from files (path in
// the archive → contents) with real tar and xz, and its .sha512.
func release(t *testing.T, files map[string][]byte, extraTar ...string) string {
	t.Helper()
	need(t, "tar", "xz", "sha512sum")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	var names []string
	for name, data := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	name := "libreboot-25.06_x230_12mb.tar.xz"
	args := append([]string{"-cJf", filepath.Join(dir, name)}, extraTar...)
	sh(t, src, nil, "tar", append(args, names...)...)
	out := sh(t, dir, nil, "sha512sum", "./"+name)
	if err := os.WriteFile(filepath.Join(dir, name+".sha512"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// img is a distinct image of size bytes: a random head, then zeros, so
// that xz packs it quickly.
func img(size int) []byte {
	b := make([]byte, size)
	_, _ = rand.Read(b[:4096])
	return b
}

const (
	grubUS   = "bin/x230_12mb/grub_x230_12mb_libgfxinit_corebootfb_usqwerty.rom"
	seagrub  = "bin/x230_12mb/seagrub_x230_12mb_libgfxinit_corebootfb_deqwertz.rom"
	seabios8 = "bin/x230_12mb/seabios_x230_12mb_libgfxinit_txtmode.rom"
)

func standard() map[string][]byte {
	return map[string][]byte{
		grubUS:                      img(12 << 20),
		seagrub:                     img(12 << 20),
		"bin/x230_12mb/version":     []byte("25.06\n"),
		"bin/x230_12mb/projectname": []byte("libreboot\n"),
	}
}

func sizeIs(n int64) Fit {
	return func(r *ROM) (bool, string) {
		if r.Size != n {
			return false, "wrong size"
		}
		return true, ""
	}
}

func blocked(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("opened; want a refusal")
	}
	var c exitcode.Coder
	if !errors.As(err, &c) || c.ExitCode() != exitcode.Blocked {
		t.Fatalf("%v: want exit %d", err, exitcode.Blocked)
	}
	var h exitcode.Hinter
	msg := err.Error()
	if errors.As(err, &h) {
		msg += "\n" + h.Hint()
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("refusal %q lacks %q", msg, w)
		}
	}
}

func TestOpenGoodRelease(t *testing.T) {
	s := newSigner(t, "release")
	p := release(t, standard())
	s.sign(t, p)
	r, err := Open(p, Options{Keyring: s.pubring})
	if err != nil {
		t.Fatal(err)
	}
	if r.Project != "libreboot" || r.Version != "25.06" || r.Target != "x230_12mb" {
		t.Errorf("name parsed as %q %q %q", r.Project, r.Version, r.Target)
	}
	v := r.Verified
	if v.Signature != "good" || v.Signer != s.fpr || v.ReleaseKey {
		t.Errorf("verification %+v, want good by %s (not a Libreboot key)", v, s.fpr)
	}
	if len(v.Checksums) != 1 || !strings.HasSuffix(v.Checksums[0], ".sha512") {
		t.Errorf("checksums %v", v.Checksums)
	}
	if len(r.ROMs) != 2 {
		t.Fatalf("roms %v", r.names(r.ROMs))
	}
	g := r.ROMs[0]
	if g.Payload != "grub" || g.Board != "x230_12mb" || g.InitMode != "libgfxinit" || g.Display != "corebootfb" || g.Keymap != "usqwerty" || g.Uninjected {
		t.Errorf("grub image parsed as %+v", g)
	}
	if !bytes.Equal(g.Bytes(), standard()[grubUS][:0]) && len(g.Bytes()) != 12<<20 {
		t.Errorf("image is %d bytes", len(g.Bytes()))
	}
	c, err := r.Choose("", sizeIs(12<<20))
	if err != nil {
		t.Fatal(err)
	}
	if c.ROM != nil || len(c.Candidates) != 2 {
		t.Fatalf("two payloads fit: want both offered, got %+v", c)
	}
	if err := ChooseError(r, c); !strings.Contains(err.(exitcode.Hinter).Hint(), "--rom seagrub_x230_12mb_libgfxinit_corebootfb_deqwertz.rom") {
		t.Errorf("choose hint: %v", err.(exitcode.Hinter).Hint())
	}
	c, err = r.Choose("seagrub_x230_12mb_libgfxinit_corebootfb_deqwertz", sizeIs(12<<20))
	if err != nil || c.ROM == nil || c.ROM.Payload != "seagrub" || c.ROM.Keymap != "deqwertz" {
		t.Fatalf("--rom: %+v %v", c, err)
	}
	if _, err := r.Choose("nosuch.rom", sizeIs(12<<20)); err == nil || err.(exitcode.Coder).ExitCode() != exitcode.Usage {
		t.Errorf("--rom of no image: %v, want a usage error", err)
	}
}

func TestOpenRefusesTampered(t *testing.T) {
	s := newSigner(t, "release")
	p := release(t, standard())
	s.sign(t, p)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	_, err = Open(p, Options{Keyring: s.pubring})
	blocked(t, err, "does not match", ".sha512")

	// The checksum made again to match: the signature still tells.
	out := sh(t, filepath.Dir(p), nil, "sha512sum", filepath.Base(p))
	os.WriteFile(p+".sha512", []byte(out), 0o644)
	_, err = Open(p, Options{Keyring: s.pubring})
	blocked(t, err, "bad signature", "changed after signing")
}

func TestOpenRefusesWrongKeyAndMissingFiles(t *testing.T) {
	s, other := newSigner(t, "release"), newSigner(t, "mallory")
	p := release(t, standard())
	other.sign(t, p)
	_, err := Open(p, Options{Keyring: s.pubring})
	blocked(t, err, "bad signature", "not made by a key in "+s.pubring)

	_, err = Open(p, Options{})
	blocked(t, err, "--keyring", "8BB1 F7D2 8CF7 696D BF4F 7192 5C65 4067 D383 B1FF", "--no-verify-signature")

	os.Remove(p + ".sig")
	_, err = Open(p, Options{Keyring: s.pubring})
	blocked(t, err, "no signature", ".sig", "--no-verify-signature")
	r, err := Open(p, Options{NoVerifySignature: true})
	if err != nil {
		t.Fatalf("--no-verify-signature: %v", err)
	}
	if r.Verified.Signature != "skipped" || len(r.Verified.Checksums) != 1 {
		t.Errorf("skipped signature recorded as %+v", r.Verified)
	}

	s.sign(t, p)
	os.Remove(p + ".sha512")
	_, err = Open(p, Options{Keyring: s.pubring})
	blocked(t, err, "no checksum file")
}

func TestChooseRefusesUninjectedAndMisfits(t *testing.T) {
	files := map[string][]byte{
		"bin/x230_12mb/" + UninjectedPrefix + "grub_x230_12mb_libgfxinit_corebootfb_usqwerty.rom": img(12<<20 + 1),
		"bin/x230_12mb/vendorhashes": []byte("0000  ./grub.rom\n"),
	}
	p := release(t, files)
	r, err := Open(p, Options{NoVerifySignature: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r.ROMs[0].Uninjected || r.ROMs[0].Payload != "grub" {
		t.Fatalf("uninjected image read as %+v", r.ROMs[0])
	}
	fits := func(*ROM) (bool, string) { return true, "" }
	_, err = r.Choose("", fits)
	blocked(t, err, "vendor files", "./mk inject libreboot-25.06_x230_12mb.tar.xz", "libreboot-25.06_src.tar.xz")
	_, err = r.Choose("grub_x230_12mb_libgfxinit_corebootfb_usqwerty.rom", fits)
	blocked(t, err, "./mk inject libreboot-25.06_x230_12mb.tar.xz")

	p = release(t, standard())
	r, err = Open(p, Options{NoVerifySignature: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Choose("", sizeIs(8<<20))
	blocked(t, err, "no image in libreboot-25.06_x230_12mb.tar.xz fits", "wrong size")
}

func TestOpenRefusesHostileEntries(t *testing.T) {
	outside := t.TempDir()
	cases := map[string]func(t *testing.T) string{
		"traversal": func(t *testing.T) string {
			need(t, "tar", "xz")
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
			os.WriteFile(filepath.Join(dir, "a", "evil.rom"), img(1<<20), 0o644)
			p := filepath.Join(dir, "libreboot-25.06_x230_12mb.tar.xz")
			// -P keeps the ../ in the member name, as a hostile archive has it.
			sh(t, filepath.Join(dir, "a", "b"), nil, "tar", "-cJPf", p, "../evil.rom")
			return p
		},
		"symlink": func(t *testing.T) string {
			need(t, "tar", "xz")
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "s", "bin", "x230_12mb"), 0o755)
			os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, "s", "bin", "x230_12mb", "grub_x230_12mb_vgarom.rom"))
			p := filepath.Join(dir, "libreboot-25.06_x230_12mb.tar.xz")
			sh(t, filepath.Join(dir, "s"), nil, "tar", "-cJf", p, "bin")
			return p
		},
		"huge": func(t *testing.T) string {
			return release(t, map[string][]byte{"bin/x230_12mb/grub_x230_12mb_vgarom.rom": make([]byte, MaxImage+2)})
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			p := mk(t)
			_, err := Open(p, Options{NoVerifySignature: true})
			blocked(t, err, "do not use it")
			for _, d := range []string{outside, filepath.Dir(filepath.Dir(p))} {
				if _, err := os.Stat(filepath.Join(d, "evil.rom")); err == nil {
					t.Errorf("evil.rom appeared in %s", d)
				}
			}
			if _, err := os.Lstat(filepath.Join(outside, "target")); err == nil {
				t.Error("the symlink's target was created")
			}
		})
	}
}

func TestSumFor(t *testing.T) {
	h := strings.Repeat("ab", 64)
	for in, want := range map[string]string{
		h + "  ./libreboot-25.06_x230_12mb.tar.xz\n": h,
		h + " *libreboot-25.06_x230_12mb.tar.xz\n":   h,
		h + "\n": h,
		strings.Repeat("cd", 64) + "  other.tar.xz\n" + h + "  x/libreboot-25.06_x230_12mb.tar.xz\n": h,
	} {
		got, err := sumFor([]byte(in), "libreboot-25.06_x230_12mb.tar.xz")
		if err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"hello\n", strings.Repeat("cd", 64) + "  a.tar.xz\n" + strings.Repeat("ef", 64) + "  b.tar.xz\n"} {
		if _, err := sumFor([]byte(bad), "libreboot-25.06_x230_12mb.tar.xz"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
