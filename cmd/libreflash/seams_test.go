package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
)

// The one place where the test binary (and the libreflash it runs for
// scripts) replaces the host: every host path and live probe comes from a
// fixture, never from the machine running the tests.
//
//	LIBREFLASH_TEST_MACHINE=NAME  checks and inspect see the fixture machine
//	                              internal/preflight/testdata/NAME (read only)
//	LIBREFLASH_TEST_ROOT=DIR      the root that prepare, restore, status and
//	                              install change (tools in it are trusted when
//	                              owned by the test user), and that checks and
//	                              inspect see when no machine is named
//	LIBREFLASH_TEST_PROBES=FILE   the live probes' answers for that root
//	                              (default DIR/../probes.json)
//
// With neither set, the checks see an empty root whose probes fail (no iopl,
// no /dev/mem) and changes go to an empty directory under $TMPDIR (a script's
// own work directory): a script that forgets to name its machine can neither
// probe nor change this one. The libreflash binary has none of this.
func init() {
	machine := os.Getenv("LIBREFLASH_TEST_MACHINE")
	root := os.Getenv("LIBREFLASH_TEST_ROOT")
	probes := os.Getenv("LIBREFLASH_TEST_PROBES")

	if root != "" {
		hostRoot, trustedUID = root, os.Geteuid()
	} else {
		hostRoot = filepath.Join(os.TempDir(), "libreflash-test-root")
	}

	checkRoot := root
	if machine != "" {
		checkRoot = filepath.Join(fixturesDir(), machine, "root")
		if probes == "" {
			probes = filepath.Join(fixturesDir(), machine, "probes.json")
		}
	}
	machineRoot = checkRoot
	if checkRoot == "" {
		machineRoot = hostRoot
		newPreflightEnv = func() *preflight.Env { return noProbeEnv(hostRoot) }
		return
	}
	if probes == "" {
		probes = filepath.Join(checkRoot, "..", "probes.json")
	}
	newPreflightEnv = func() *preflight.Env {
		e, err := preflighttest.LoadRoot(checkRoot, probes)
		if err != nil {
			fmt.Fprintln(os.Stderr, "test fixture:", err)
			os.Exit(99)
		}
		return e
	}
}

// noProbeEnv is the host's Env moved to root, with the live probes that
// could touch the host (iopl, /dev/mem) answering "not available". Finding
// the flasher stays real: it only reads PATH and runs --help.
func noProbeEnv(root string) *preflight.Env {
	e := preflight.HostEnv()
	e.Root = root
	e.Iopl = func(level int) error {
		if level == 0 {
			return nil
		}
		return syscall.ENOSYS
	}
	e.MapMem = func(path string, _, _ int64) error {
		return &os.PathError{Op: "mmap", Path: path, Err: errors.New("no live probes in tests")}
	}
	e.ReadPhys32 = func(path string, _ uint64) (uint32, error) {
		return 0, &os.PathError{Op: "read", Path: path, Err: errors.New("no live probes in tests")}
	}
	e.InL = func(uint16) (uint32, error) { return 0, errors.New("no live probes in tests") }
	return e
}
