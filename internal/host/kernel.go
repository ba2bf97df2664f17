package host

import (
	"bytes"
	"io"
	"os"
	"strings"

	"libreflash/internal/kcmdline"
)

// The running kernel as /proc shows it below a root: the checks
// (preflight) and the journal's view of what is in effect (restore status,
// prepare, restore) read it here, once, so that both see the same machine
// and a test's fixture root stands for it whole.

// MaxRead bounds what is read from one /proc or /sys file: they are small
// on real machines, and a fixture or a strange kernel must not make a read
// hang or eat memory (proc files report size 0).
const MaxRead = 4 << 20

// ReadFile reads the host file p below r, at most MaxRead bytes.
func (r Root) ReadFile(p string) ([]byte, error) {
	f, err := os.Open(r.Path(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxRead))
}

// Cmdline is the running kernel's command line (/proc/cmdline), split as
// the kernel splits it.
func (r Root) Cmdline() ([]kcmdline.Param, error) {
	b, err := r.ReadFile("/proc/cmdline")
	if err != nil {
		return nil, err
	}
	return kcmdline.Parse(string(bytes.TrimSpace(b))), nil
}

// Modules lists the loaded modules' names as /proc/modules does ("name
// size refs deps state addr" a line), in its order.
func (r Root) Modules() ([]string, error) {
	b, err := r.ReadFile("/proc/modules")
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out, nil
}

// BootID is the running kernel's boot id, "" when unreadable: it changes
// with every boot.
func (r Root) BootID() string { return r.readString("/proc/sys/kernel/random/boot_id") }

// KernelRelease is the running kernel's release (uname -r), "" when
// unreadable.
func (r Root) KernelRelease() string { return r.readString("/proc/sys/kernel/osrelease") }

func (r Root) readString(p string) string {
	b, _ := r.ReadFile(p)
	return string(bytes.TrimSpace(b))
}
