//go:build !linux

package restore

// oTmpfile is 0 where there is no O_TMPFILE: opening the directory for
// writing then fails, and the write goes through a named temporary file.
const oTmpfile = 0
