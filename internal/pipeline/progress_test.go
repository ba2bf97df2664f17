package pipeline

import (
	"context"
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
