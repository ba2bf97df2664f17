package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Boot loader backends for iomem-relaxed.
const (
	BackendGrubDropin   = "grub-dropin"    // Debian, Ubuntu: /etc/default/grub.d + update-grub
	BackendGrubEdit     = "grub-edit"      // Arch and others: edit /etc/default/grub
	BackendGrubby       = "grubby"         // Fedora, RHEL (BLS)
	BackendKernelstub   = "kernelstub"     // Pop!_OS
	BackendKernelCmd    = "kernel-cmdline" // systemd-boot with /etc/kernel/cmdline
	BackendLoaderEntry  = "loader-entry"   // systemd-boot, plain loader entries
	BackendRpmOstree    = "rpm-ostree"     // Fedora Silverblue, Kinoite, CoreOS
	BackendUnknownBoot  = "unknown"
	grubDropinPath      = "/etc/default/grub.d/99-libreflash.cfg"
	defaultGrubPath     = "/etc/default/grub"
	kernelCmdlinePath   = "/etc/kernel/cmdline"
	kernelstubConfig    = "/etc/kernelstub/configuration"
	blsEntriesDir       = "/boot/loader/entries"
	manualIomemFallback = "then reboot, run libreflash again, and remove iomem=relaxed afterwards"
)

// grubDropin is the whole drop-in: grub-mkconfig on Debian and Ubuntu sources
// /etc/default/grub and then /etc/default/grub.d/*.cfg in order, so the
// argument is appended to whatever the user's files set.
const grubDropin = `# Added by 'libreflash prepare' so that flashprog can reach the boot flash.
# 'libreflash restore' removes this file; nothing else depends on it.
GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT iomem=relaxed"
`

// osRelease reads /etc/os-release (or /usr/lib/os-release) into a map.
func (m *Manager) osRelease() map[string]string {
	out := map[string]string{}
	b, err := m.readHost("/etc/os-release")
	if err != nil {
		b, _ = m.readHost("/usr/lib/os-release")
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		out[k] = strings.Trim(v, `"'`)
	}
	return out
}

func (m *Manager) debianLike() bool {
	os := m.osRelease()
	for _, w := range append([]string{os["ID"]}, strings.Fields(os["ID_LIKE"])...) {
		if w == "debian" || w == "ubuntu" {
			return true
		}
	}
	return false
}

// DetectBootloader names the mechanism through which this system's kernel
// command line is changed, checked from the most specific to the most
// general.
func (m *Manager) DetectBootloader() string {
	isDir := func(p string) bool {
		fi, err := statHost(m, p)
		return err == nil && fi.IsDir()
	}
	switch {
	case m.existsHost("/run/ostree-booted"):
		return BackendRpmOstree
	case m.existsHost(kernelstubConfig):
		return BackendKernelstub
	case m.hasTool("grubby") && (len(m.blsEntries(blsEntriesDir)) > 0 || m.existsHost(defaultGrubPath)):
		return BackendGrubby
	case m.existsHost(defaultGrubPath) && (isDir("/etc/default/grub.d") || m.debianLike()):
		return BackendGrubDropin
	case m.existsHost(defaultGrubPath):
		return BackendGrubEdit
	case m.existsHost(kernelCmdlinePath):
		return BackendKernelCmd
	case m.loaderDir() != "":
		return BackendLoaderEntry
	}
	return BackendUnknownBoot
}

// blsEntries lists the *.conf entries of a loader entries directory.
func (m *Manager) blsEntries(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(m.path(dir), "*.conf"))
	var out []string
	for _, r := range matches {
		out = append(out, path.Join(dir, filepath.Base(r)))
	}
	sort.Strings(out)
	return out
}

// loaderDir is the systemd-boot directory (with loader.conf) on the ESP or
// XBOOTLDR partition.
func (m *Manager) loaderDir() string {
	for _, d := range []string{"/efi/loader", "/boot/loader", "/boot/efi/loader"} {
		if m.existsHost(d+"/loader.conf") && len(m.blsEntries(d+"/entries")) > 0 {
			return d
		}
	}
	return ""
}

