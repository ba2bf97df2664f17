package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// docsDate is fixed so that regenerating the docs changes them only when the
// commands change; the freshness test compares byte for byte.
var docsDate = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// genDocs writes man pages to dir/man and Markdown command docs to
// dir/docs/commands, from the live cobra tree, plus the generated pages that
// come from internal catalogs (see extraDocs).
func genDocs(dir string) error {
	a := &app{getenv: func(string) string { return "" }}
	root := a.newRootCmd()
	root.DisableAutoGenTag = true
	preformatLong(root)
	manDir := filepath.Join(dir, "man")
	mdDir := filepath.Join(dir, "docs", "commands")
	for _, d := range []string{manDir, mdDir} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	hdr := &doc.GenManHeader{Title: "LIBREFLASH", Section: "1", Date: &docsDate,
		Source: "libreflash", Manual: "libreflash manual"}
	if err := doc.GenManTree(root, hdr, manDir); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	if err := doc.GenMarkdownTree(root, mdDir); err != nil {
		return fmt.Errorf("markdown docs: %w", err)
	}
	for name, gen := range extraDocs {
		if err := gen(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// preformatLong marks the indented blocks of every command's long help (the
// tables of stages and actions, laid out for a terminal) as preformatted
// text. The man and Markdown generators read Long as Markdown, where such a
// block would be reflowed into a paragraph and lose its columns.
func preformatLong(c *cobra.Command) {
	c.Long = fenceIndented(c.Long)
	for _, sub := range c.Commands() {
		preformatLong(sub)
	}
}

// fenceIndented puts each run of lines that start with two spaces between
// Markdown code fences, removing the common two-space indent.
func fenceIndented(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	in := false
	for _, l := range lines {
		indented := strings.HasPrefix(l, "  ")
		if indented && !in {
			out = append(out, "```")
		} else if !indented && in {
			out = append(out, "```")
		}
		in = indented
		if indented {
			l = l[2:]
		}
		out = append(out, l)
	}
	if in {
		out = append(out, "```")
	}
	return strings.Join(out, "\n")
}

// extraDocs maps a path below the repository root to the function that
// writes it.
var extraDocs = map[string]func(path string) error{}
