package preflight

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"libreflash/internal/host"
	"libreflash/internal/runner"
)

// Env is the machine the checks look at: a root directory under which every
// host path (/proc, /sys, /dev, /boot, /etc, /lib/modules) is read, and the
// live probes, which only make sense on the running kernel. Tests point Root
// at a fixture and replace the probes; nothing else reaches the host.
type Env struct {
	// Root is prepended to every host path; "/" on a real machine.
	Root string
	// GOOS and GOARCH name the machine's kernel and CPU family; the iopl
	// check is x86-only and most checks are Linux-only.
	GOOS, GOARCH string

	// Geteuid returns the effective user id.
	Geteuid func() int
	// Iopl sets the I/O privilege level (3 to probe, 0 to drop it again).
	Iopl func(level int) error
	// MapMem maps length bytes of the device at path (a root-joined path to
	// /dev/mem) at offset, read-only, and unmaps it without touching the
	// memory: the kernel decides on access at mmap time.
	MapMem func(path string, offset, length int64) error
	// ReadPhys32 reads the aligned 32-bit chipset register at physical
	// address addr through the device at path (a root-joined /dev/mem),
	// read-only. Only the lock-state probe uses it, on the registers the
	// unlock route depends on.
	ReadPhys32 func(path string, addr uint64) (uint32, error)
	// InL reads the 32-bit I/O port (GBL_SMI_EN in SMI_EN); read-only.
	InL func(port uint16) (uint32, error)
	// Stat describes the file at path (root-joined) without following a
	// final symlink; device nodes report their major and minor numbers.
	Stat func(path string) (Node, error)
	// Securelevel returns the BSD kern.securelevel; nil off BSD.
	Securelevel func() (int, error)
	// FindFlasher locates flashprog or flashrom; runner.Find on a real
	// machine.
	FindFlasher func(ctx context.Context, o runner.FindOptions) (*runner.Flasher, error)
}

// Node is what the checks need to know about a file such as /dev/mem.
type Node struct {
	Char         bool // character device
	Major, Minor uint32
	Perm         fs.FileMode // permission bits
	UID, GID     int
}

// Path returns the host path p under e.Root (internal/host).
func (e *Env) Path(p string) string { return e.host().Path(p) }

// host is the machine's root, which also reads the running kernel's state
// (command line, modules, release) for the checks as for restore.
func (e *Env) host() host.Root { return host.Root(e.Root) }

// readFile reads the host file p, transparently gunzipping names ending in
// .gz.
func (e *Env) readFile(p string) ([]byte, error) {
	f, err := os.Open(e.Path(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(p, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		r = z
	}
	b, err := io.ReadAll(io.LimitReader(r, host.MaxRead))
	return b, err
}

// readString reads a small sysfs/procfs file and trims white space.
func (e *Env) readString(p string) (string, error) {
	b, err := e.readFile(p)
	return string(bytes.TrimSpace(b)), err
}

func (e *Env) exists(p string) bool {
	_, err := os.Stat(e.Path(p))
	return err == nil
}

func (e *Env) isX86() bool { return e.GOARCH == "amd64" || e.GOARCH == "386" }

// withDefaults fills in what a test Env left out, so a fixture only has to
// state what it is about; a missing probe reports "not available".
func (e *Env) withDefaults() *Env {
	c := *e
	if c.Root == "" {
		c.Root = "/"
	}
	if c.GOOS == "" {
		c.GOOS = runtime.GOOS
	}
	if c.GOARCH == "" {
		c.GOARCH = runtime.GOARCH
	}
	if c.Geteuid == nil {
		c.Geteuid = os.Geteuid
	}
	if c.Iopl == nil {
		c.Iopl = func(int) error { return errNoProbe }
	}
	if c.MapMem == nil {
		c.MapMem = func(string, int64, int64) error { return errNoProbe }
	}
	if c.ReadPhys32 == nil {
		c.ReadPhys32 = func(string, uint64) (uint32, error) { return 0, errNoProbe }
	}
	if c.InL == nil {
		c.InL = func(uint16) (uint32, error) { return 0, errNoProbe }
	}
	if c.Stat == nil {
		c.Stat = func(string) (Node, error) { return Node{}, errNoProbe }
	}
	if c.FindFlasher == nil {
		c.FindFlasher = func(context.Context, runner.FindOptions) (*runner.Flasher, error) { return nil, errNoProbe }
	}
	return &c
}

// errNoProbe stands for a probe this Env cannot run.
var errNoProbe = errors.New("probe not available")
