//go:build !(openbsd || netbsd || freebsd || dragonfly)

package preflight

// hostSecurelevel is nil off BSD: there is no securelevel to read.
var hostSecurelevel func() (int, error)
