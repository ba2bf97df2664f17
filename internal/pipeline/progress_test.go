package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"libreflash/internal/runner"
	"libreflash/internal/testutil"
)

// A write as flashprog --progress prints it (the recorded transcript):
// one op per kind of work, real percentages, each ending ok.
func TestRunOpWriteTranscript(t *testing.T) {
	tr := filepath.Join(testutil.Flashers(t, "flashprog-p1.5-91-g79d5c66"), "write-flash-contents-progress-ok.stdout")
	sh := &runner.Flasher{Path: "/bin/cat"}
	var rec recorder
	_, err := runOp(rec.sink, time.Hour, flasherOp{}, &seen{}, nil, func(o IO) (*runner.Result, error) {
		return sh.Run(context.Background(), runner.Spec{Args: []string{tr}, OnEvent: o.OnEvent})
	})
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	pct := map[string]int{}
	for _, e := range rec.events() {
		p, ok := e.Data.(*Progress)
		if !ok {
			continue
		}
		if p.Status != "" {
			seq = append(seq, string(p.Op)+":"+p.Status)
		} else if p.Percent != nil {
			pct[string(p.Op)] = *p.Percent
		}
	}
	got := strings.Join(seq, " ")
	t.Logf("ops: %s; last percentages %v", got, pct)
	// The write stage measures its erase, then its write.
	if got != "write:start erase:start erase:ok write:start write:ok verify:start verify:ok" {
		t.Errorf("ops %s", got)
	}
	for op, p := range pct {
		if p != 100 {
			t.Errorf("%s ended at %d%%", op, p)
		}
	}
}

// flashrom 1.3 tries another erase function when one fails, reading the
// chip again first (the recorded transcript: two erase opcodes ignored by
// the chip, the third works). Each attempt ends before the next starts:
// the failed ones failed, with their number; the re-reads and the later
// attempts say which they are, so that no two starts are alike; every
// read of the chip is counted.
func TestRunOpEraseRetries(t *testing.T) {
	tr := filepath.Join(testutil.Flashers(t, "flashrom-1.3.0-debian-matrix"), "erase-ignored-2052-full.stdout")
	sh := &runner.Flasher{Path: "/bin/cat"}
	var rec recorder
	reads := 0
	_, err := runOp(rec.sink, time.Hour, flasherOp{Stage: StageWrite}, &seen{}, func(n int) { reads += n }, func(o IO) (*runner.Result, error) {
		return sh.Run(context.Background(), runner.Spec{Args: []string{tr}, OnEvent: o.OnEvent})
	})
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	starts := map[string]bool{}
	for _, e := range rec.events() {
		p, ok := e.Data.(*Progress)
		if !ok || p.Status == "" {
			continue
		}
		k := fmt.Sprintf("%s/%d", p.Op, p.Pass)
		if p.Passes != 0 {
			t.Errorf("%s: passes %d, but the flasher never says how many attempts it makes", k, p.Passes)
		}
		seq = append(seq, k+":"+p.Status)
		if p.Status == StatusStart {
			if starts[k] {
				t.Errorf("%s started twice", k)
			}
			starts[k] = true
		}
	}
	want := "read/0:start read/0:ok write/0:start write/1:fail read/2:start read/2:ok write/2:start write/2:fail " +
		"read/3:start read/3:ok write/3:start write/3:ok verify/0:start verify/0:ok"
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("ops\n%s\nwant\n%s", got, want)
	}
	if reads != 4 {
		t.Errorf("%d chip reads counted, want 4 (old contents, two re-reads, verify)", reads)
	}
}

// While shielded, a signal is reported as such and the flasher finishes.
func TestRunOpShieldedSignalNotice(t *testing.T) {
	sh := &runner.Flasher{Path: "/bin/sh"}
	var rec recorder
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
	}()
	res, err := runOp(rec.sink, 50*time.Millisecond, flasherOp{Stage: StageWrite, Op: PhaseWrite, IO: IO{Shield: true}}, &seen{}, nil,
		func(o IO) (*runner.Result, error) {
			return sh.Run(context.Background(), runner.Spec{Args: []string{"-c", "sleep 1; echo 'Erase/write done.'"},
				Shield: o.Shield, OnEvent: o.OnEvent, OnSignal: o.OnSignal})
		})
	if err != nil || !res.Cancelled || res.Killed {
		t.Fatalf("err %v, result %+v", err, res)
	}
	found := false
	for _, e := range rec.events() {
		s, ok := e.Data.(*Signal)
		found = found || ok && s.Signal == "SIGINT" && s.Stage == StageWrite
	}
	if !found {
		t.Errorf("no notice in %+v", rec.events())
	}
}
