package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"libreflash/internal/diagnose"
	"libreflash/internal/pipeline"
)

// designDoc is the contract document, relative to this package.
var designDoc = filepath.Join("..", "..", "docs", "design.md")

// TestDesignDoc keeps docs/design.md true: every exit code, cause ID and
// summary result it names exists in the code, and every one in the code is
// named there.
func TestDesignDoc(t *testing.T) {
	b, err := os.ReadFile(designDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	codes := map[string]bool{}
	for _, v := range constValues(t, filepath.Join("..", "..", "internal", "exitcode"), "") {
		codes[v] = true
	}
	compareSets(t, "exit code", tableKeys(t, doc, "## Exit codes", `^\| (\d+) \|`), codes)

	causes := map[string]bool{}
	for _, c := range diagnose.Causes() {
		causes[c.ID] = true
	}
	compareSets(t, "cause ID", tableKeys(t, doc, "## Cause IDs", "^\\| `([a-z_]+)` \\|"), causes)

	results := map[string]bool{}
	for _, v := range constValues(t, filepath.Join("..", "..", "internal", "pipeline"), "Result") {
		results[v] = true
	}
	compareSets(t, "summary result", tableKeys(t, doc, "### install --json and backup --json: events", "^\\| `([a-z_]+)` \\| \\d+"), results)
}

// tableKeys returns the first column of the table rows matching row (a
// regexp with one group) in the section that starts with heading and ends
// at the next heading of the same or a higher level.
func tableKeys(t *testing.T, doc, heading, row string) map[string]bool {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/design.md has no section %q", heading)
	}
	level := strings.Repeat("#", strings.Index(heading, " "))
	section := doc[i+len(heading)+2:]
	lines := strings.Split(section, "\n")
	re := regexp.MustCompile(row)
	keys := map[string]bool{}
	for _, l := range lines {
		if h := len(l) - len(strings.TrimLeft(l, "#")); h > 0 && h <= len(level) {
			break // the next heading of the same or a higher level
		}
		if m := re.FindStringSubmatch(l); m != nil {
			keys[m[1]] = true
		}
	}
	if len(keys) == 0 {
		t.Fatalf("docs/design.md section %q has no table rows", heading)
	}
	return keys
}

// constValues returns the values of the constants declared in the non-test
// files of dir whose names start with prefix ("" for all): integer
// constants as decimal, strings unquoted.
func constValues(t *testing.T, dir, prefix string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var vals []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok {
						continue
					}
					v := lit.Value
					if lit.Kind == token.STRING {
						if v, err = strconv.Unquote(v); err != nil {
							t.Fatal(err)
						}
					}
					vals = append(vals, v)
				}
			}
		}
	}
	if len(vals) == 0 {
		t.Fatalf("no constants %s* in %s", prefix, dir)
	}
	return vals
}

func compareSets(t *testing.T, what string, doc, code map[string]bool) {
	t.Helper()
	var onlyDoc, onlyCode []string
	for k := range doc {
		if !code[k] {
			onlyDoc = append(onlyDoc, k)
		}
	}
	for k := range code {
		if !doc[k] {
			onlyCode = append(onlyCode, k)
		}
	}
	sort.Strings(onlyDoc)
	sort.Strings(onlyCode)
	if len(onlyDoc) > 0 {
		t.Errorf("docs/design.md names %s %v that the code does not have", what, onlyDoc)
	}
	if len(onlyCode) > 0 {
		t.Errorf("the code has %s %v that docs/design.md does not name", what, onlyCode)
	}
}

// The events table of docs/design.md names exactly the event types the
// pipeline can send: none missing, none that does not exist.
func TestDesignDocEventTypes(t *testing.T) {
	b, err := os.ReadFile(designDoc)
	if err != nil {
		t.Fatal(err)
	}
	code := map[string]bool{}
	for _, typ := range pipeline.EventTypes {
		code[typ] = true
	}
	compareSets(t, "event type", tableKeys(t, string(b), "### install --json and backup --json: events", "^\\| `([a-z_]+)` \\| [^0-9]"), code)
}
