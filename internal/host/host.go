// Package host owns the machine's root: the one directory below which
// libreflash reads and changes the host — /proc, /sys, /dev, /boot, /etc,
// /run — for the checks (preflight), the board facts (rom) and the
// reversible changes (restore) alike, and the one reader of the running
// kernel's state there (Cmdline, Modules, BootID, KernelRelease), which
// the checks and restore's status share. The live process table (Proc,
// ReadProcStat) is named here too, though no root stands for it. It is "/" on a real machine; tests
// point it at a fixture copy, so nothing they do reaches the host (like
// snapd's dirs.SetRootDir, without the global). Directories libreflash
// makes there, or in its state directory, get their mode exactly,
// whatever the umask (MkdirAll, Mkdirat).
package host

import "path/filepath"

// Root is a machine's root directory.
type Root string

// System is the running machine's own root.
const System Root = "/"

// Path returns host path p (absolute or not) below r, cleaned: a path
// cannot climb out of the root with "..".
func (r Root) Path(p string) string {
	clean := filepath.Clean("/" + p)
	if r == "" || r == System {
		return clean
	}
	return filepath.Join(string(r), clean)
}
