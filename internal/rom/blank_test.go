package rom

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// blanknessRef is the whole-image histogram blankness replaces.
func blanknessRef(data []byte) (top byte, other int64) {
	var hist [256]int64
	for _, b := range data {
		hist[b]++
	}
	for i := range hist {
		if hist[i] > hist[top] {
			top = byte(i)
		}
	}
	return top, int64(len(data)) - hist[top]
}

// sameBlankness: blankness agrees with the histogram wherever the answer
// matters (fewer than junkThreshold other bytes), and says "not blank"
// exactly when the histogram does.
func sameBlankness(t testing.TB, name string, data []byte) {
	t.Helper()
	top, other := blankness(data)
	rtop, rother := blanknessRef(data)
	switch {
	case rother < junkThreshold && (top != rtop || other != rother):
		t.Errorf("%s: blankness = 0x%02x, %d; the histogram says 0x%02x, %d", name, top, other, rtop, rother)
	case rother >= junkThreshold && other < junkThreshold:
		t.Errorf("%s: blankness says %d bytes differ from 0x%02x; the histogram says %d", name, other, top, rother)
	}
}

func TestBlankness(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 4 << 20
	fill := func(v byte) []byte { return bytes.Repeat([]byte{v}, n) }
	// junk puts count bytes that are not fill at off, of varied values.
	junk := func(fill byte, off, count int) []byte {
		d := bytes.Repeat([]byte{fill}, n)
		for i := off; i < off+count; i++ {
			if d[i] = byte(rng.Uint32()); d[i] == fill {
				d[i] ^= 0x5a
			}
		}
		return d
	}
	content := make([]byte, n)
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	cases := map[string][]byte{
		"all-ff":                   fill(0xff),
		"all-55":                   fill(0x55),
		"content":                  content,
		"junk-at-start-just-under": junk(0xff, 0, junkThreshold-1),
		"junk-at-start-at":         junk(0xff, 0, junkThreshold),
		"junk-at-end-just-under":   junk(0x00, n-junkThreshold+1, junkThreshold-1),
		"junk-spread":              junk(0x55, n/2, 1000),
		"half-and-half":            append(fill(0xff)[:n/2], fill(0x00)[:n/2]...),
		"short":                    []byte{1, 2, 2},
		"empty":                    {},
	}
	for name, data := range cases {
		sameBlankness(t, name, data)
	}
}

func FuzzBlankness(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0x00}, uint32(1<<20), uint8(0xff))
	f.Fuzz(func(t *testing.T, junk []byte, size uint32, v uint8) {
		size %= 1 << 21
		data := bytes.Repeat([]byte{v}, int(size))
		// the junk at an offset the fuzzer picks through its first bytes
		off := 0
		if len(junk) > 2 && size > 0 {
			off = (int(junk[0])<<8 | int(junk[1])) * 37 % int(size)
		}
		copy(data[off:], junk)
		sameBlankness(t, "fuzz", data)
	})
}

func BenchmarkBlankness16M(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		blankness(data)
	}
}
