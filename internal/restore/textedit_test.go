package restore

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/syntax"
)

func TestAddGrubArg(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"double", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\n", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash iomem=relaxed\"\n"},
		{"empty double", "GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n", "GRUB_CMDLINE_LINUX_DEFAULT=\"iomem=relaxed\"\n"},
		{"single", "GRUB_CMDLINE_LINUX_DEFAULT='quiet'\n", "GRUB_CMDLINE_LINUX_DEFAULT='quiet iomem=relaxed'\n"},
		{"bare", "GRUB_CMDLINE_LINUX_DEFAULT=quiet\n", "GRUB_CMDLINE_LINUX_DEFAULT=quiet\" iomem=relaxed\"\n"},
		{"nothing", "GRUB_CMDLINE_LINUX_DEFAULT=\n", "GRUB_CMDLINE_LINUX_DEFAULT=\"iomem=relaxed\"\n"},
		{"expansion", "GRUB_CMDLINE_LINUX_DEFAULT=\"$X quiet\"\n", "GRUB_CMDLINE_LINUX_DEFAULT=\"$X quiet iomem=relaxed\"\n"},
		{"export", "export GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n", "export GRUB_CMDLINE_LINUX_DEFAULT=\"quiet iomem=relaxed\"\n"},
		{"last wins", "GRUB_CMDLINE_LINUX_DEFAULT=\"a\"\n# comment GRUB_CMDLINE_LINUX_DEFAULT=\"c\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"b\" # trailing\n",
			"GRUB_CMDLINE_LINUX_DEFAULT=\"a\"\n# comment GRUB_CMDLINE_LINUX_DEFAULT=\"c\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"b iomem=relaxed\" # trailing\n"},
		{"continuation", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet \\\n  splash\"\nGRUB_TIMEOUT=5", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet \\\n  splash iomem=relaxed\"\nGRUB_TIMEOUT=5"},
		{"missing", "GRUB_TIMEOUT=5", "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"iomem=relaxed\"\n"},
		{"crlf kept", "GRUB_TIMEOUT=5\r\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\r\n", "GRUB_TIMEOUT=5\r\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet iomem=relaxed\"\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marked, err := addGrubArg([]byte(tc.in), iomemParam)
			if err != nil {
				t.Fatal(err)
			}
			// The marker follows the edited assignment on a line of its own.
			if !bytes.Contains(marked, []byte("\n"+grubMarker)) {
				t.Errorf("no marker line in %q", marked)
			}
			got := removeLine(marked, grubMarker)
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			if ok, _ := grubHasArg(got, iomemParam); !ok {
				t.Errorf("grubHasArg false after add")
			}
			back, err := removeGrubArg(marked, []byte(tc.in), iomemParam)
			if err != nil {
				t.Fatal(err)
			}
			// Removal takes back exactly what was added, except where a new
			// assignment was appended or a bare word was quoted.
			if tc.name != "missing" && tc.name != "bare" && tc.name != "nothing" && string(back) != tc.in {
				t.Errorf("remove: got %q want %q", back, tc.in)
			}
			checkShell(t, got, "quiet")
		})
	}
}

// checkShell sources an edited file with a real shell, as grub-mkconfig
// does, and checks the variable ends with iomem=relaxed.
func checkShell(t *testing.T, src []byte, _ string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		return
	}
	p := filepath.Join(t.TempDir(), "grub")
	os.WriteFile(p, src, 0o644)
	out, err := exec.Command(sh, "-c", `X=x; . "$0"; printf %s "$GRUB_CMDLINE_LINUX_DEFAULT"`, p).Output()
	if err != nil {
		if bytes.Contains(src, []byte("\r")) {
			return // sh does not take CRLF files; GRUB's own shell does not either
		}
		t.Fatalf("sh: %v", err)
	}
	if !strings.HasSuffix(strings.TrimRight(string(out), "\r"), "iomem=relaxed") {
		t.Errorf("sourced value %q", out)
	}
}

func TestAddGrubArgRefusesAppend(t *testing.T) {
	if _, err := addGrubArg([]byte("GRUB_CMDLINE_LINUX_DEFAULT+=\" x\"\n"), iomemParam); err == nil {
		t.Error("+= accepted")
	}
	if _, err := addGrubArg([]byte("GRUB_CMDLINE_LINUX_DEFAULT=\"unterminated\n"), iomemParam); err == nil {
		t.Error("unparsable file accepted")
	}
}

