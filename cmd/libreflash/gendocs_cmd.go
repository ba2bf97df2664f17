//go:build gendocs

package main

import "github.com/spf13/cobra"

// Built only with: go run -tags gendocs ./cmd/libreflash gendocs .
func init() { register(newGenDocsCmd) }

// newGenDocsCmd is registered only in builds with the gendocs tag
// (gendocs_cmd.go), so release binaries do not carry it.
func newGenDocsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "gendocs DIR",
		Short:  "Regenerate man pages and Markdown docs into DIR (the repository root)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(args[0])
		},
	}
}
