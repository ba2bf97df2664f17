package runner

import (
	"bytes"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"libreflash/internal/testutil"
)

// FuzzParse feeds arbitrary bytes, split into stdout and stderr at cut, and
// checks what must hold for any flasher output: no panic, the same events
// for any chunking, events and text bounded by the input, buffers capped,
// clean text, sane fields, paired stages and monotonic progress.
func FuzzParse(f *testing.F) {
	for _, set := range transcriptSets(f) {
		for _, tr := range loadTranscripts(f, set.dir) {
			var all []byte
			for _, s := range tr.streams {
				all = append(all, s.data...)
			}
			f.Add(all, uint16(len(tr.streams[0].data)), uint8(1))
		}
	}
	f.Add([]byte("Verifying flash... \rProgress... ["+strings.Repeat("=", 50)+"]  50% \rWriting... ["+strings.Repeat(" ", 50)+"]  10% \n"), uint16(0), uint8(3))
	f.Add([]byte("[READ: 100%][ERASE:  7%]...\b \b\b \bErase/write done from 0 to ff\nFAILED!\n"), uint16(30), uint8(2))
	f.Add([]byte("Reading flash... \n\rReading... [>"+strings.Repeat(" ", 49)+"]   0% \rReading... ["+strings.Repeat("=", 50)+"] 100% done.\n"), uint16(5), uint8(4))
	f.Add([]byte("Verifying flash... [READ] 5% complete... [READ] 7% complete... VERIFIED.\nErasing and writing flash chip... Reading current flash chip contents... done. Looking\n"), uint16(40), uint8(5))
	f.Add([]byte("Found Winbond flash chip \"W\" (99999999999999 kB, SPI) on dummy.\n\x1b[31mYour flash chip is in an unknown state.\x1b]0;x\x07\n"), uint16(70), uint8(0))

	f.Fuzz(func(t *testing.T, data []byte, cut uint16, chunk uint8) {
		c := min(int(cut), len(data))
		tr := parseTranscript{streams: []streamBytes{{"stdout", data[:c]}, {"stderr", data[c:]}}, exit: 1}

		var p *Parser
		var evs []Event
		p = NewParser(func(e Event) { evs = append(evs, e) })
		for _, s := range tr.streams {
			w := p.Stream(s.name)
			for _, b := range chunkSplit(int(chunk%16) + 1)(s.data) {
				w.Write(b)
			}
			st := p.streams[s.name]
			if n := len(st.buf) + len(st.head); n > MaxLineBytes {
				t.Fatalf("%s buffers hold %d bytes, cap is %d", s.name, n, MaxLineBytes)
			}
			if cap(st.buf) > 2*MaxLineBytes || cap(st.head) > 2*MaxLineBytes {
				t.Fatalf("%s buffer capacity %d/%d", s.name, cap(st.buf), cap(st.head))
			}
		}
		p.Close(1)

		whole := feedParser(tr, splits[0].split)
		if g, w := marshalEvents(evs), marshalEvents(whole); !bytes.Equal(g, w) {
			t.Fatalf("chunks of %d give other events than whole input:\n%s", chunk%16+1, testutil.LineDiff(w, g))
		}

		if len(evs) > len(data)+2 {
			t.Fatalf("%d events from %d bytes", len(evs), len(data))
		}
		text := 0
		open := Stage("")
		last := map[Stage]bar{} // per phase, within the open stage
		lastLine := map[string]int{}
		for i, e := range evs {
			text += len(e.Text)
			if !utf8.ValidString(e.Text) {
				t.Fatalf("event %d: invalid UTF-8 %q", i, e.Text)
			}
			for _, r := range e.Text {
				if r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f || isBidiControl(r) {
					t.Fatalf("event %d: control character in %q", i, e.Text)
				}
			}
			if e.Kind == EvExit {
				if i != len(evs)-1 {
					t.Fatalf("EvExit is event %d of %d", i, len(evs))
				}
				continue
			}
			if e.Stream != "" {
				if e.Line < 1 || e.Line < lastLine[e.Stream] {
					t.Fatalf("event %d: line %d after %d on %s", i, e.Line, lastLine[e.Stream], e.Stream)
				}
				lastLine[e.Stream] = e.Line
			}
			switch e.Kind {
			case EvStageStart:
				if open != "" {
					t.Fatalf("event %d: stage %s starts while %s is open", i, e.Stage, open)
				}
				open = e.Stage
				clear(last)
			case EvStageEnd:
				if open != e.Stage {
					t.Fatalf("event %d: stage %s ends while %q is open", i, e.Stage, open)
				}
				open = ""
			case EvProgress:
				if e.Percent < 0 || e.Percent > 100 {
					t.Fatalf("event %d: percent %d", i, e.Percent)
				}
				prev, ok := last[e.Phase]
				switch {
				case !ok && e.Pass != 1,
					ok && e.Pass == prev.pass && e.Percent <= prev.pct,
					ok && e.Pass == prev.pass+1 && e.Percent >= prev.pct,
					ok && e.Pass != prev.pass && e.Pass != prev.pass+1:
					t.Fatalf("event %d: %s progress %d pass %d after %+v", i, e.Phase, e.Percent, e.Pass, prev)
				}
				if e.Phase == "" || e.Stage != open {
					t.Fatalf("event %d: progress in phase %q of stage %q while %q is open", i, e.Phase, e.Stage, open)
				}
				last[e.Phase] = bar{e.Pass, e.Percent}
			case EvPhase:
				if open == "" || e.Stage != open || e.Phase == "" {
					t.Fatalf("event %d: phase %q of stage %q while %q is open", i, e.Phase, e.Stage, open)
				}
			case EvChip:
				if e.Chip == nil || e.Chip.SizeBytes < 0 {
					t.Fatalf("event %d: chip %+v", i, e.Chip)
				}
			}
		}
		if open != "" {
			t.Fatalf("stage %s still open after Close", open)
		}
		if evs[len(evs)-1].Kind != EvExit {
			t.Fatal("last event is not EvExit")
		}
		// U+FFFD may stand for one invalid byte, a stage's prefix is repeated
		// in its end event and in an error on the same line.
		if text > 10*len(data)+64 {
			t.Fatalf("%d bytes of text from %d bytes of input", text, len(data))
		}
	})
}

