package pipeline

import "libreflash/internal/runner"

// No test in this binary may run a flasher with -p internal: it would reach
// the host's flash chip (tests run as root on CI). The guard refuses it in
// runner.Run whatever path a regression takes.
func init() { runner.Guard = runner.RefuseInternal }
