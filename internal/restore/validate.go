package restore

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// backendsOf lists, per action, the backends prepare may journal.
var backendsOf = map[string][]string{
	ActionIomem: {BackendGrubDropin, BackendGrubEdit, BackendGrubby, BackendKernelstub,
		BackendKernelCmd, BackendLoaderEntry, BackendRpmOstree},
	ActionDrivers:      {backendModprobe},
	ActionSecurelevel:  {BackendOpenBSD, BackendNetBSD},
	ActionDellOverride: {BackendDellUnlock},
	ActionDellSMIs:     {BackendDellUnlock},
}

// backendModprobe is the unload-drivers backend.
const backendModprobe = "modprobe"

// loaderEntryGlobs are the boot loader entries prepare may edit.
var loaderEntryGlobs = []string{
	"/boot/loader/entries/*.conf", "/efi/loader/entries/*.conf", "/boot/efi/loader/entries/*.conf",
}

// kverRE is a kernel release as kernel-install takes it.
var kverRE = regexp.MustCompile(`^[A-Za-z0-9._+~-]+$`)

// validEntry refuses anything in an entry that its action and backend would
// not have written: the journal says which change to undo, and this keeps
// a journal from naming any other file, module or program.
func validEntry(e *Entry) error {
	if !slices.Contains(backendsOf[e.Action], e.Backend) {
		return fmt.Errorf("backend %q is not one of %s's", e.Backend, e.Action)
	}
	if (e.Action == ActionIomem) != (e.Param == iomemParam) || (e.Action != ActionIomem && e.Param != "") {
		return fmt.Errorf("kernel argument %q", e.Param)
	}
	if (e.Action == ActionDrivers) != (len(e.Modules) > 0) {
		return errors.New("modules listed for the wrong action, or none to reload")
	}
	for _, mod := range e.Modules {
		if !slices.Contains(conflictingModules, mod) && mod != "iTCO_wdt" {
			return fmt.Errorf("module %q is not one libreflash unloads", mod)
		}
	}
	for _, f := range e.Files {
		if f == nil {
			return errors.New("null file")
		}
		if err := validFile(e.Backend, f); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	for _, c := range append(append([]Command(nil), e.Apply...), e.Undo...) {
		if !filepath.IsAbs(c.Tool) || filepath.Clean(c.Tool) != c.Tool {
			return fmt.Errorf("tool %q is not an absolute path", c.Tool)
		}
	}
	if e.Backend == BackendDellUnlock {
		if len(e.Files) > 0 || len(e.Apply) > 0 || len(e.Undo) > 1 {
			return errors.New("a Dell unlock step names files or commands")
		}
		for _, c := range e.Undo {
			if !slices.Contains(DellToolNames, filepath.Base(c.Tool)) || len(c.Args) > 0 {
				return fmt.Errorf("tool %q is not the Dell unlock tool", c.Tool)
			}
		}
	}
	if e.Backend == BackendKernelCmd && len(e.Undo) > 0 {
		if _, err := kernelInstallRelease(e); err != nil {
			return err
		}
	}
	return nil
}

// validFile checks one file change against what backend writes.
func validFile(backend string, f *FileChange) error {
	if !filepath.IsAbs(f.Path) || filepath.Clean(f.Path) != f.Path {
		return errors.New("bad file path")
	}
	var ok bool
	fallback, remove := "", iomemParam
	switch backend {
	case BackendGrubDropin:
		ok, fallback = f.Path == grubDropinPath, "delete"
	case BackendGrubEdit:
		ok, fallback = f.Path == defaultGrubPath, "grub-var"
	case BackendKernelCmd, BackendLoaderEntry:
		ok, fallback = isLoaderEntry(f.Path), "options"
		if backend == BackendKernelCmd && f.Path == kernelCmdlinePath {
			ok, fallback = true, "words"
		}
	case BackendOpenBSD:
		ok, fallback, remove = f.Path == openbsdSecurelevelPath, "line", securelevelLine
	case BackendNetBSD:
		ok, fallback, remove = f.Path == netbsdRcConfPath, "line", securelevelLine
	}
	switch {
	case !ok:
		return fmt.Errorf("not a file the %s backend changes", backend)
	case f.Fallback != fallback:
		return fmt.Errorf("fallback %q, the %s backend uses %q", f.Fallback, backend, fallback)
	case f.Remove != remove && !(fallback == "delete" && f.Remove == ""):
		return fmt.Errorf("removes %q", f.Remove)
	case f.Mode&^0o777 != 0:
		return fmt.Errorf("mode %#o", f.Mode)
	case f.UID < 0 || f.GID < 0:
		return errors.New("negative owner")
	case f.Existed && f.OrigSHA256 != sha(f.Orig):
		return errors.New("recorded bytes do not match their hash")
	case !f.Existed && len(f.Orig) > 0:
		return errors.New("original bytes for a file that did not exist")
	}
	for _, d := range f.Dirs {
		// Only directories above the file, as Apply creates them, and
		// never /etc or /boot themselves.
		if filepath.Clean(d) != d || !strings.HasPrefix(f.Path, d+"/") || d == "/" || d == "/etc" || d == "/boot" {
			return fmt.Errorf("bad directory %q", d)
		}
	}
	return nil
}

func isLoaderEntry(p string) bool {
	for _, g := range loaderEntryGlobs {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

// kernelInstallRelease returns the kernel release whose entry the
// kernel-cmdline backend had kernel-install rewrite, from the journaled
// command, which must be exactly "kernel-install add KVER IMAGE".
func kernelInstallRelease(e *Entry) (string, error) {
	if len(e.Undo) != 1 {
		return "", errors.New("kernel-cmdline: unexpected commands")
	}
	a := e.Undo[0].Args
	if len(a) != 3 || a[0] != "add" || !kverRE.MatchString(a[1]) || a[2] != kernelImage(a[1]) ||
		path.Base(e.Undo[0].Tool) != "kernel-install" {
		return "", fmt.Errorf("kernel-cmdline: unexpected command %q", e.Undo[0].Argv())
	}
	return a[1], nil
}

func kernelImage(kver string) string { return "/usr/lib/modules/" + kver + "/vmlinuz" }
