package pipeline

import (
	"context"
	"time"

	"libreflash/internal/diagnose"
)

// doBackup is Backup's verified double read, run inside the install: the
// install already holds the lock (a second flock in the same process would
// be refused), knows the chip, and keeps one run directory and log.
func (in *installer) doBackup(ctx context.Context) error {
	in.stage(StageBackup, StatusStart)
	b := &backup{
		o: BackupOptions{
			Programmer: in.prog,
			Flasher:    in.fl,
			StateDir:   in.stateDir,
			Root:       in.o.Env.Root,
			Diagnose: func(log []byte, exit int) []Finding {
				var out []Finding
				for _, f := range diagnose.DiagnoseRun(log, exit, in.report.Facts).Findings {
					out = append(out, Finding{ID: f.ID, Severity: f.Severity, Line: f.Line,
						Evidence: f.Evidence, Summary: f.Summary, Fix: f.Fix, Docs: f.Docs})
				}
				return out
			},
			Sink: func(e Event) {
				if e.Type == TypeProgress && e.Status == StatusStart {
					in.addReads(1)
				}
				in.emit(e)
			},
			Now:  time.Now,
			Tick: time.Second,
		},
		sum:     &Summary{},
		flasher: in.fl,
		chip:    in.chip,
		log:     in.run.log,
		logPath: in.run.logPath,
		file:    func(Event) {}, // in.emit records the events
	}
	if err := b.readAndKeep(ctx); err != nil {
		in.stage(StageBackup, StatusFail)
		return err
	}
	in.backup = b.sum.Backup
	in.run.setBackup(in.backup)
	in.log("info", "backup: "+in.backup.Path+" (sha256 "+in.backup.SHA256+"), two equal reads")
	in.stage(StageBackup, StatusOK)
	return nil
}
