package runner

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestExcerpt compares Excerpt with keeping everything, over random writes.
func TestExcerpt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		head, tail := rng.IntN(40), rng.IntN(40)
		e := NewExcerpt(head, tail)
		var all []byte
		for range rng.IntN(20) {
			p := make([]byte, rng.IntN(30))
			for j := range p {
				p[j] = 'a' + byte(rng.IntN(26))
			}
			if n, err := e.Write(p); n != len(p) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			all = append(all, p...)
		}
		want := all
		if len(all) > head+tail {
			dropped := len(all) - head - tail
			want = append(append([]byte{}, all[:head]...), '\n')
			if head == 0 {
				want = want[:0]
			}
			want = fmt.Appendf(want, "[libreflash: %d bytes of flasher output left out here; the run's log has them]\n", dropped)
			want = append(want, all[len(all)-tail:]...)
			if e.Dropped() != int64(dropped) {
				t.Errorf("case %d: Dropped %d, want %d", i, e.Dropped(), dropped)
			}
		}
		if got := e.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("case %d (head %d, tail %d, %d bytes): got %q, want %q", i, head, tail, len(all), got, want)
		}
	}
}
