package runner

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"libreflash/internal/testutil"
)

// catalogFile is an outside flasher catalog (the project's research notes)
// to compare the repository's recorded dummy-programmer runs with. The check
// is optional: the tests of a clone never read anything outside it.
var catalogFile = flag.String("catalog", "", "check testdata/flashers against this flasher catalog (Markdown)")

// catalogTranscripts extracts the verbatim dummy-programmer runs of
// flashprog-catalog.md §4.4.2 (Debian flashrom 1.3.0) and §4.4.3 (flashprog
// HEAD): "### title", "$ command", "exit=N", then stdout and stderr between
// "--- stdout ---", "--- stderr ---" and "--- end ---" markers. An
// unterminated stdout line ends right before "--- stderr ---". The marker
// standing for flashrom's chip-status block is replaced by the block of
// §4.4.1, as flashrom printed it.
func catalogTranscripts(t *testing.T) map[string][]parseTranscript {
	t.Helper()
	raw, err := os.ReadFile(*catalogFile)
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

// TestParseCatalog checks that the recorded runs kept in testdata/flashers
// are the catalog's, byte for byte (go test -run TestParseCatalog -args
// -catalog=FILE); their parse is covered by TestParseGolden.
func TestParseCatalog(t *testing.T) {
	if *catalogFile == "" {
		t.Skip("optional: -catalog=FILE compares testdata/flashers with a flasher catalog")
	}
	dirs := map[string]string{
		"flashrom-1.3":   testutil.Flashers(t, "flashrom-1.3.0-debian-dummy"),
		"flashprog-HEAD": testutil.Flashers(t, "flashprog-HEAD-79d5c66-dummy"),
	}
	for set, trs := range catalogTranscripts(t) {
		kept := map[string]parseTranscript{}
		for _, tr := range loadTranscripts(t, dirs[set]) {
			kept[tr.name] = tr
		}
		for _, tr := range trs {
			k, ok := kept[tr.name]
			if !ok {
				t.Errorf("%s: %s is in the catalog, not in %s", set, tr.name, dirs[set])
				continue
			}
			if k.exit != tr.exit || len(k.streams) != len(tr.streams) {
				t.Errorf("%s/%s: exit or streams differ from the catalog", set, tr.name)
				continue
			}
			for i := range tr.streams {
				if !bytes.Equal(k.streams[i].data, tr.streams[i].data) {
					t.Errorf("%s/%s: %s differs from the catalog", set, tr.name, tr.streams[i].name)
				}
			}
			delete(kept, tr.name)
		}
		for name := range kept {
			t.Errorf("%s: %s is kept but not in the catalog", set, name)
		}
	}
}
