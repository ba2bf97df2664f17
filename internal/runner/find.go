// Package runner owns the flasher: finding flashprog or flashrom and making
// sure it is safe to run as root, learning its version and capabilities
// (--help, once per binary), probing the chip in one run, running it (own
// process group, signal shielding, what it leaves behind killed, inherited
// lock files, output streamed with bounded memory) and turning its output
// into typed events. Every piece of flasher wording libreflash relies on —
// stage, phase, progress, failure, lock (FREG) and "identical" lines of
// flashprog and of flashrom 1.3 to 1.7 — is read here and nowhere else;
// flasher text shown to a user goes through Sanitize.
package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"libreflash/internal/exitcode"
	"libreflash/internal/safepath"
)

// Caps are what the flasher's --help says it supports. The version string is
// no guide (Debian's flashrom 1.3.0 calls itself "unknown"), the help is.
type Caps struct {
	Progress      bool // --progress (flashprog ≥ 1.1, flashrom ≥ 1.4)
	FlashContents bool // --flash-contents REF: skip the initial read on write
	IFD           bool // --ifd: layout from the Intel flash descriptor
	Include       bool // -i/--include REGION
	IncludeFile   bool // -i REGION:FILE (flashrom only)
	Layout        bool // -l/--layout FILE
	FlashSize     bool // --flash-size
	FlashName     bool // --flash-name
	Noverify      bool // -n/--noverify and -N/--noverify-all: see Flasher.NoVerifyArgs
	WPOptions     bool // --wp-status etc. (flashrom; flashprog has a "wp" command)
}

// Flasher is a flashprog or flashrom binary that passed CheckOwnership.
type Flasher struct {
	Path    string // absolute path, symlinks resolved
	Kind    string // "flashprog" or "flashrom", from the banner
	Version string // as the banner says: "p1.5-91-g79d5c66", "unknown", "v1.7.0" …
	Caps    Caps
}

// NoVerifyArgs are the arguments that make a write (-w) skip the flasher's
// own closing verify read, so that the caller verifies with a read of its
// own (libreflash's verification, not the flasher's word); nil when the
// flasher has no such option, and the caller must rely on its verify.
func (f *Flasher) NoVerifyArgs() []string {
	if !f.Caps.Noverify {
		return nil
	}
	return []string{"--noverify"}
}

// FindOptions says where to look for the flasher.
type FindOptions struct {
	// Explicit is the --flasher PATH given by the user; it is used as is
	// (made absolute) and nothing else is tried.
	Explicit string
	// PathEnv is the list of directories to search, as in $PATH. When empty,
	// $PATH is used, followed by the usual sbin directories, which sudo's
	// secure_path normally has but a user's PATH may not.
	PathEnv string
}

// Names are tried in this order: flashprog is the flasher Libreboot documents.
var flasherNames = []string{"flashprog", "flashrom"}

var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin"}

// probeTimeout bounds "flasher --help". It touches no hardware and returns at
// once; a flasher that hangs here is not one we want to run.
var probeTimeout = 20 * time.Second

// Find locates the flasher, checks that root may safely run it, and asks it
// for its banner and capabilities.
func Find(ctx context.Context, o FindOptions) (*Flasher, error) {
	path, err := locate(o)
	if err != nil {
		return nil, err
	}
	if err := CheckOwnership(path); err != nil {
		return nil, err
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, &NotFoundError{Explicit: path, Err: err}
	}
	return probe(ctx, resolved)
}

// locate returns the absolute path of the flasher to use, unresolved.
func locate(o FindOptions) (string, error) {
	if o.Explicit != "" {
		p, err := filepath.Abs(o.Explicit)
		if err != nil {
			return "", &NotFoundError{Explicit: o.Explicit, Err: err}
		}
		fi, err := os.Stat(p)
		if err != nil {
			return "", &NotFoundError{Explicit: p, Err: err}
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return "", &NotFoundError{Explicit: p, Err: errors.New("not an executable file")}
		}
		return p, nil
	}
	if p, ok := LookPath(flasherNames, o.PathEnv); ok {
		return p, nil
	}
	return "", &NotFoundError{Searched: searchDirs(o.PathEnv)}
}

// LookPath finds the first of names, in order, in the directories of
// pathEnv (or $PATH followed by the sbin directories when it is empty),
// as Find does for the flasher; relative directories are never searched.
// Other tools that root runs (the Dell unlock tool) are found the same way
// and then vetted with CheckOwnership.
func LookPath(names []string, pathEnv string) (string, bool) {
	dirs := searchDirs(pathEnv)
	for _, name := range names {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			fi, err := os.Stat(p)
			if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, true
			}
		}
	}
	return "", false
}

// SearchDirs lists the directories LookPath searches for pathEnv.
func SearchDirs(pathEnv string) []string { return searchDirs(pathEnv) }

