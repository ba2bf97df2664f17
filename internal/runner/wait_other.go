//go:build !linux

package runner

// exitedNoReap reports false where waitid(WNOWAIT) is not available: the
// caller then leaves the process group alone and exec.Cmd.Wait reaps the
// flasher.
func exitedNoReap(pid int) bool { return false }
