package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"libreflash/internal/restore"
	"libreflash/internal/statedir"
)

type restoreOptions struct {
	json     bool
	stateDir string
}

func init() { register(newRestoreCmd) }

func newRestoreCmd(a *app) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Undo every change libreflash made to the system",
		Long: `restore undoes, newest first, every change in the journal that prepare or
install made: it removes iomem=relaxed from the boot configuration, reloads
unloaded drivers, and restores the securelevel setting. Files get back their
original bytes, mode and owner. It is safe to run again at any time, also
after an interrupted prepare or restore, and says whether a reboot is needed
for the running system to be protected again.`,
		Example: `  sudo libreflash restore
  sudo libreflash restore --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := a.restoreManager(o.stateDir)
			unlock, err := statedir.Lock(m.StateDir)
			if err != nil {
				return err
			}
			defer unlock()
			res, err := m.Restore(cmd.Context())
			if o.json {
				if res == nil {
					res = &restore.RestoreResult{Undone: []restore.Undone{}}
				}
				if jerr := a.writeJSON(res); jerr != nil {
					return jerr
				}
				var re *restore.RestoreError
				if errors.As(err, &re) {
					return silentExit(re.ExitCode())
				}
				return err
			}
			if res != nil {
				renderRestore(a, res)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&o.stateDir, "state-dir", "", "state directory (default /var/lib/libreflash, env LIBREFLASH_STATE_DIR)")
	return cmd
}

func renderRestore(a *app, res *restore.RestoreResult) {
	if len(res.Undone) == 0 {
		fmt.Fprintln(a.stdout, "Nothing to restore: the journal is empty.")
		return
	}
	for _, u := range res.Undone {
		if u.Error != "" {
			fmt.Fprintf(a.stdout, "failed  %s (%s): still pending\n", u.Action, u.Backend)
			continue
		}
		fmt.Fprintf(a.stdout, "undone  %s: %s\n", u.Action, u.Summary)
	}
	if res.Reboot {
		fmt.Fprintln(a.stdout, "Reboot for the running system to be protected again.")
	}
}