// searchDirs lists the absolute directories of pathEnv (or $PATH plus the
// sbin directories), in order, without duplicates. Relative entries ("", ".")
// are dropped: root must never run a flasher from the current directory.
func searchDirs(pathEnv string) []string {
	var list []string
	if pathEnv == "" {
		list = append(filepath.SplitList(os.Getenv("PATH")), sbinDirs...)
	} else {
		list = filepath.SplitList(pathEnv)
	}
	seen := map[string]bool{}
	var dirs []string
	for _, d := range list {
		if !filepath.IsAbs(d) {
			continue
		}
		d = filepath.Clean(d)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// helpMax bounds the --help text kept (a flasher's is a few KiB).
const helpMax = 1 << 20

// probe learns the flasher's banner and capabilities from "flasher --help",
// run at most once per binary: the answer is cached under the file's
// identity (device, inode, size, mtime, ctime), so a replaced or changed
// binary is asked again. The run is Run's: its own process group, killed
// whole (with anything it left behind) at probeTimeout.
func probe(parent context.Context, path string) (*Flasher, error) {
	key, keyOK := capsKeyOf(path)
	if keyOK {
		if f := capsCache.get(key); f != nil {
			return f, nil
		}
	}
	ctx, cancel := context.WithTimeout(parent, probeTimeout)
	defer cancel()
	var out strings.Builder
	onEvent := func(e Event) {
		if e.Stream == "stdout" && e.Kind != EvExit && out.Len() < helpMax {
			out.WriteString(e.Text)
			out.WriteByte('\n')
		}
	}
	argv := []string{path, "--help"}
	res, runErr := (&Flasher{Path: path}).Run(ctx, Spec{Args: argv[1:], OnEvent: onEvent})
	if err := parent.Err(); err != nil {
		// The user stopped libreflash (^C during the checks): the flasher
		// is not at fault.
		return nil, &CancelledError{Argv: argv, Err: err}
	}
	if ctx.Err() == context.DeadlineExceeded {
		return nil, &exitcode.E{Code: exitcode.Blocked,
			Err: fmt.Errorf("%s --help did not finish within %s: it (or something it started) hung, and was killed", path, probeTimeout),
			Tip: "reinstall the flasher, or pass --flasher with another one"}
	}
	if IsCancelled(runErr) {
		return nil, runErr // a signal to libreflash
	}
	stderr := ""
	if res != nil {
		stderr = res.StderrTail
	}
	var exitNote error
	if re := (*RunError)(nil); errors.As(runErr, &re) {
		exitNote = re.Err
		if re.ExitCode >= 0 {
			exitNote = fmt.Errorf("exit status %d", re.ExitCode)
		}
	}
	kind, version, ok := parseBanner(out.String())
	if !ok {
		msg := fmt.Sprintf("%s does not look like flashprog or flashrom: its --help printed no flashprog/flashrom banner", path)
		if runErr != nil {
			msg += fmt.Sprintf(" (%v%s)", exitNote, tailNote(stderr))
		}
		return nil, &exitcode.E{Code: exitcode.Blocked, Err: errors.New(msg),
			Tip: "pass --flasher with the path of a flashprog or flashrom binary"}
	}
	if runErr != nil {
		return nil, &exitcode.E{Code: exitcode.Blocked,
			Err: fmt.Errorf("%s --help failed: %v%s", path, exitNote, tailNote(stderr)),
			Tip: "reinstall the flasher, or pass --flasher with another one"}
	}
	f := &Flasher{Path: path, Kind: kind, Version: version, Caps: parseCaps(out.String())}
	if keyOK {
		capsCache.put(key, f)
	}
	return f, nil
}

// capsKey identifies one version of a flasher binary.
type capsKey struct {
	path         string
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // ns
}

func capsKeyOf(path string) (capsKey, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return capsKey{}, false
	}
	return capsKey{path: path, dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}, true
}

// capsCache remembers what each flasher binary's --help said, for the life
// of the process: preflight and the pipeline both Find the flasher.
var capsCache = &flasherCache{m: map[capsKey]Flasher{}}

type flasherCache struct {
	mu sync.Mutex
	m  map[capsKey]Flasher
}

// get returns a copy of the cached Flasher, or nil.
func (c *flasherCache) get(k capsKey) *Flasher {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[k]
	if !ok {
		return nil
	}
	return &f
}

func (c *flasherCache) put(k capsKey, f *Flasher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = *f
}

func tailNote(stderr string) string {
	t := tail(stderr, 3)
	if t == "" {
		return ""
	}
	return ": " + strings.ReplaceAll(t, "\n", " / ")
}

// flasherEnv is the environment the flasher runs with: a fixed, minimal one,
// so that nothing from the caller's environment changes how it behaves.
func flasherEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
}

