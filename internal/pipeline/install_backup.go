package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
)

// installBackup is what the backup stage leaves for the write.
type installBackup struct {
	// current is this run's verified double read: what the chip holds
	// now. It is the write's --flash-contents and what "unchanged" means.
	current *VerifiedBackup
	// target is the way back: current, or, after an interrupted write,
	// the interrupted run's verified backup (current is then a snapshot).
	target *BackupRef
}

// backup reads the chip twice, as Backup does, inside the install: the
// install holds the lock, knows the chip, and keeps one record.
func (in *installer) backup(ctx context.Context, pl *installPlan) (*installBackup, error) {
	in.stage(StageBackup, StatusStart)
	fail := func(err error) (*installBackup, error) {
		in.stage(StageBackup, StatusFail)
		return nil, err
	}
	bk := &installBackup{}
	role := RoleBackup
	if p := pl.previous; p != nil {
		// The chip may hold neither the old firmware nor the new: what we
		// read now is a snapshot; the way back is what the interrupted
		// run backed up before it wrote (issue 13 item 1).
		role = RoleSnapshot
		if p.Backup == nil {
			return fail(exitcode.New(exitcode.Blocked,
				"write a backup you trust (from before that run) with the flasher yourself, or ask for help; "+
					"do not reboot or power off until the chip is written",
				"an earlier run (%s) stopped while writing the chip and recorded no verified backup to roll back to", p.Dir))
		}
		t, err := in.trustedBackup(*p.Backup)
		if err != nil {
			return fail(err)
		}
		bk.target = t
	}
	kept, err := readTwice(ctx, in.s, readSpec{stateDir: in.stateDir, root: in.o.Env.Root, chip: pl.chip,
		info: in.s.fl.Info(), programmer: pl.prog, role: role, now: time.Now, log: in.rec.log,
		failed: in.readFailed})
	if err != nil {
		return fail(err)
	}
	bk.current = kept
	if bk.target == nil {
		bk.target = &kept.BackupRef
		in.rec.setBackups(bk.target, nil)
	} else {
		in.rec.setBackups(bk.target, &kept.BackupRef)
	}
	in.stage(StageBackup, StatusOK)
	return bk, nil
}

// readFailed turns a failed read into findings and a blocked error: a
// backup that cannot read the chip stops everything before any write.
func (in *installer) readFailed(log []byte, err error, what string) error {
	for _, f := range diagnose.DiagnoseRun(log, flasherExit(err), in.report.Facts).Findings {
		in.emit(&Finding{f})
	}
	return &exitcode.E{Code: exitcode.Blocked, Err: fmt.Errorf("%s: %w", what, err),
		Tip: "run 'libreflash diagnose " + in.rec.logPath + "' for the cause and its fix"}
}

// trustedBackup checks a backup against the sha256 recorded when its two
// reads matched, before it is relied on as the way back (issue 13 item
// 5). When backup.rom changed, the other kept read is used if it still
// matches; when neither does, there is no trustworthy way back.
func (in *installer) trustedBackup(ref BackupRef) (*BackupRef, error) {
	dir := ref.Dir
	if dir == "" {
		dir = filepath.Dir(ref.Path)
	}
	got, err := sumFile(ref.Path)
	ok := err == nil && got == ref.SHA256
	in.emit(&BackupCheck{Path: ref.Path, Expected: ref.SHA256, Actual: got, OK: ok})
	if ok {
		return &ref, nil
	}
	other := filepath.Join(dir, "read-2.rom")
	if m, err := readManifest(dir); err == nil && len(m.Reads) > 1 && m.Reads[1].File != "" {
		other = filepath.Join(dir, filepath.Base(m.Reads[1].File))
	}
	if other != ref.Path {
		got2, err := sumFile(other)
		if err == nil && got2 == ref.SHA256 {
			in.emit(&BackupCheck{Path: other, Expected: ref.SHA256, Actual: got2, OK: true})
			return &BackupRef{Path: other, SHA256: ref.SHA256, Dir: dir}, nil
		}
	}
	return nil, exitcode.New(exitcode.Blocked,
		"restore the backup from the copy you kept off this machine into "+dir+", or ask for help",
		"the backup %s no longer matches the sha256 recorded when it was read (%s), and no other read of it does",
		ref.Path, short(ref.SHA256))
}

// sumFile is the sha256 of the file at path.
func sumFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
