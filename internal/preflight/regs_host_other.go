//go:build !(linux && amd64)

package preflight

// Off Linux on amd64 the lock-state probe has no register access.
func hostReadPhys32(string, uint64) (uint32, error) { return 0, errNoProbe }
func hostInL(uint16) (uint32, error)                { return 0, errNoProbe }
