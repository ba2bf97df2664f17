package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"libreflash/internal/testutil"
)

// catalogTranscripts extracts the verbatim dummy-programmer runs of
// flashprog-catalog.md §4.4.2 (Debian flashrom 1.3.0) and §4.4.3 (flashprog
// HEAD): "### title", "$ command", "exit=N", then stdout and stderr between
// "--- stdout ---", "--- stderr ---" and "--- end ---" markers. An
// unterminated stdout line ends right before "--- stderr ---". The marker
// standing for flashrom's chip-status block is replaced by the block of
// §4.4.1, as flashrom printed it.
func catalogTranscripts(t *testing.T) map[string][]parseTranscript {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(transcriptsRoot(t), "flashprog-catalog.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	section := func(from, to string) string {
		i, j := strings.Index(doc, from), strings.Index(doc, to)
		if i < 0 || j < i {
			t.Fatalf("catalog: no section between %q and %q", from, to)
		}
		return doc[i:j]
	}
	status := section("#### 4.4.1", "#### 4.4.2")
	status = status[strings.Index(status, "```\n")+4:]
	status = status[:strings.Index(status, "```")]
	const marker = "[UNTESTED-WP banner: 9 lines, printed verbatim in §4.4.1]\n"

	block := regexp.MustCompile(`(?s)### ([^\n]+)\n\$ [^\n]*\nexit=(\d+)\n--- stdout ---\n(.*?)--- stderr ---\n(.*?)--- end ---\n`)
	slug := regexp.MustCompile(`[^a-z0-9]+`)
	out := map[string][]parseTranscript{}
	for _, sec := range []struct{ name, from, to string }{
		{"flashrom-1.3", "#### 4.4.2", "#### 4.4.3"},
		{"flashprog-HEAD", "#### 4.4.3", "#### 4.4.4"},
	} {
		for _, m := range block.FindAllStringSubmatch(section(sec.from, sec.to), -1) {
			code, _ := strconv.Atoi(m[2])
			out[sec.name] = append(out[sec.name], parseTranscript{
				name: strings.Trim(slug.ReplaceAllString(strings.ToLower(m[1]), "-"), "-"),
				streams: []streamBytes{
					{"stdout", []byte(strings.ReplaceAll(m[3], marker, status))},
					{"stderr", []byte(m[4])},
				},
				exit: code,
			})
		}
		if len(out[sec.name]) < 25 {
			t.Fatalf("catalog %s: only %d transcripts found", sec.name, len(out[sec.name]))
		}
	}
	return out
}

func TestParseCatalogGolden(t *testing.T) {
	for set, trs := range catalogTranscripts(t) {
		seen := map[string]bool{}
		for _, tr := range trs {
			if seen[tr.name] {
				t.Fatalf("%s: two transcripts named %s", set, tr.name)
			}
			seen[tr.name] = true
			t.Run(set+"/"+tr.name, func(t *testing.T) {
				want := feedParser(tr, splits[0].split)
				testutil.Golden(t, filepath.Join("testdata", "parse", "catalog", set, tr.name+".golden"), marshalEvents(want), *update)
				for _, s := range splits[1:] {
					if g, w := marshalEvents(feedParser(tr, s.split)), marshalEvents(want); !bytes.Equal(g, w) {
						t.Errorf("fed %s: events differ from fed whole:\n%s", s.name, testutil.LineDiff(w, g))
					}
				}
			})
		}
	}
}
