package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestDocsFresh fails when the committed man pages, command docs or
// generated pages differ from what the cobra tree and catalogs produce now.
// Regenerate with: go run -tags gendocs ./cmd/libreflash gendocs .
func TestDocsFresh(t *testing.T) {
	tmp := t.TempDir()
	if err := genDocs(tmp); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join("..", "..")
	var stale []string
	compare := func(rel string) {
		want, err := os.ReadFile(filepath.Join(tmp, rel))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(repo, rel))
		if err != nil || !bytes.Equal(got, want) {
			stale = append(stale, rel)
		}
	}
	err := filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		compare(rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Committed pages for commands that no longer exist are stale too.
	for _, dir := range []string{"man", filepath.Join("docs", "commands")} {
		entries, _ := os.ReadDir(filepath.Join(repo, dir))
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join(tmp, dir, e.Name())); err != nil {
				stale = append(stale, filepath.Join(dir, e.Name())+" (no such command)")
			}
		}
	}
	if len(stale) > 0 {
		t.Errorf("generated docs are stale: %v\nregenerate with: go run -tags gendocs ./cmd/libreflash gendocs .", stale)
	}
}

// TestEveryCommandHasExample: users reach for --help first; each command's
// help must show at least one way to run it.
func TestEveryCommandHasExample(t *testing.T) {
	a := &app{getenv: func(string) string { return "" }}
	var walk func(c *cobraCommand)
	walk = func(c *cobraCommand) {
		if !c.Hidden && c.Name() != "help" && c.Example == "" {
			t.Errorf("%q has no Example in its help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.newRootCmd())
}

type cobraCommand = cobra.Command

// TestManKeepsTables: the column layouts of the long help (install's stages,
// prepare's actions) reach the man pages as preformatted text; reflowed into
// a paragraph they were unreadable (issue 12).
func TestManKeepsTables(t *testing.T) {
	tmp := t.TempDir()
	if err := genDocs(tmp); err != nil {
		t.Fatal(err)
	}
	for page, line := range map[string]string{
		"libreflash-install.1": "check    every machine check",
		"libreflash-prepare.1": "iomem-relaxed    add iomem=relaxed",
	} {
		b, err := os.ReadFile(filepath.Join(tmp, "man", page))
		if err != nil {
			t.Fatal(err)
		}
		man := string(b)
		i := strings.Index(man, "\n"+line)
		if i < 0 {
			t.Errorf("%s: no line starting %q", page, line)
			continue
		}
		ex, ee := strings.LastIndex(man[:i+1], ".EX\n"), strings.LastIndex(man[:i+1], ".EE\n")
		if ex < 0 || ee > ex || !strings.Contains(man[i:], ".EE\n") {
			t.Errorf("%s: %q is not inside .EX/.EE", page, line)
		}
	}
}