// bannerRE matches "flashprog p1.5-91-g79d5c66 on Linux 6.18.44 (x86_64)".
// The version may contain spaces (MrChromebox builds), the system part not.
var bannerRE = regexp.MustCompile(`^(flashprog|flashrom) (.+?) on \S+ \S+ \([^)]*\)\s*$`)

// bannerLooseRE is the fallback for banners whose system part is unusual.
var bannerLooseRE = regexp.MustCompile(`^(flashprog|flashrom) (\S+)`)

// parseBanner finds the banner among the first lines of out.
func parseBanner(out string) (kind, version string, ok bool) {
	lines := strings.SplitN(out, "\n", 6)
	for i, l := range lines {
		if i == 5 {
			break
		}
		l = strings.TrimRight(l, "\r")
		if m := bannerRE.FindStringSubmatch(l); m != nil {
			return m[1], m[2], true
		}
		if m := bannerLooseRE.FindStringSubmatch(l); m != nil && !strings.HasPrefix(l, m[1]+" is free software") {
			return m[1], m[2], true
		}
	}
	return "", "", false
}

// optionRE finds long options in help text.
var optionRE = regexp.MustCompile(`--[a-z][a-z0-9-]*`)

// parseCaps reads the capabilities from the --help text.
func parseCaps(help string) Caps {
	opts := map[string]bool{}
	for _, o := range optionRE.FindAllString(help, -1) {
		opts[o] = true
	}
	return Caps{
		Progress:      opts["--progress"],
		FlashContents: opts["--flash-contents"],
		IFD:           opts["--ifd"],
		Include:       opts["--include"] || opts["--image"],
		IncludeFile:   strings.Contains(help, "<region>[:<file>]"),
		Layout:        opts["--layout"],
		FlashSize:     opts["--flash-size"],
		FlashName:     opts["--flash-name"],
		Noverify:      opts["--noverify"],
		WPOptions:     opts["--wp-status"],
	}
}

// NotFoundError says no usable flasher was found (cause flasher_missing).
type NotFoundError struct {
	Explicit string   // the --flasher path, when one was given
	Searched []string // directories searched otherwise
	Err      error
}

func (e *NotFoundError) Error() string {
	if e.Explicit != "" {
		return fmt.Sprintf("flasher %s: %v", quoteArg(e.Explicit), e.Err)
	}
	return fmt.Sprintf("no flashprog or flashrom found (searched %s)", strings.Join(e.Searched, ":"))
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder: nothing was touched.
func (e *NotFoundError) ExitCode() int { return exitcode.Blocked }

// Cause is the diagnose cause ID.
func (e *NotFoundError) Cause() string { return "flasher_missing" }

// Hint implements exitcode.Hinter.
func (e *NotFoundError) Hint() string {
	if e.Explicit != "" {
		return "check the --flasher path, or leave it out to search for flashprog and flashrom"
	}
	return "install flashrom (Debian/Ubuntu: sudo apt install flashrom), or build flashprog\n" +
		"(https://flashprog.org) and install it in /usr/local/sbin"
}

// InsecureError says the flasher could be replaced by someone other than
// root: the binary or a directory on its path is not owned by root, or is
// writable by group or others. Running it as root would hand them the machine.
type InsecureError struct {
	Path     string // the flasher
	Offender string // the file or directory at fault
	Reason   string // "owned by uid 1000", "writable by group and others"
}

func (e *InsecureError) Error() string {
	if e.Offender == e.Path {
		return fmt.Sprintf("refusing to run %s as root: it is %s", quoteArg(e.Path), e.Reason)
	}
	return fmt.Sprintf("refusing to run %s as root: %s is %s", quoteArg(e.Path), quoteArg(e.Offender), e.Reason)
}

// ExitCode implements exitcode.Coder.
func (e *InsecureError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *InsecureError) Hint() string {
	return fmt.Sprintf("make it root's alone: sudo chown root %s && sudo chmod go-w %s\n"+
		"or install the flasher in a root-owned directory such as /usr/local/sbin", e.Offender, e.Offender)
}

// CheckOwnership makes sure only root can change what path runs: the file
// and every directory on the way to it, following symlinks, must be owned by
// root and not writable by group or others (internal/safepath). A root-owned
// directory writable by all but sticky (/tmp) is accepted: the sticky bit
// keeps others from replacing the root-owned entries in it, which are
// checked in turn.
func CheckOwnership(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	err = safepath.Check(abs, safepath.Rule{StickyOK: true})
	var ie *safepath.InsecureError
	if errors.As(err, &ie) {
		return &InsecureError{Path: abs, Offender: ie.Path, Reason: ie.Reason}
	}
	if err != nil {
		return &NotFoundError{Explicit: abs, Err: err}
	}
	return nil
}

// tail returns the last n non-empty lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			keep = append([]string{l}, keep...)
		}
	}
	return strings.Join(keep, "\n")
}
