package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// Script commands for release archives and GbE regions (issue 16). They
// make inputs and read results independently of the code under test; the
// archives themselves are made with real tar, xz and sha512sum in the
// scripts, and signed here with real gpg.

// archiveCmds are added to a testscript's Cmds.
var archiveCmds = map[string]func(*testscript.TestScript, bool, []string){
	"mkgbe":       cmdMkGbE,
	"nvmcheck":    cmdNVMCheck,
	"signrelease": cmdSignRelease,
	"cpnewest":    cmdCpNewest,
}

// newest is the last of the files matching pattern (run and backup
// directories are named by their UTC start time, so the newest one).
func newest(ts *testscript.TestScript, pattern string) string {
	m, err := filepath.Glob(ts.MkAbs(pattern))
	ts.Check(err)
	if len(m) == 0 {
		ts.Fatalf("nothing matches %s", pattern)
	}
	sort.Strings(m)
	return m[len(m)-1]
}

// cpnewest PATTERN DEST copies the newest file matching PATTERN.
func cmdCpNewest(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cpnewest PATTERN DEST")
	}
	b, err := os.ReadFile(newest(ts, args[0]))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
}

// mkgbe FILE MAC: an 8 KiB Intel GbE NVM, two parts with MAC and valid
// checksums (each part's first 64 words sum to 0xBABA).
func cmdMkGbE(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkgbe FILE MAC")
	}
	mac, err := hex.DecodeString(strings.ReplaceAll(args[1], ":", ""))
	if err != nil || len(mac) != 6 {
		ts.Fatalf("mkgbe: bad MAC %q", args[1])
	}
	g := make([]byte, 8192)
	for p := 0; p < 2; p++ {
		part := g[p*4096 : (p+1)*4096]
		copy(part, mac)
		for i := 6; i < 126; i++ {
			part[i] = byte(i * 7)
		}
		var sum uint16
		for i := 0; i < 63; i++ {
			sum += binary.LittleEndian.Uint16(part[2*i:])
		}
		binary.LittleEndian.PutUint16(part[126:], 0xBABA-sum)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), g, 0o644))
}

// nvmcheck IMAGE MAC: the (newest, IMAGE may be a pattern) image's GbE region, as ifdtool -x extracts it,
// holds MAC in both parts, each with a valid checksum.
func cmdNVMCheck(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: nvmcheck IMAGE MAC")
	}
	dir, err := os.MkdirTemp("", "nvmcheck")
	ts.Check(err)
	defer os.RemoveAll(dir)
	cmd := exec.Command(ifdtoolPath(), "-x", newest(ts, args[0]))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("ifdtool -x: %v\n%s", err, out)
	}
	g, err := os.ReadFile(filepath.Join(dir, "flashregion_3_gbe.bin"))
	ts.Check(err)
	mac, _ := hex.DecodeString(strings.ReplaceAll(args[1], ":", ""))
	var bad []string
	for p := 0; p < 2 && len(g) >= 8192; p++ {
		part := g[p*len(g)/2:]
		var sum uint16
		for i := 0; i < 64; i++ {
			sum += binary.LittleEndian.Uint16(part[2*i:])
		}
		if sum != 0xBABA || !bytes.Equal(part[:6], mac) {
			bad = append(bad, fmt.Sprintf("part %d: MAC % x, sum %#04x", p, part[:6], sum))
		}
	}
	if len(g) < 8192 {
		bad = append(bad, fmt.Sprintf("GbE region is %d bytes", len(g)))
	}
	if (len(bad) == 0) == neg {
		ts.Fatalf("nvmcheck %s %s: %v", args[0], args[1], bad)
	}
}

func ifdtoolPath() string {
	if p, err := exec.LookPath("ifdtool"); err == nil {
		return p
	}
	return "/usr/sbin/ifdtool"
}

// signrelease [-key NAME] FILE: a detached signature FILE.sig by a gpg key
// made for this script (one per NAME), its public key exported to
// $WORK/NAME.asc. The key's home is short-pathed (gpg-agent's socket).
func cmdSignRelease(ts *testscript.TestScript, neg bool, args []string) {
	name := "release"
	if len(args) == 3 && args[0] == "-key" {
		name, args = args[1], args[2:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: signrelease [-key NAME] FILE")
	}
	home := ts.Getenv("GPGHOME_" + name)
	if home == "" {
		var err error
		home, err = os.MkdirTemp("", "lfgpg")
		ts.Check(err)
		ts.Defer(func() {
			_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
			os.RemoveAll(home)
		})
		ts.Setenv("GPGHOME_"+name, home)
		gpg(ts, home, "--quick-gen-key", name+" <"+name+"@example.invalid>", "ed25519", "sign", "never")
		gpg(ts, home, "--armor", "--output", ts.MkAbs(name+".asc"), "--export", name+"@example.invalid")
	}
	gpg(ts, home, "--yes", "--detach-sign", "--output", ts.MkAbs(args[0])+".sig", ts.MkAbs(args[0]))
}

func gpg(ts *testscript.TestScript, home string, args ...string) {
	cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("gpg %v: %v\n%s", args, err, out)
	}
}
