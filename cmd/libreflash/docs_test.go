package main

import (
	"bytes"
	"github.com/spf13/cobra"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
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
