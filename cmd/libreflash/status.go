package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"libreflash/internal/exitcode"
	"libreflash/internal/restore"
)

type statusOptions struct {
	json     bool
	stateDir string
}

func init() { register(newStatusCmd) }

func newStatusCmd(a *app) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show pending changes, whether they are in effect, and the last runs and backups",
		Long: `status lists the changes libreflash made that are not yet undone (the
journal), whether each is in effect on the running kernel (/proc/cmdline,
/proc/modules), and the most recent runs and backups in the state directory.
It changes nothing.`,
		Example: `  libreflash status
  libreflash status --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.restoreManager(o.stateDir).Status()
			if errors.Is(err, os.ErrPermission) {
				// The state directory is root's (0700): the usual case for
				// a user who forgot sudo.
				return exitcode.Wrap(exitcode.Error, "the state directory is root's: run sudo libreflash status (or give --state-dir a directory you can read)", err)
			}
			if err != nil {
				return err
			}
			if o.json {
				return a.writeJSON(st)
			}
			w := a.stdout
			if len(st.Pending) == 0 {
				fmt.Fprintln(w, "Pending changes: none")
			} else {
				fmt.Fprintln(w, "Pending changes (undo with 'libreflash restore'):")
			}
			for _, p := range st.Pending {
				eff := "unknown"
				if p.InEffect != nil {
					eff = map[bool]string{true: "in effect", false: "not in effect"}[*p.InEffect]
					if !*p.InEffect && p.Reboot {
						eff += " (reboot)"
					}
				}
				fmt.Fprintf(w, "  %s  %s via %s, %s, %s\n", p.Created.Format("2006-01-02 15:04"), p.Action, p.Backend, p.State, eff)
				if len(p.Files) > 0 {
					fmt.Fprintf(w, "      files: %s\n", strings.Join(p.Files, ", "))
				}
				switch {
				case p.Action == restore.ActionDellOverride && p.InEffect != nil && *p.InEffect:
					// Shut down and powered on since: the next step is due.
					fmt.Fprintf(w, "      the descriptor override is in effect now: run the same install again; it disables SMIs, writes and enables them\n")
				case strings.HasPrefix(p.Action, "dell-") && p.Expect != "":
					// Where the Dell unlock cycle stands, and what comes next.
					fmt.Fprintf(w, "      %s\n", p.Expect)
				}
			}
			if st.JournalNote != "" {
				fmt.Fprintf(w, "Journal not read: %s\n", st.JournalNote)
			}
			if len(st.Orphans) > 0 {
				fmt.Fprintln(w, "Changes of libreflash's without a journal entry (undo with 'libreflash restore'):")
			}
			for _, o := range st.Orphans {
				fmt.Fprintf(w, "  %s: %s\n", o.Path, o.Summary)
			}
			k := st.Kernel
			iomem := map[bool]string{true: "on", false: "off"}[k.IomemRelaxed]
			if !k.Cmdline {
				iomem = "unknown (/proc/cmdline unreadable)"
			}
			fmt.Fprintf(w, "Running kernel: iomem=relaxed %s", iomem)
			if len(k.Drivers) > 0 {
				fmt.Fprintf(w, "; loaded drivers: %s", strings.Join(k.Drivers, ", "))
			}
			fmt.Fprintln(w)
			for _, r := range st.Runs {
				res := r.Result
				if r.Finished != nil && !*r.Finished && res == "" {
					res = "unfinished, stopped at " + r.Stage
				}
				if r.Rehearsal {
					res += " (rehearsal)"
				}
				fmt.Fprintf(w, "Run     %s %s %s\n", r.Path, r.Command, res)
			}
			for _, b := range st.Backups {
				v := "unverified"
				if b.Verified {
					v = "verified"
				}
				fmt.Fprintf(w, "Backup  %s %s %s sha256:%s\n", b.Path, b.Board, v, b.SHA256)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the status as JSON")
	cmd.Flags().StringVar(&o.stateDir, "state-dir", "", "state directory (default /var/lib/libreflash, env LIBREFLASH_STATE_DIR)")
	return cmd
}
