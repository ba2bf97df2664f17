package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"libreflash/internal/exitcode"
)

// Issue 13: ^C, SIGTERM or SIGHUP while the checks run (here: while the
// flasher answers --help, slowly) cancel the run, exit 130, and blame
// nobody. It used to be exit 3, "does not look like flashprog or flashrom".
func TestSignalDuringChecks(t *testing.T) {
	bin, dir, rom := signalTestSetup(t)
	chip := filepath.Join(dir, "chip.bin")
	mkrom(t, "factory", chip, "4194304")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		for _, command := range []string{"install", "backup"} {
			t.Run(command+"/"+sig.String(), func(t *testing.T) {
				sub := t.TempDir()
				// A stand-in that is slow to answer --help, and says when it
				// was asked; a real flashrom otherwise.
				mark := filepath.Join(sub, "asked")
				flasher := filepath.Join(sub, "flashrom")
				script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = --help ]; then : > %s; exec sleep 60; fi\nexec /usr/sbin/flashrom \"$@\"\n", mark)
				if err := os.WriteFile(flasher, []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
				args := []string{command}
				if command == "install" {
					args = append(args, rom)
				}
				args = append(args, "-p", "dummy:emulate=SST25VF032B,image="+chip, "--yes", "--json",
					"--flasher", flasher, "--state-dir", filepath.Join(sub, "state"))
				if command == "backup" {
					args = append(args[:len(args)-6], args[len(args)-5:]...) // backup has no --yes
				}
				cmd := exec.Command(bin, args...)
				cmd.Env = append(os.Environ(), "LIBREFLASH_TEST_MACHINE=debian-thinkpad-legacy")
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				var stdout, stderr lockedBuffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				deadline := time.After(time.Minute)
				for {
					if _, err := os.Stat(mark); err == nil {
						break
					}
					select {
					case err := <-done:
						t.Fatalf("ended before the checks asked the flasher (%v):\n%s\n%s", err, stdout.String(), stderr.String())
					case <-deadline:
						_ = cmd.Process.Kill()
						t.Fatal("the flasher was never asked for --help")
					case <-time.After(20 * time.Millisecond):
					}
				}
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					<-done
					t.Fatalf("still running 20 s after %v:\n%s", sig, stderr.String())
				}
				if code := cmd.ProcessState.ExitCode(); code != exitcode.Cancelled {
					t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitcode.Cancelled, stdout.String(), stderr.String())
				}
				if !strings.Contains(stdout.String(), `"result":"cancelled","exit":130`) {
					t.Errorf("summary is not cancelled/130:\n%s", stdout.String())
				}
				if s := stderr.String() + stdout.String(); strings.Contains(s, "does not look like") || strings.Contains(s, "--help failed") {
					t.Errorf("the flasher is blamed for the user's signal:\n%s", s)
				}
			})
		}
	}
}
