package host

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The running kernel's process table is the one part of the host that no
// root stands for: the processes libreflash starts, and libreflash itself,
// live on the running kernel whatever the root, and a fixture has none. It
// is still named here, so that every host path libreflash opens is.

// Proc is the running kernel's /proc.
const Proc = "/proc"

// ProcDir is /proc/PID of the running kernel.
func ProcDir(pid int) string { return Proc + "/" + strconv.Itoa(pid) }

// SelfFD is this process's open descriptor fd as a path
// (/proc/self/fd/FD): an O_TMPFILE is given a name by linking it.
func SelfFD(fd int) string { return fmt.Sprintf("%s/self/fd/%d", Proc, fd) }

// PIDs lists the running kernel's processes; none without /proc (BSD).
func PIDs() []int {
	d, err := os.Open(Proc)
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []int
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// ProcStat is what /proc/PID/stat says of a process.
type ProcStat struct {
	Comm  string // the command name, as the process set it (unsanitised)
	State string // R, S, D, Z, X, …
	PPID  int
	PGRP  int
	Start uint64 // clock ticks after boot
}

// ReadProcStat reads /proc/PID/stat of the running kernel.
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile(ProcDir(pid) + "/stat")
	if err != nil {
		return ProcStat{}, err
	}
	st, ok := ParseProcStat(b)
	if !ok {
		return st, fmt.Errorf("%s/stat: %w", ProcDir(pid), errors.ErrUnsupported)
	}
	return st, nil
}

// ParseProcStat parses a /proc/PID/stat line: "pid (comm) state ppid pgrp
// …", where comm may hold spaces and ')', and starttime is field 22.
func ParseProcStat(b []byte) (ProcStat, bool) {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return ProcStat{}, false
	}
	st := ProcStat{Comm: string(b[i+1 : j])}
	f := strings.Fields(string(b[j+1:]))
	// f[0] is field 3 (state); starttime, field 22, is f[19].
	if len(f) < 20 {
		return st, false
	}
	st.State = f[0]
	var err error
	if st.PPID, err = strconv.Atoi(f[1]); err != nil {
		return st, false
	}
	if st.PGRP, err = strconv.Atoi(f[2]); err != nil {
		return st, false
	}
	if st.Start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return st, false
	}
	return st, true
}
