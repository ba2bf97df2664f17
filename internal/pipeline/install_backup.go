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
			Diagnose: func(log []byte, exit int) []diagnose.Finding {
				return diagnose.DiagnoseRun(log, exit, in.report.Facts).Findings
			},
			Sink: in.emit,
			// One read counter: the install's.
			Reads: in.addReads,
			Now:   time.Now,
			Tick:  time.Second,
		},
		sum:     &Summary{},
		flasher: in.fl,
		chip:    in.chip,
		log:     in.run.log,
		logPath: in.run.logPath,
		file:    func(Event) {}, // in.emit records the events
		said:    &in.said,
		runs:    &in.runs,
	}
	if err := b.readAndKeep(ctx); err != nil {
		in.stage(StageBackup, StatusFail)
		return err
	}
	in.backup = b.sum.Backup
	in.run.setBackup(in.backup)
	in.stage(StageBackup, StatusOK)
	return nil
}
