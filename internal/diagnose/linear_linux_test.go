//go:build linux

package diagnose

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLinear: adversarial inputs take time proportional to their size.
func TestLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	units := []string{
		"Error accessing ",
		"\x1b[",
		"x\b\b\b",
		"[READ: 1%]...[READ] 1% complete... ",
		"Reading... [=====>   ",
		"Operation not permitted) Could not get I/O privileges (Operation not permitted).\n",
		"> > > \r\r",
		"Setting BIOS Control at New value is 0x",
	}
	for _, u := range units {
		small := bytes.Repeat([]byte(u), 64<<10/len(u)+1)
		large := bytes.Repeat([]byte(u), 8*(64<<10/len(u)+1))
		// Wall time on a shared machine is noisy: a quadratic path fails
		// every attempt, a scheduling hiccup does not.
		var ts, tl time.Duration
		linear := false
		for attempt := 0; attempt < 4 && !linear; attempt++ {
			ts, tl = best(small), best(large)
			linear = tl <= 30*ts+20*time.Millisecond
		}
		if !linear {
			t.Errorf("%q: 8x input took %v vs %v: not linear", u, tl, ts)
		}
	}
}

// best is the least thread CPU time of five runs. CPU time, not wall time:
// on a loaded machine a descheduled thread accrues no CPU time, so the ratio
// measures the algorithm rather than the neighbours.
func best(in []byte) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d := time.Duration(1 << 62)
	for i := 0; i < 5; i++ {
		s := threadCPU()
		Diagnose(in, Facts{})
		if e := threadCPU() - s; e < d {
			d = e
		}
	}
	return d
}

func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
