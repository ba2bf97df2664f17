package pipeline

import (
	"os"
	"os/signal"
	"syscall"

	"libreflash/internal/runner"
)

// No test in this binary may run a flasher with -p internal: it would reach
// the host's flash chip (tests run as root on CI). The guard refuses it in
// runner.Run whatever path a regression takes.
func init() {
	runner.Guard = runner.RefuseInternal
	// Tests here send SIGINT, SIGTERM and SIGHUP to their own process to
	// play the user. One that lands after the code under test stopped
	// listening (a slow machine, a fast flasher) must not kill the whole
	// test binary: keep the three notified for its lifetime.
	signal.Notify(make(chan os.Signal, 16), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
}
