package preflight

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// IomemEntry is one line of /proc/iomem: a physical address range, who
// claimed it, and how deep it is nested (two spaces per level).
type IomemEntry struct {
	Start, End uint64
	Name       string
	Depth      int
}

// ParseIomem parses /proc/iomem. Lines it cannot read are skipped. Read by
// a user other than root, the kernel prints every address as zero; callers
// see that as Start == End == 0 and must not match ranges then.
func ParseIomem(b []byte) []IomemEntry {
	var out []IomemEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		depth := (len(line) - len(trimmed)) / 2
		rng, name, ok := strings.Cut(trimmed, " : ")
		if !ok {
			continue
		}
		lo, hi, ok := strings.Cut(strings.TrimSpace(rng), "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end < start {
			continue
		}
		out = append(out, IomemEntry{Start: start, End: end, Name: strings.TrimSpace(name), Depth: depth})
	}
	return out
}

// overlaps reports whether the entry shares an address with [start, end].
func (r IomemEntry) overlaps(start, end uint64) bool {
	if r.Start == 0 && r.End == 0 {
		return false // addresses hidden from non-root readers
	}
	return r.Start <= end && start <= r.End
}
