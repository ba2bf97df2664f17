package runner

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// No test in this package may run a flasher with -p internal: see Guard.
func init() {
	Guard = RefuseInternal
	// Tests here send SIGINT, SIGTERM and SIGHUP to their own process to
	// play the user. One that lands after the code under test stopped
	// listening (a slow machine, a fast flasher) must not kill the whole
	// test binary: keep the three notified for its lifetime.
	signal.Notify(make(chan os.Signal, 16), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
}

func TestRefuseInternal(t *testing.T) {
	for _, tc := range []struct {
		argv    []string
		refused bool
	}{
		{[]string{"flashrom", "-p", "internal", "-r", "x"}, true},
		{[]string{"flashrom", "-p", "internal:laptop=force_I_want_a_brick", "-w", "x"}, true},
		{[]string{"flashrom", "--programmer", "internal"}, true},
		{[]string{"flashrom", "--programmer=internal"}, true},
		{[]string{"flashrom", "-pinternal"}, true},
		{[]string{"flashrom", "-p", "dummy:emulate=W25Q128FV,image=internal"}, false},
		{[]string{"flashrom", "-p", "ch341a_spi", "-r", "internal"}, false},
		{[]string{"flashrom", "--help"}, false},
	} {
		if got := RefuseInternal(tc.argv) != nil; got != tc.refused {
			t.Errorf("RefuseInternal(%q) refused = %v, want %v", tc.argv, got, tc.refused)
		}
	}
}

// The guard stops the run before anything starts: a stand-in flasher that
// would leave a mark never runs.
func TestGuardStopsRun(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	script := filepath.Join(dir, "flasher")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+mark+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &Flasher{Path: script, Kind: "flashrom"}
	_, err := f.Run(context.Background(), Spec{Programmer: "internal", Args: []string{"-r", "x"}})
	if err == nil || !strings.Contains(err.Error(), "test guard") {
		t.Fatalf("Run with -p internal: err = %v, want the test guard's refusal", err)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("the flasher ran although the guard refused it")
	}
	if _, err := f.Run(context.Background(), Spec{Programmer: "dummy", Args: []string{"-r", "x"}}); err != nil {
		t.Fatalf("Run with -p dummy: %v", err)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Fatal("the stand-in flasher did not run for -p dummy")
	}
}
