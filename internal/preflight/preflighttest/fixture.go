// Package preflighttest loads a fixture machine for preflight: a root
// directory that mirrors the host paths the checks read, and probes.json,
// the answers the live probes gave on that machine. Only tests import it,
// so no fake probe can reach the libreflash binary.
package preflighttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"libreflash/internal/preflight"
	"libreflash/internal/runner"
	"libreflash/internal/vmtest"
)

// Probes is probes.json.
type Probes struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	EUID   int    `json:"euid"`
	// Iopl is what iopl(3) returned: "ok" or an errno name ("ENOSYS").
	Iopl string `json:"iopl"`
	// MapMem maps a physical address in hex ("fed1c000"), or "*" for any,
	// to what mmap of /dev/mem returned there: "ok" or an errno name. An
	// address not listed fails the probe loudly, so a fixture also pins
	// down which window the check chose to map.
	MapMem map[string]string `json:"mapmem"`
	// Nodes describes device nodes, which a fixture tree cannot hold:
	// "/dev/mem": "c 1:1 0640 0:15" (type, major:minor, mode, uid:gid).
	Nodes map[string]string `json:"nodes"`
	// Flasher is what runner.Find found; FlasherError what it failed with
	// ("missing" or "insecure").
	Flasher      *runner.Flasher `json:"flasher"`
	FlasherError string          `json:"flasher_error"`
	Securelevel  *int            `json:"securelevel"`
	// Phys32 maps a physical address in hex ("fed1f804") to the 32-bit
	// register value read there (hex), or an errno name.
	Phys32 map[string]string `json:"phys32"`
	// Inl maps an I/O port in hex ("1030") to the 32-bit value read there
	// (hex), or an errno name.
	Inl map[string]string `json:"inl"`
}

// Load returns the Env of the fixture in dir (dir/root and dir/probes.json).
func Load(dir string) (*preflight.Env, error) {
	root := filepath.Join(dir, "root")
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	return LoadRoot(root, filepath.Join(dir, "probes.json"))
}

// LoadRoot is Load for a root directory and a probes file given apart.
func LoadRoot(root, probesFile string) (*preflight.Env, error) {
	b, err := os.ReadFile(probesFile)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(b, []byte(`"devmem_open"`)) {
		// Captured in a QEMU guest by the vm harness (internal/vmtest).
		var g vmtest.Probes
		if err := json.Unmarshal(b, &g); err != nil {
			return nil, fmt.Errorf("%s: %w", probesFile, err)
		}
		p := FromGuest(&g)
		return p.Env(root)
	}
	var p Probes
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", probesFile, err)
	}
	return p.Env(root)
}

// guestFlasher is what the vm harness's guests run: Debian 12's flashrom,
// whose banner says "unknown" for the version. Guest captures do not record
// the flasher, so the fixture assumes that one.
var guestFlasher = runner.Flasher{Path: "/usr/sbin/flashrom", Kind: "flashrom", Version: "unknown",
	Caps: runner.Caps{FlashContents: true, IFD: true, Include: true, IncludeFile: true, Layout: true,
		FlashSize: true, FlashName: true, Noverify: true, WPOptions: true}}

// FromGuest converts live-probe results captured in a QEMU guest. /dev/mem
// existed in the guest unless open(2) said ENOENT; the capture does not
// record its mode, so it is Debian's (root:kmem 0640). A failed open fails
// every mapping with the same errno, as it would in the check.
func FromGuest(g *vmtest.Probes) *Probes {
	p := &Probes{GOOS: "linux", GOARCH: "amd64", EUID: g.EUID, Iopl: guestResult(g.IOPL),
		MapMem: map[string]string{}, Nodes: map[string]string{}}
	f := guestFlasher
	p.Flasher = &f
	if g.DevmemOpen.Errno != "ENOENT" {
		p.Nodes["/dev/mem"] = "c 1:1 0640 0:15"
	}
	if !g.DevmemOpen.OK {
		p.MapMem["*"] = guestResult(g.DevmemOpen)
		return p
	}
	for _, r := range g.Mmap {
		if addr, err := strconv.ParseUint(strings.TrimPrefix(r.Addr, "0x"), 16, 64); err == nil {
			p.MapMem[strconv.FormatUint(addr, 16)] = guestResult(r)
		}
	}
	return p
}

func guestResult(r vmtest.Result) string {
	if r.OK {
		return "ok"
	}
	return r.Errno
}

