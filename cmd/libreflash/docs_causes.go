package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"libreflash/internal/diagnose"
)

func init() { extraDocs["docs/causes.md"] = writeCausesDoc }

// writeCausesDoc renders the diagnosis catalog as the troubleshooting page
// users read before (or after) anything fails.
func writeCausesDoc(path string) error {
	var b bytes.Buffer
	b.WriteString(`# Why did my flash fail? Causes and fixes

<!-- Generated from internal/diagnose's catalog by
     go run -tags gendocs ./cmd/libreflash gendocs .   Do not edit. -->

` + "`libreflash diagnose flashprog.log`" + ` finds these in a flashprog or flashrom log
for you (or pipe the log in: ` + "`flashprog ... 2>&1 | libreflash diagnose`" + `). Each
cause below lists the messages that point at it, as the flashers print them
(flashrom 0.9.x to 1.7, flashprog 1.0 to current; ` + "`…`" + ` stands for a varying
part), and the fix.

| cause | what it means |
|---|---|
`)
	causes := diagnose.Causes()
	for _, c := range causes {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", c.ID, c.ID, mdCell(c.Summary))
	}
	for _, c := range causes {
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n\nSeverity when it stops a run: %s.\n", c.ID, upperFirst(c.Summary), c.Severity)
		if len(c.Signatures) > 0 {
			b.WriteString("\nMessages:\n\n")
			for _, s := range c.Signatures {
				fmt.Fprintf(&b, "- `%s`\n", strings.ReplaceAll(s, "`", "'"))
			}
		}
		if c.StopsBeforeChip {
			b.WriteString("\nThe flashers report it before they erase or write anything: a write that failed for it left the chip as it was.\n")
		}
		if len(c.Outcomes) == 0 {
			fmt.Fprintf(&b, "\nFix:\n\n%s\n", c.Fix)
		} else {
			b.WriteString("\nThe fix depends on the chip's state after the run (the outcome `libreflash diagnose` reports):\n")
			for _, o := range []string{diagnose.UnknownState, diagnose.Incomplete, diagnose.Failed, diagnose.Unchanged, diagnose.RolledBack, diagnose.Success} {
				fmt.Fprintf(&b, "\nWhen the outcome is %s:\n\n%s\n", o, diagnose.Fix(c.ID, o, diagnose.Facts{}))
			}
		}
		fmt.Fprintf(&b, "\nDocumentation: <%s>\n", c.Docs)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