// TestParseInterleaved checks the case the goldens cannot: both streams
// arriving interleaved, as from a live flasher. The stderr failure that
// follows stdout's unterminated "Verifying flash... " shares its line.
func TestParseInterleaved(t *testing.T) {
	var evs []Event
	p := NewParser(func(e Event) { evs = append(evs, e) })
	out, errw := p.Stream("stdout"), p.Stream("stderr")
	out.Write([]byte("Reading old flash chip contents... done.\nErasing and writing flash chip... Erase/write done.\nVerifying flash... "))
	errw.Write([]byte("FAILED at 0x00000000! Expected=0x10, Found=0xff\nYour flash chip is in an "))
	out.Write([]byte("\n")) // a stray newline on the other stream does not split stderr's line
	errw.Write([]byte("unknown state.\n"))
	p.Close(3)

	got := marshalEvents(evs)
	want := `{"kind":"stage_start","stream":"stdout","line":1,"stage":"read","phase":"read","full_read":true,"text":"Reading old flash chip contents..."}
{"kind":"stage_end","stream":"stdout","line":1,"stage":"read","ok":true,"text":"Reading old flash chip contents... done."}
{"kind":"stage_start","stream":"stdout","line":2,"stage":"write","phase":"write","text":"Erasing and writing flash chip..."}
{"kind":"stage_end","stream":"stdout","line":2,"stage":"write","ok":true,"text":"Erasing and writing flash chip... Erase/write done."}
{"kind":"stage_start","stream":"stdout","line":3,"stage":"verify","phase":"verify","full_read":true,"text":"Verifying flash..."}
{"kind":"stage_end","stream":"stderr","line":3,"stage":"verify","ok":false,"text":"Verifying flash... FAILED at 0x00000000! Expected=0x10, Found=0xff"}
{"kind":"error","stream":"stderr","line":3,"text":"FAILED at 0x00000000! Expected=0x10, Found=0xff"}
{"kind":"unknown_state","stream":"stderr","line":4,"text":"Your flash chip is in an unknown state."}
{"kind":"exit","exit":3}
`
	if string(got) != want {
		t.Errorf("events:\n%s", testutil.LineDiff([]byte(want), got))
	}
}