// defaultEntries are the loader entries the "default" line of loader.conf
// selects (a glob); without one systemd-boot boots the first by its sort
// order, and libreflash edits all entries rather than guess.
func (m *Manager) defaultEntries(dir string) []string {
	all := m.blsEntries(dir + "/entries")
	b, _ := m.readHost(dir + "/loader.conf")
	pat := ""
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "default" {
			pat = f[1]
		}
	}
	if pat == "" || strings.HasPrefix(pat, "@") {
		return all
	}
	var out []string
	for _, e := range all {
		name := path.Base(e)
		if ok, _ := path.Match(pat, name); ok {
			out = append(out, e)
		} else if ok, _ := path.Match(pat, strings.TrimSuffix(name, ".conf")); ok {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return all
	}
	return out
}

// grubRegen is the command that regenerates grub.cfg: update-grub where the
// distribution ships it, else grub-mkconfig -o the grub.cfg that exists.
func (m *Manager) grubRegen() (Command, error) {
	if t, err := m.findTool("update-grub"); err == nil {
		return Command{Tool: t}, nil
	} else if m.hasTool("update-grub") {
		return Command{}, err
	}
	t, err := m.findTool("grub-mkconfig", "grub2-mkconfig")
	if err != nil {
		return Command{}, err
	}
	for _, cfg := range []string{"/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"} {
		if m.existsHost(cfg) {
			return Command{Tool: t, Args: []string{"-o", cfg}}, nil
		}
	}
	return Command{}, fmt.Errorf("no grub.cfg in /boot/grub or /boot/grub2 to regenerate")
}

// iomemConfigured says whether the boot loader already passes iomem=relaxed
// on the next boot.
func (m *Manager) iomemConfigured(ctx context.Context, backend string) bool {
	switch backend {
	case BackendGrubDropin, BackendGrubEdit:
		if m.existsHost(grubDropinPath) {
			return true
		}
		b, _ := m.readHost(defaultGrubPath)
		ok, _ := grubHasArg(b, iomemParam)
		return ok
	case BackendGrubby:
		es := m.blsEntries(blsEntriesDir)
		for _, e := range es {
			b, _ := m.readHost(e)
			if !optionsHave(b, iomemParam) {
				return false
			}
		}
		return len(es) > 0
	case BackendKernelstub:
		b, _ := m.readHost(kernelstubConfig)
		var cfg struct {
			User struct {
				KernelOptions []string `json:"kernel_options"`
			} `json:"user"`
		}
		if json.Unmarshal(b, &cfg) != nil {
			return false
		}
		for _, o := range cfg.User.KernelOptions {
			if o == iomemParam {
				return true
			}
		}
	case BackendKernelCmd:
		b, _ := m.readHost(kernelCmdlinePath)
		return hasToken(string(b), iomemParam)
	case BackendLoaderEntry:
		d := m.loaderDir()
		es := m.defaultEntries(d)
		for _, e := range es {
			b, _ := m.readHost(e)
			if !optionsHave(b, iomemParam) {
				return false
			}
		}
		return len(es) > 0
	case BackendRpmOstree:
		t, err := m.findTool("rpm-ostree")
		if err != nil {
			return false
		}
		out, err := m.run(ctx, Command{Tool: t, Args: []string{"kargs"}})
		return err == nil && hasToken(string(out), iomemParam)
	}
	return false
}

