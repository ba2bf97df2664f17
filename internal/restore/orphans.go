package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Orphan is a boot configuration change of libreflash's that is on the
// system with no journal entry for it: the journal was lost (a state
// directory on a tmpfs, another --state-dir, a deleted or symlinked
// journal.json) while the change stayed. libreflash marks what it adds, so
// status and restore find it anyway.
type Orphan struct {
	Path    string `json:"path"`
	Action  string `json:"action"`
	Summary string `json:"summary"`

	kind string // "dropin", "grub-marker", "securelevel"
}

// dropinSignature is the first line of libreflash's GRUB drop-in.
var dropinSignature = strings.SplitN(grubDropin, "\n", 2)[0]

// Orphans lists libreflash's marked changes that j has no entry for.
func (m *Manager) Orphans(j *Journal) []Orphan {
	journaled := map[string]bool{}
	for _, e := range j.Entries {
		for _, f := range e.Files {
			journaled[f.Path] = true
		}
	}
	var out []Orphan
	if b, err := m.readHost(grubDropinPath); err == nil && !journaled[grubDropinPath] && bytes.HasPrefix(b, []byte(dropinSignature)) {
		out = append(out, Orphan{Path: grubDropinPath, Action: ActionIomem, kind: "dropin",
			Summary: "libreflash's GRUB drop-in adding iomem=relaxed, with no journal entry"})
	}
	if b, err := m.readHost(defaultGrubPath); err == nil && !journaled[defaultGrubPath] && hasLine(b, grubMarker) {
		out = append(out, Orphan{Path: defaultGrubPath, Action: ActionIomem, kind: "grub-marker",
			Summary: "iomem=relaxed added by libreflash to GRUB_CMDLINE_LINUX_DEFAULT (marked), with no journal entry"})
	}
	for _, p := range []string{openbsdSecurelevelPath, netbsdRcConfPath} {
		if b, err := m.readHost(p); err == nil && !journaled[p] && hasLine(b, securelevelLine) {
			out = append(out, Orphan{Path: p, Action: ActionSecurelevel, kind: "securelevel",
				Summary: "securelevel=-1 added by libreflash, with no journal entry"})
		}
	}
	return out
}

func hasLine(b []byte, line string) bool {
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimRight(l, "\r") == line {
			return true
		}
	}
	return false
}

// undoOrphan takes back one orphaned change, as its entry's undo would
// have: the drop-in goes, the marked GRUB edit loses the one iomem=relaxed
// libreflash added to the assignment above its marker, the securelevel
// line goes; grub.cfg is generated again.
func (m *Manager) undoOrphan(ctx context.Context, o Orphan) error {
	switch o.kind {
	case "dropin":
		if err := m.removeHost(o.Path); err != nil {
			return err
		}
	case "grub-marker", "securelevel":
		cur, err := m.readHost(o.Path)
		if err != nil {
			return err
		}
		out := removeLine(cur, securelevelLine)
		if o.kind == "grub-marker" {
			if out, err = removeMarkedGrubArg(cur); err != nil {
				return &ConflictError{Path: o.Path, Reason: err.Error()}
			}
		}
		fi, err := os.Stat(m.path(o.Path))
		if err != nil {
			return err
		}
		uid, gid := fileOwner(fi)
		if err := m.writeHost(o.Path, out, fi.Mode().Perm(), uid, gid); err != nil {
			return err
		}
	}
	if o.Action == ActionIomem {
		c, err := m.grubRegen()
		if err != nil {
			return err
		}
		if _, err := m.run(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// removeMarkedGrubArg takes iomem=relaxed out of the last GRUB_CMDLINE_LINUX
// (_DEFAULT) assignment before libreflash's marker line, and the marker.
func removeMarkedGrubArg(src []byte) ([]byte, error) {
	i := bytes.Index(src, []byte("\n"+grubMarker))
	if i < 0 {
		return nil, errors.New("marker not found")
	}
	head, ok := grubRemoveLast(src[:i+1], iomemParam)
	if !ok {
		return nil, fmt.Errorf("no %s above libreflash's marker line", iomemParam)
	}
	return removeLine(append(head, src[i+1:]...), grubMarker), nil
}