// Env builds the Env for root with these probes.
func (p *Probes) Env(root string) (*preflight.Env, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	e := &preflight.Env{
		Root:    root,
		GOOS:    or(p.GOOS, "linux"),
		GOARCH:  or(p.GOARCH, "amd64"),
		Geteuid: func() int { return p.EUID },
	}
	iopl, err := errnoOf(p.Iopl)
	if err != nil {
		return nil, fmt.Errorf("iopl: %w", err)
	}
	e.Iopl = func(level int) error {
		if level == 0 {
			return nil // dropping privileges always works
		}
		return iopl
	}
	e.MapMem = func(path string, off, length int64) error {
		v, ok := p.MapMem[strconv.FormatInt(off, 16)]
		if !ok {
			v, ok = p.MapMem["*"]
		}
		if !ok {
			return fmt.Errorf("fixture has no mapmem answer for %#x", off)
		}
		err, perr := errnoOf(v)
		if perr != nil {
			return perr
		}
		if err != nil {
			return &fs.PathError{Op: "mmap", Path: path, Err: err}
		}
		return nil
	}
	e.ReadPhys32 = func(path string, addr uint64) (uint32, error) {
		return register(p.Phys32, addr, "phys32", path)
	}
	e.InL = func(port uint16) (uint32, error) {
		return register(p.Inl, uint64(port), "inl", "port")
	}
	e.Stat = func(path string) (preflight.Node, error) {
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(path, root), "/")
		d, ok := p.Nodes[rel]
		if !ok {
			return preflight.Node{}, &fs.PathError{Op: "lstat", Path: path, Err: syscall.ENOENT}
		}
		return parseNode(d)
	}
	if p.Securelevel != nil {
		lvl := *p.Securelevel
		e.Securelevel = func() (int, error) { return lvl, nil }
	}
	e.FindFlasher = func(_ context.Context, o runner.FindOptions) (*runner.Flasher, error) {
		switch {
		case p.FlasherError == "insecure":
			return nil, &runner.InsecureError{Path: "/usr/local/sbin/flashprog", Offender: "/usr/local/sbin/flashprog", Reason: "owned by uid 1000"}
		case p.FlasherError != "" || p.Flasher == nil:
			return nil, &runner.NotFoundError{Searched: []string{"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin"}}
		case o.Explicit != "" && o.Explicit != p.Flasher.Path:
			return nil, &runner.NotFoundError{Explicit: o.Explicit, Err: fs.ErrNotExist}
		}
		f := *p.Flasher
		return &f, nil
	}
	return e, nil
}

// register answers a register read from a fixture map: a hex value, or
// an errno name; an address not listed fails loudly.
func register(m map[string]string, at uint64, what, path string) (uint32, error) {
	v, ok := m[strconv.FormatUint(at, 16)]
	if !ok {
		return 0, fmt.Errorf("fixture has no %s answer for %#x", what, at)
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32); err == nil {
		return uint32(n), nil
	}
	err, perr := errnoOf(v)
	if perr != nil {
		return 0, perr
	}
	return 0, &fs.PathError{Op: "read", Path: path, Err: err}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var errnos = map[string]syscall.Errno{
	"EPERM": syscall.EPERM, "EACCES": syscall.EACCES, "ENOENT": syscall.ENOENT,
	"ENOSYS": syscall.ENOSYS, "EINVAL": syscall.EINVAL, "EAGAIN": syscall.EAGAIN,
}

// errnoOf turns "ok" into nil and an errno name into the errno.
func errnoOf(s string) (error, error) {
	if s == "ok" {
		return nil, nil
	}
	if en, ok := errnos[s]; ok {
		return en, nil
	}
	return nil, errors.New("want ok or an errno name, got " + strconv.Quote(s))
}

// parseNode reads "c 1:1 0640 0:15".
func parseNode(d string) (preflight.Node, error) {
	var (
		kind     string
		maj, min uint32
		mode     uint32
		uid, gid int
	)
	if _, err := fmt.Sscanf(d, "%s %d:%d %o %d:%d", &kind, &maj, &min, &mode, &uid, &gid); err != nil {
		return preflight.Node{}, fmt.Errorf("node %q: %w", d, err)
	}
	return preflight.Node{Char: kind == "c", Major: maj, Minor: min, Perm: fs.FileMode(mode & 0o777), UID: uid, GID: gid}, nil
}