func (m *Manager) planIomem(ctx context.Context, j *Journal) (*Step, error) {
	s := &Step{Action: ActionIomem, Reboot: true}
	if on, _ := m.iomemInEffect(); on {
		s.Status, s.Reboot = "already", false
		s.Summary = "iomem=relaxed is already on the running kernel's command line"
		return s, nil
	}
	if e := pending(j, ActionIomem); e != nil {
		s.Status, s.Backend = "already", e.Backend
		s.Summary = "iomem=relaxed is set for the next boot (journal " + e.ID + "); reboot to use it"
		return s, nil
	}
	b := m.DetectBootloader()
	s.Backend = b
	if b != BackendUnknownBoot && m.iomemConfigured(ctx, b) {
		s.Status = "already"
		s.Summary = "the boot loader already passes iomem=relaxed on the next boot (not set by libreflash); reboot to use it"
		return s, nil
	}
	if b == BackendGrubby && m.someEntriesHave(m.blsEntries(blsEntriesDir)) {
		// grubby --remove-args would also take out the user's own
		// iomem=relaxed, so Undo could not give the entries back as they were.
		s.Status = "manual"
		s.Summary = "some boot entries already have iomem=relaxed and others not; libreflash leaves them alone"
		s.Manual = []string{"add iomem=relaxed to the entry you boot: grubby --update-kernel=DEFAULT --args=iomem=relaxed",
			manualIomemFallback}
		return s, nil
	}
	e := &Entry{Action: ActionIomem, Backend: b, Reboot: true, Param: iomemParam, BootID: m.root().BootID(),
		Expect: "iomem=relaxed in /proc/cmdline after the next boot"}
	var err error
	switch b {
	case BackendGrubDropin:
		err = m.planGrub(e, grubDropinPath, []byte(grubDropin), "delete")
	case BackendGrubEdit:
		var src, out []byte
		src, err = m.readHost(defaultGrubPath)
		if err == nil {
			out, err = addGrubArg(src, iomemParam)
		}
		var amb *AmbiguousGrubError
		switch {
		case errors.As(err, &amb) && m.grubReadsDropins():
			// The drop-in is sourced after the file and appends to
			// whatever value took effect in it.
			e.Backend = BackendGrubDropin
			err = m.planGrub(e, grubDropinPath, []byte(grubDropin), "delete")
		case errors.As(err, &amb):
			s.Status = "manual"
			s.Summary = amb.Error() + "; libreflash leaves it alone"
			s.Manual = []string{"add iomem=relaxed to the GRUB_CMDLINE_LINUX_DEFAULT that takes effect in /etc/default/grub, then run grub-mkconfig -o /boot/grub/grub.cfg",
				manualIomemFallback}
			return s, nil
		case err == nil:
			err = m.planGrub(e, defaultGrubPath, out, "grub-var")
		}
	case BackendGrubby, BackendKernelstub, BackendRpmOstree:
		err = m.planTool(e)
	case BackendKernelCmd:
		err = m.planKernelCmdline(e)
	case BackendLoaderEntry:
		err = m.planEntries(e, m.defaultEntries(m.loaderDir()))
	default:
		s.Status = "manual"
		s.Summary = "no supported boot loader configuration found (GRUB, grubby, kernelstub, systemd-boot, rpm-ostree)"
		s.Manual = []string{
			"add iomem=relaxed to the kernel command line of the entry you boot, in your boot loader's configuration",
			manualIomemFallback,
		}
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	return m.describe(s, e), nil
}

// grubReadsDropins says whether this system's grub-mkconfig sources
// /etc/default/grub.d/*.cfg (Debian's does; upstream's may not), read from
// the script itself.
func (m *Manager) grubReadsDropins() bool {
	t, err := m.findTool("grub-mkconfig", "grub2-mkconfig")
	if err != nil {
		return false
	}
	real, err := m.resolve(t)
	if err != nil {
		return false
	}
	f, err := os.Open(real)
	if err != nil {
		return false
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return bytes.Contains(b, []byte("/default/grub.d/"))
}

// describe fills a step from its entry: the exact files and commands.
func (m *Manager) describe(s *Step, e *Entry) *Step {
	s.entry, s.Status, s.Reboot, s.Backend = e, "planned", e.Reboot, e.Backend
	for _, f := range e.Files {
		s.Files = append(s.Files, f.Path)
	}
	for _, c := range e.Apply {
		s.Commands = append(s.Commands, c.Argv())
	}
	switch e.Action {
	case ActionIomem:
		s.Summary = "add iomem=relaxed to the kernel command line for the next boot (" + e.Backend + ")"
	case ActionDrivers:
		s.Summary = "unload " + strings.Join(e.Modules, ", ") + " until the next boot"
	case ActionSecurelevel:
		s.Summary = "set securelevel=-1 from the next boot (" + e.Backend + ")"
	}
	return s
}

func (m *Manager) planGrub(e *Entry, file string, content []byte, fallback string) error {
	regen, err := m.grubRegen()
	if err != nil {
		return err
	}
	fc, err := m.snapshot(file, content, fallback, iomemParam)
	if err != nil {
		return err
	}
	e.Files = []*FileChange{fc}
	e.Apply, e.Undo = []Command{regen}, []Command{regen}
	return nil
}

// cmdlineTools are the backends that change the kernel command line with
// a tool of their own: its names, and its arguments to add and to remove
// iomem=relaxed.
var cmdlineTools = map[string]struct{ names, apply, undo []string }{
	BackendGrubby: {[]string{"grubby"}, []string{"--update-kernel=ALL", "--args=" + iomemParam},
		[]string{"--update-kernel=ALL", "--remove-args=" + iomemParam}},
	BackendKernelstub: {[]string{"kernelstub"}, []string{"-a", iomemParam}, []string{"-d", iomemParam}},
	// The -if-missing/-if-present forms keep Apply and Undo idempotent.
	BackendRpmOstree: {[]string{"rpm-ostree"}, []string{"kargs", "--append-if-missing=" + iomemParam},
		[]string{"kargs", "--delete-if-present=" + iomemParam}},
}

func (m *Manager) planTool(e *Entry) error {
	ct := cmdlineTools[e.Backend]
	t, err := m.findTool(ct.names...)
	if err != nil {
		return err
	}
	e.Apply = []Command{{Tool: t, Args: ct.apply}}
	e.Undo = []Command{{Tool: t, Args: ct.undo}}
	return nil
}

// undoCommands works out the commands that take e back, the way prepare
// chose them: from the entry's action and backend, with each tool found
// again in the system directories and checked (findTool). The journal
// names an action; a program or argument it names is never run. Its Undo
// list only says whether the backend's command is to run at all (an entry
// journaled without one gets none).
func (m *Manager) undoCommands(e *Entry) ([]Command, error) {
	if len(e.Undo) == 0 && e.Backend != backendModprobe {
		return nil, nil
	}
	switch e.Backend {
	case BackendGrubDropin, BackendGrubEdit:
		c, err := m.grubRegen()
		if err != nil {
			return nil, err
		}
		return []Command{c}, nil
	case BackendGrubby, BackendKernelstub, BackendRpmOstree:
		ct := cmdlineTools[e.Backend]
		t, err := m.findTool(ct.names...)
		if err != nil {
			return nil, err
		}
		return []Command{{Tool: t, Args: ct.undo}}, nil
	case BackendKernelCmd:
		kver, err := kernelInstallRelease(e)
		if err != nil {
			return nil, err
		}
		t, err := m.findTool("kernel-install")
		if err != nil {
			return nil, err
		}
		return []Command{{Tool: t, Args: []string{"add", kver, kernelImage(kver)}}}, nil
	case backendModprobe:
		return m.reloadCommands(e), nil
	}
	return nil, nil
}

// planKernelCmdline edits /etc/kernel/cmdline, which kernel-install reads
// when it writes the entry of a kernel, and has kernel-install rewrite the
// running kernel's entry; without kernel-install it edits the loader entries
// directly as well.
func (m *Manager) planKernelCmdline(e *Entry) error {
	src, err := m.readHost(kernelCmdlinePath)
	if err != nil {
		return err
	}
	fc, err := m.snapshot(kernelCmdlinePath, addWord(src, iomemParam), "words", iomemParam)
	if err != nil {
		return err
	}
	e.Files = []*FileChange{fc}
	kver := m.root().KernelRelease()
	image := kernelImage(kver)
	if t, err := m.findTool("kernel-install"); err == nil && kverRE.MatchString(kver) && m.existsHost(image) {
		c := Command{Tool: t, Args: []string{"add", kver, image}}
		e.Apply, e.Undo = []Command{c}, []Command{c}
		return nil
	}
	if d := m.loaderDir(); d != "" {
		return m.planEntries(e, m.defaultEntries(d))
	}
	return fmt.Errorf("/etc/kernel/cmdline exists but neither kernel-install with %s nor loader entries were found", image)
}

func (m *Manager) planEntries(e *Entry, entries []string) error {
	if len(entries) == 0 {
		return fmt.Errorf("no boot loader entries found")
	}
	for _, p := range entries {
		src, err := m.readHost(p)
		if err != nil {
			return err
		}
		if optionsHave(src, iomemParam) {
			continue
		}
		fc, err := m.snapshot(p, addOption(src, iomemParam), "options", iomemParam)
		if err != nil {
			return err
		}
		e.Files = append(e.Files, fc)
	}
	return nil
}

func (m *Manager) someEntriesHave(entries []string) bool {
	for _, e := range entries {
		if b, _ := m.readHost(e); optionsHave(b, iomemParam) {
			return true
		}
	}
	return false
}
