package rom

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gbeImage builds an image with a descriptor, then puts gbe into its GbE
// region with coreboot's ifdtool (-i gbe:FILE), as a build system does.
func gbeImage(t *testing.T, gbe []byte) *Image {
	t.Helper()
	p := build(t, spec{size: 4 << 20, ifd: true, config: x200Config})
	blob := filepath.Join(t.TempDir(), "gbe.bin")
	if err := os.WriteFile(blob, gbe, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "ifdtool", "-i", "gbe:"+blob, p)
	return openT(t, p+".new")
}

// nvm makes an 8 KiB GbE NVM: two parts with mac, checksums valid unless bad.
func nvm(mac []byte, bad ...int) []byte {
	g := make([]byte, 8192)
	writeGbE(g, mac)
	for _, p := range bad {
		g[p*4096+126] ^= 0xff
	}
	return g
}

// ifdtoolGbE extracts the GbE region with ifdtool -x, independently of
// this package's descriptor parser.
func ifdtoolGbE(t *testing.T, data []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "img.rom")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool(t, "ifdtool"), "-x", p)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ifdtool -x: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "flashregion_3_gbe.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// partOK checks a part's MAC and its checksum, summed here on its own.
func partOK(part []byte, mac []byte) bool {
	var sum uint16
	for i := 0; i < 64; i++ {
		sum += binary.LittleEndian.Uint16(part[2*i:])
	}
	return sum == 0xBABA && bytes.Equal(part[:6], mac)
}

func TestPlanMAC(t *testing.T) {
	own := []byte{0x00, 0x21, 0xcc, 0x11, 0x22, 0x33}
	machine := gbeImage(t, nvm(own))
	placeholder := gbeImage(t, nvm(PlaceholderMAC))

	for _, tc := range []struct {
		name, mode string
		img        *Image
		machine    *Image
		want       []byte // the MAC written; nil: the image unchanged
		source     string
	}{
		{"placeholder gets this machine's MAC", MACAuto, placeholder, machine, own, "backup"},
		{"another machine's MAC gets this one's", MACAuto, gbeImage(t, nvm([]byte{0, 0x16, 0xd3, 1, 2, 3})), machine, own, "backup"},
		{"same MAC: nothing to change", MACAuto, gbeImage(t, nvm(own)), machine, nil, ""},
		{"keep", MACKeep, placeholder, machine, nil, ""},
		{"user's address", "02:11:22:33:44:55", placeholder, machine, []byte{2, 0x11, 0x22, 0x33, 0x44, 0x55}, "user"},
		{"no machine MAC known: kept", MACAuto, placeholder, nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, c, err := PlanMAC(tc.img, tc.machine, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if !bytes.Equal(out, tc.img.Bytes()) || c.Changed() {
					t.Fatalf("image changed: %+v", c)
				}
				if c.Why == "" {
					t.Error("no reason given for keeping the MAC")
				}
				return
			}
			if c.To != fmtMAC(tc.want) || c.Source != tc.source || c.From != fmtMAC(tc.img.Bytes()[0x1000:0x1006]) {
				t.Errorf("change %+v", c)
			}
			gbe := ifdtoolGbE(t, out)
			for i, part := range [][]byte{gbe[:4096], gbe[4096:]} {
				if !partOK(part, tc.want) {
					t.Errorf("part %d: MAC % x, checksum not 0xBABA or MAC wrong", i, part[:6])
				}
			}
			// Only the MAC and the checksum word differ, in each part.
			diff := 0
			for i := range out {
				if out[i] != tc.img.Bytes()[i] {
					diff++
					if off := (int64(i) - 0x1000) % 4096; i < 0x1000 || i >= 0x3000 || !(off < 6 || off == 126 || off == 127) {
						t.Fatalf("byte %#x changed", i)
					}
				}
			}
			if diff == 0 {
				t.Error("nothing changed")
			}
		})
	}
}

func TestPlanMACRandomAndBadChecksums(t *testing.T) {
	placeholder := gbeImage(t, nvm(PlaceholderMAC))
	out, c, err := PlanMAC(placeholder, nil, MACRandom)
	if err != nil {
		t.Fatal(err)
	}
	gbe := ifdtoolGbE(t, out)
	if gbe[0]&1 != 0 || gbe[0]&2 == 0 || c.Source != "random" || !partOK(gbe[:4096], gbe[:6]) {
		t.Errorf("random MAC %q: want unicast, locally administered, valid checksum", c.To)
	}

	// One bad part: it is left alone, the good one changed.
	oneBad := gbeImage(t, nvm(PlaceholderMAC, 0))
	own := gbeImage(t, nvm([]byte{0x00, 0x21, 0xcc, 0x11, 0x22, 0x33}))
	out, _, err = PlanMAC(oneBad, own, MACAuto)
	if err != nil {
		t.Fatal(err)
	}
	gbe = ifdtoolGbE(t, out)
	if !bytes.Equal(gbe[:4096], oneBad.Bytes()[0x1000:0x2000]) || !partOK(gbe[4096:], []byte{0x00, 0x21, 0xcc, 0x11, 0x22, 0x33}) {
		t.Error("with part 0 bad: want part 0 untouched and part 1 set")
	}

	// Both bad: refused, the card would not use either.
	_, _, err = PlanMAC(gbeImage(t, nvm(PlaceholderMAC, 0, 1)), own, "02:11:22:33:44:55")
	if err == nil || !strings.Contains(err.Error(), "no part with a valid checksum") {
		t.Errorf("both parts bad: %v", err)
	}

	// No GbE region: nothing to do, unless an address was asked for.
	plain := openT(t, build(t, spec{size: 4 << 20, config: x200Config}))
	if out, c, err := PlanMAC(plain, own, MACAuto); err != nil || c != nil || !bytes.Equal(out, plain.Bytes()) {
		t.Errorf("no GbE, auto: %v %+v", err, c)
	}
	if _, _, err := PlanMAC(plain, own, MACRandom); err == nil {
		t.Error("--mac random on an image without GbE accepted")
	}
}

func TestParseMAC(t *testing.T) {
	for in, ok := range map[string]bool{
		"00:21:cc:11:22:33": true, "00-21-CC-11-22-33": true, "02:00:00:00:00:01": true,
		"01:00:5e:00:00:01": false, "00:00:00:00:00:00": false, "00:f5:f0:40:71:fe": false,
		"00:21:cc:11:22": false, "0:21:cc:11:22:33": false, "zz:21:cc:11:22:33": false, "": false,
	} {
		if _, err := ParseMAC(in); (err == nil) != ok {
			t.Errorf("ParseMAC(%q): %v", in, err)
		}
	}
}
