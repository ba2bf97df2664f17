package restore

import "golang.org/x/sys/unix"

// oTmpfile opens an unnamed temporary file in a directory (Linux 3.11+).
const oTmpfile = unix.O_TMPFILE
