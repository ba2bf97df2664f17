package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/host"
	"libreflash/internal/pipeline"
	"libreflash/internal/preflight"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

func init() { register(newBackupCmd) }

type backupOptions struct {
	json       bool
	programmer string
	flasher    string
	stateDir   string
}

func newBackupCmd(a *app) *cobra.Command {
	o := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Read the flash chip twice and keep a verified backup",
		Long: `backup reads the whole flash chip twice with flashprog (or flashrom) and
keeps the read when both are identical, in a new directory
$STATE/backups/<UTC time>-<board>/ with backup.rom (0600), manifest.json
(sha256, chip, flasher, machine, command lines) and flasher.log. Reads that
differ stop it with both kept for inspection. Checks run first; an earlier
backup is never overwritten. ^C stops the read at once and keeps nothing.`,
		Example: `  sudo libreflash backup
  sudo libreflash backup --programmer ch341a_spi --json
  sudo libreflash backup --programmer dummy:emulate=W25Q128FV,image=chip.bin --state-dir ./state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runBackup(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print JSON lines, one event each, ending with a summary")
	f.StringVarP(&o.programmer, "programmer", "p", "internal", "flasher programmer, passed as -p")
	f.StringVar(&o.flasher, "flasher", "", "flashprog or flashrom binary (default: search flashprog, then flashrom)")
	f.StringVar(&o.stateDir, "state-dir", "", "state directory (default $LIBREFLASH_STATE_DIR or "+statedir.Default+")")
	return cmd
}

func (a *app) runBackup(ctx context.Context, o *backupOptions) error {
	// A signal cancels the context: the read in progress stops at once and
	// nothing is kept. The second ^C is caught too, until cleanup is done.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	r := a.newRenderer("backup", o.json)
	defer r.Close()
	env := a.preflightEnv()
	var facts diagnose.Facts // what the checks saw, to tell causes apart
	_, err := pipeline.Backup(ctx, pipeline.BackupOptions{
		Programmer:  o.programmer,
		FlasherPath: o.flasher,
		StateDir:    statedir.Resolve(o.stateDir, a.getenv),
		Root:        env.Path("/"),
		RunDir:      host.Root(hostRoot).Path(statedir.RunDir),
		Check:       a.backupChecks(env, &facts),
		Diagnose: func(log []byte, exit int) []diagnose.Finding {
			return diagnose.DiagnoseRun(log, exit, facts).Findings
		},
		Sink: r.Event,
	})
	return r.result(err)
}

// backupChecks runs the same checks as 'libreflash check' for the
// programmer, on the flasher the pipeline found (as install does: the
// flasher check judges the binary that runs, not a second lookup).
func (a *app) backupChecks(env *preflight.Env, facts *diagnose.Facts) pipeline.Checker {
	return func(ctx context.Context, programmer string, f *runner.Flasher) ([]pipeline.Check, error) {
		r := preflight.Run(ctx, pipeline.WithFlasher(env, f.Path, f), preflight.Options{Programmer: programmer, FlasherPath: f.Path})
		if err := ctx.Err(); err != nil {
			// A signal during the checks: what failed then is the user's
			// wish to stop, not the machine.
			return nil, exitcode.Wrap(exitcode.Cancelled, "nothing was read; run the same command again when you are ready",
				fmt.Errorf("cancelled during the checks: %w", err))
		}
		*facts = r.Facts
		var out []pipeline.Check
		for _, c := range r.Checks {
			if c.Status == preflight.Fail || c.Status == preflight.Warn {
				out = append(out, pipeline.Check{Source: pipeline.SourceMachine, ID: c.ID, Status: string(c.Status),
					Summary: c.Summary, Detail: c.Detail, Fix: c.Fix, Docs: c.Docs, Blocks: c.Status == preflight.Fail})
			}
		}
		return out, nil
	}
}