func TestRemoveGrubArgOnlyWholeArgs(t *testing.T) {
	in := "GRUB_CMDLINE_LINUX=\"iomem=relaxedx\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"iomem=relaxed quiet\"\n# iomem=relaxed\n"
	got, err := removeGrubArg([]byte(in), nil, iomemParam)
	if err != nil {
		t.Fatal(err)
	}
	want := "GRUB_CMDLINE_LINUX=\"iomem=relaxedx\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n# iomem=relaxed\n"
	if string(got) != want {
		t.Errorf("got %q", got)
	}
}

func TestOptionsAndWords(t *testing.T) {
	entry := "title Linux\noptions root=/dev/sda1 rw\n"
	added := addOption([]byte(entry), iomemParam)
	if string(added) != "title Linux\noptions root=/dev/sda1 rw iomem=relaxed\n" || !optionsHave(added, iomemParam) {
		t.Errorf("addOption: %q", added)
	}
	if got := string(removeOption(added, []byte(entry), iomemParam)); got != entry {
		t.Errorf("removeOption: %q", got)
	}
	none := addOption([]byte("title Linux\nlinux /vmlinuz"), iomemParam)
	if string(none) != "title Linux\nlinux /vmlinuz\noptions iomem=relaxed\n" {
		t.Errorf("addOption without options: %q", none)
	}
	if got := string(addWord([]byte("root=UUID=1 rw\n"), iomemParam)); got != "root=UUID=1 rw iomem=relaxed\n" {
		t.Errorf("addWord: %q", got)
	}
	if got := string(removeWord([]byte("root=UUID=1 rw iomem=relaxed\n"), nil, iomemParam)); got != "root=UUID=1 rw\n" {
		t.Errorf("removeWord: %q", got)
	}
	if got := string(removeLine(appendLine([]byte("a\nb"), "x=1"), "x=1")); got != "a\nb\n" {
		t.Errorf("removeLine: %q", got)
	}
}

// FuzzGrubEdit: for any file the shell parser accepts, adding the argument
// and then removing it gives the file back (when the value was quoted and
// did not have it already), and never touches bytes outside the value.
func FuzzGrubEdit(f *testing.F) {
	for _, s := range []string{debianGrub, ubuntuGrub, archGrub, "GRUB_CMDLINE_LINUX_DEFAULT='a b'\n", "export GRUB_CMDLINE_LINUX_DEFAULT=\"$x\"\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			grubHasArg(src, iomemParam)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("parser hangs on %q", src)
		}
		has, err := grubHasArg(src, iomemParam)
		if err != nil || has {
			return
		}
		out, err := addGrubArg(src, iomemParam)
		if err != nil {
			return
		}
		if ok, err := grubHasArg(out, iomemParam); err != nil || !ok {
			t.Fatalf("added but not found (%v):\n%q", err, out)
		}
		// Only insertions: without the marker line, src with one
		// contiguous run of bytes added.
		if bytes.HasSuffix(src, []byte("\n")) && !bytes.Contains(src, []byte(grubMarker)) {
			bare := removeLine(out, grubMarker)
			p := commonPrefix(src, bare)
			if !bytes.HasSuffix(bare, src[p:]) {
				t.Fatalf("edit changed bytes other than the inserted ones:\n%q\n%q", src, out)
			}
		}
		back, err := removeGrubArg(out, src, iomemParam)
		if err != nil {
			t.Fatalf("remove: %v", err)
		}
		if ok, _ := grubHasArg(back, iomemParam); ok {
			t.Fatalf("still there after remove: %q", back)
		}
		as, _ := grubAssigns(src, grubVarDefault)
		if len(as) == 0 || as[len(as)-1].Value == nil || len(as[len(as)-1].Value.Parts) == 0 {
			return
		}
		parts := as[len(as)-1].Value.Parts
		switch q := parts[len(parts)-1].(type) {
		case *syntax.DblQuoted:
		case *syntax.SglQuoted:
			if q.Dollar {
				return
			}
		default:
			return
		}
		if !bytes.Equal(back, src) {
			t.Fatalf("remove(add(src)) != src:\n%q\n%q", src, back)
		}
	})
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
