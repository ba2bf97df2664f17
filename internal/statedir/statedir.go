// Package statedir owns libreflash's state directory (docs/design.md, "State
// on disk"): where it is, that nobody but root can have prepared it, how
// files in it are opened, and the locks that let one libreflash run at a
// time change the system or a flash chip.
//
// Root trusts what it finds there (the journal drives file writes, backups
// are written back to the chip), so before anything is read from it every
// component of its path must be owned by root (or the user running
// libreflash) and writable by no one else, and so must everything in it
// (Check). Files in it are opened relative to a directory descriptor with
// O_NOFOLLOW (Dir), new ones with O_EXCL.
//
// prepare, restore, backup and install take the state directory's lock;
// the flash chip has a lock of its own under /run (ChipLock), so that two
// state directories cannot mean two flashers on one chip. Both record the
// pid of the flasher libreflash started, which a later run refuses to race.
package statedir

import (
	"path/filepath"
)

// Default is the state directory when neither --state-dir nor the
// environment names one.
const Default = "/var/lib/libreflash"

// EnvVar names the environment variable that overrides Default.
const EnvVar = "LIBREFLASH_STATE_DIR"

// Resolve returns the state directory: flag if set, else $LIBREFLASH_STATE_DIR,
// else Default.
func Resolve(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if getenv != nil {
		if v := getenv(EnvVar); v != "" {
			return v
		}
	}
	return Default
}

// Journal, Runs and Backups name the parts of the state directory.
func Journal(stateDir string) string { return filepath.Join(stateDir, "journal.json") }

// Runs is where each run's event log lives ($STATE/runs/<ts>/events.jsonl).
func Runs(stateDir string) string { return filepath.Join(stateDir, "runs") }

// Backups is where verified chip backups live ($STATE/backups/<ts>-<board>/).
func Backups(stateDir string) string { return filepath.Join(stateDir, "backups") }
