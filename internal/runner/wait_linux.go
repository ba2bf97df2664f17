package runner

import "golang.org/x/sys/unix"

// exitedNoReap waits until process pid has exited, leaving it a zombie for
// exec.Cmd.Wait to reap.
func exitedNoReap(pid int) bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		return err == nil
	}
}
