package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newCompletionCmd) }

func newCompletionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Example: `  libreflash completion bash > /etc/bash_completion.d/libreflash
  libreflash completion fish > ~/.config/fish/completions/libreflash.fish`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(a.stdout, true)
			case "zsh":
				return root.GenZshCompletion(a.stdout)
			case "fish":
				return root.GenFishCompletion(a.stdout, true)
			}
			return usageError(fmt.Errorf("completion: unknown shell %q (want bash, zsh or fish)", args[0]))
		},
	}
}

// programmers offered when completing --programmer: the internal programmer
// Libreboot installs use, the dummy programmer of rehearsals, and the
// external programmers people fall back to when internal flashing is blocked.
var programmers = []cobra.Completion{
	"internal\tthe chipset's own SPI controller (internal flashing)",
	"dummy:emulate=W25Q128FV,image=\tan emulated 16 MiB chip backed by a file",
	"ch341a_spi\tCH341A USB programmer",
	"serprog:dev=\tserprog device (Raspberry Pi Pico, STM32)",
	"linux_spi:dev=/dev/spidev0.0\tSPI controller of a single-board computer",
	"ft2232_spi:type=\tFTDI FT2232H/FT4232H programmer",
}

// romExts are the file name endings offered for ROM arguments.
var romExts = []string{"rom", "bin", "img"}

// addCompletions wires shell completion for the flags and arguments that
// several commands share, so each command file need not repeat it.
func addCompletions(root *cobra.Command) {
	romArg := func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return romExts, cobra.ShellCompDirectiveFilterFileExt
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("programmer") != nil {
			_ = c.RegisterFlagCompletionFunc("programmer", cobra.FixedCompletions(programmers, cobra.ShellCompDirectiveNoSpace|cobra.ShellCompDirectiveNoFileComp))
		}
		if c.Flags().Lookup("rehearse-from") != nil {
			_ = c.RegisterFlagCompletionFunc("rehearse-from", romArg)
		}
		if c.Flags().Lookup("state-dir") != nil {
			_ = c.RegisterFlagCompletionFunc("state-dir", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return nil, cobra.ShellCompDirectiveFilterDirs
			})
		}
		if (c.Name() == "install" || c.Name() == "inspect") && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = func(_ *cobra.Command, args []string, s string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return romArg(nil, args, s)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
