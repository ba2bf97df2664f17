package pipeline

import (
	"errors"
	"time"

	"libreflash/internal/runner"
)

// Chunk is a piece of a flasher's recorded output, as one read from its
// pipe returned it.
type Chunk struct {
	Stream string // stdout or stderr
	Data   []byte
}

// Replay sends through emit the events that backup and install send for a
// flasher run that printed chunks, in that order, and exited with
// exitCode: the runner's parser and the one progress adapter, as for a
// live run, without starting a process. stage and op are as for a live
// operation (op "" waits for the flasher to name its phase). It exists for
// the command layer's golden tests of its renderers; no timer ticks, so
// the events depend on the output alone (Elapsed aside).
func Replay(stage string, op Phase, chunks []Chunk, exitCode int, emit Sink) {
	_, _ = runOp(emit, time.Hour, flasherOp{Stage: stage, Op: op}, &seen{}, nil, func(o IO) (*runner.Result, error) {
		p := runner.NewParser(o.OnEvent)
		for _, c := range chunks {
			_, _ = p.Stream(c.Stream).Write(c.Data)
		}
		p.Close(exitCode)
		res := &runner.Result{ExitCode: exitCode}
		if exitCode != 0 {
			return res, &runner.RunError{ExitCode: exitCode, Err: errors.New("replayed failure")}
		}
		return res, nil
	})
}