// TestParseCloseOpenStage: a flasher killed mid-read leaves its stage open;
// Close ends it as failed, flushes the partial line and writes nothing after.
func TestParseCloseOpenStage(t *testing.T) {
	var evs []Event
	p := NewParser(func(e Event) { evs = append(evs, e) })
	w := p.Stream("stdout")
	w.Write([]byte("Reading flash... \n\rReading... [=====>" + strings.Repeat(" ", 44) + "]  10% "))
	p.Close(-1)
	p.Close(0)
	if n, err := w.Write([]byte("late\n")); n != 5 || err != nil {
		t.Errorf("Write after Close = %d, %v", n, err)
	}
	got := marshalEvents(evs)
	want := `{"kind":"stage_start","stream":"stdout","line":1,"stage":"read","phase":"read","full_read":true,"text":"Reading flash..."}
{"kind":"progress","stream":"stdout","line":2,"stage":"read","phase":"read","percent":10,"pass":1}
{"kind":"stage_end","stage":"read","ok":false}
{"kind":"exit","exit":-1}
`
	if string(got) != want {
		t.Errorf("events:\n%s", testutil.LineDiff([]byte(want), got))
	}
}

// BenchmarkParse measures throughput over a large log built from every
// recorded transcript and the constructed flashrom ≥1.4 ones (mostly
// progress bars, as real flasher output is), written in pipe-sized chunks.
func BenchmarkParse(b *testing.B) {
	var one []byte
	for _, set := range transcriptSets(b) {
		for _, tr := range loadTranscripts(b, set.dir) {
			for _, s := range tr.streams {
				one = append(one, s.data...)
			}
		}
	}
	log := bytes.Repeat(one, max(1, (16<<20)/len(one)))
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	// CPU time too: on a loaded CI machine wall-clock MB/s says little.
	cpu0 := cpuTime(b)
	n := 0
	for b.Loop() {
		n++
		events := 0
		p := NewParser(func(Event) { events++ })
		w := p.Stream("stdout")
		for off := 0; off < len(log); off += 4096 {
			w.Write(log[off:min(off+4096, len(log))])
		}
		p.Close(0)
		if events == 0 {
			b.Fatal("no events")
		}
	}
	if secs := (cpuTime(b) - cpu0).Seconds(); secs > 0 {
		b.ReportMetric(float64(n*len(log))/1e6/secs, "MB/cpu-s")
	}
}

// cpuTime is the process's user+system time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type failWriter struct{ n int }

func (f *failWriter) Write(b []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

// TestParseTeeLogError: a failing log is reported once, never to the
// flasher's pipe, and parsing goes on.
func TestParseTeeLogError(t *testing.T) {
	var evs []Event
	p := NewParser(func(e Event) { evs = append(evs, e) })
	log := &failWriter{}
	w := p.Tee("stdout", log)
	for _, chunk := range []string{"Reading flash... ", "done.\n"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	p.Close(0)
	if err := p.LogErr(); err == nil || err.Error() != "disk full" {
		t.Errorf("LogErr = %v", err)
	}
	if log.n != 1 {
		t.Errorf("log written %d times after failing, want 1", log.n)
	}
	if len(evs) != 3 || evs[1].Kind != EvStageEnd || !evs[1].OK {
		t.Errorf("events %s", marshalEvents(evs))
	}
}

// BenchmarkParseWorst measures inputs that are cheap to produce and costly
// to parse: many tiny lines (each one is classified), error lines, bar-like
// fragments that never complete, and one endless line (capped).
func BenchmarkParseWorst(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"tiny-lines", bytes.Repeat([]byte("x\n"), 1<<20)},
		{"error-lines", bytes.Repeat([]byte("Transaction error!\n"), 1<<16)},
		{"bar-fragments", bytes.Repeat([]byte("[READ: 1%][READ: 1%]...]... \b"), 1<<16)},
		{"endless-line", bytes.Repeat([]byte("abcdefgh"), 1<<18)},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				p := NewParser(func(Event) {})
				w := p.Stream("stdout")
				for off := 0; off < len(in.data); off += 4096 {
					w.Write(in.data[off:min(off+4096, len(in.data))])
				}
				p.Close(0)
			}
		})
	}
}
