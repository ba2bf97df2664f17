package rom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"libreflash/internal/exitcode"
)

// Verdict statuses, the same words as the machine checks use.
const (
	Pass = "pass"
	Warn = "warn"
	Fail = "fail"
	Skip = "skip"
)

// Verdict is one check's outcome. A "fail" refuses the image.
type Verdict struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
	Fix     string `json:"fix,omitempty"`
	Docs    string `json:"docs,omitempty"`
}

// CheckOptions says what the image is checked against.
type CheckOptions struct {
	// ChipSize is the flash chip's size in bytes (from the flasher's
	// --flash-size); 0 when unknown.
	ChipSize int64
	// Machine is the machine the image is meant for; nil or empty when
	// unknown (inspect on another computer).
	Machine *Machine
	// ForceBoard accepts a board mismatch (the user typed --force-board).
	ForceBoard bool
	// Region is the write mode: "auto" (or ""), "full" or "bios".
	Region string
	// KnownBackup names the backup in the state directory whose sha256
	// equals the image's: writing it back restores that firmware, so an
	// image without coreboot is accepted. "" when it is no known backup.
	KnownBackup string
	// AllowNonCoreboot accepts an image without a coreboot file system
	// (--allow-non-coreboot): for experts writing other firmware.
	AllowNonCoreboot bool
}

// MAC is the GbE region's MAC address.
type MAC struct {
	Address     string `json:"address"`
	Placeholder bool   `json:"placeholder"`
	// ChecksumOK: the NVM part holding it has a valid Intel checksum.
	ChecksumOK bool `json:"checksum_ok"`
}

// VendorFile is a piece of vendor firmware the build config needs.
type VendorFile struct {
	What    string `json:"what"`    // "Intel ME firmware"
	Kconfig string `json:"kconfig"` // the option that needs it
	Where   string `json:"where"`   // "ME region", "CBFS mrc.bin"
	Present bool   `json:"present"`
}

// Report is the image's facts and every verdict.
type Report struct {
	OK          bool         `json:"ok"`
	Path        string       `json:"path"`
	Size        int64        `json:"size"`
	SHA256      string       `json:"sha256"`
	ChipSize    int64        `json:"chip_size,omitempty"`
	Descriptor  *Descriptor  `json:"descriptor,omitempty"`
	RegionMode  bool         `json:"region_mode"` // the write should be --ifd -i bios
	FMAP        *FMAP        `json:"fmap,omitempty"`
	CBFS        *CBFS        `json:"cbfs,omitempty"`
	Coreboot    *Coreboot    `json:"coreboot,omitempty"`
	VendorFiles []VendorFile `json:"vendor_files"`
	MAC         *MAC         `json:"mac,omitempty"`
	Machine     *Machine     `json:"machine,omitempty"`
	Verdicts    []Verdict    `json:"verdicts"`
}

// Documentation the fixes point to.
const (
	DocsInject  = "https://libreboot.org/docs/install/ivy_has_common.html"
	DocsNvmutil = "https://libreboot.org/docs/install/nvmutil.html"
	DocsSizes   = "https://libreboot.org/docs/install/"
)

// PlaceholderMAC is the address in the GbE region of Libreboot's images.
var PlaceholderMAC = []byte{0x00, 0xf5, 0xf0, 0x40, 0x71, 0xfe}

// ValidFlashSize reports whether n bytes can be the contents of a flash
// chip, or of the two chips some boards have: a power of two from 128 KiB
// to 64 MiB, or the sum of two adjacent ones (8+4 = 12 MiB on the X230 and
// T430, 16+8, 4+2 …).
func ValidFlashSize(n int64) bool {
	for s := int64(128 << 10); s <= 64<<20; s <<= 1 {
		if n == s || (s >= 2<<20 && n == s+s/2) {
			return true
		}
	}
	return false
}

const fixInject = "insert the vendor files with the Libreboot build system before flashing: " +
	"in the lbmk source tree of the same release run `./mk inject` on the release archive " +
	"(`./vendor inject` in older releases); it downloads them, checks their hashes and writes " +
	"complete images, then flash one of those"

// Check runs every check on img. It never touches hardware.
func Check(img *Image, o CheckOptions) *Report {
	r := &Report{Path: img.Path, Size: img.Size(), SHA256: img.SHA256(), ChipSize: o.ChipSize,
		Descriptor: img.IFD, FMAP: img.FMAP, CBFS: img.CBFS, Coreboot: img.Coreboot(), VendorFiles: []VendorFile{}}
	if o.Machine.Known() {
		r.Machine = o.Machine
	}
	r.add(checkSize(img, o))
	r.add(checkChipSize(img, o))
	r.add(checkBlank(img))
	r.add(checkDescriptor(img))
	r.RegionMode = o.Region == "bios" || (o.Region != "full" && img.NeedsRegionMode())
	r.add(checkRegionMode(img, o, r.RegionMode))
	r.add(checkCoreboot(img, r.Coreboot, o))
	r.add(r.checkVendorFiles(img))
	r.add(checkBoard(r.Coreboot, o))
	var v Verdict
	r.MAC, v = checkMAC(img)
	if v.ID == "" && r.Coreboot != nil && r.Coreboot.Config["HAVE_GBE_BIN"] == "y" {
		v = Verdict{ID: "mac", Status: Warn, Summary: "the build config includes a GbE region, but the image has none or it is blank",
			Detail: "the Intel Ethernet controller will not work without it",
			Fix:    "use the complete release image for your board"}
	}
	r.add(v)
	r.OK = len(r.Refusals()) == 0
	return r
}

func (r *Report) add(v Verdict) {
	if v.ID != "" {
		r.Verdicts = append(r.Verdicts, v)
	}
}

// Refusals are the failed verdicts.
func (r *Report) Refusals() []Verdict {
	var out []Verdict
	for _, v := range r.Verdicts {
		if v.Status == Fail {
			out = append(out, v)
		}
	}
	return out
}

// Get returns the verdict with id.
func (r *Report) Get(id string) (Verdict, bool) {
	for _, v := range r.Verdicts {
		if v.ID == id {
			return v, true
		}
	}
	return Verdict{}, false
}

// RefusedError is returned by Report.Err when a check refuses the image.
type RefusedError struct {
	Path     string
	Refusals []Verdict
}

func (e *RefusedError) Error() string {
	var s []string
	for _, v := range e.Refusals {
		s = append(s, v.Summary)
	}
	return fmt.Sprintf("refusing to flash %s: %s", e.Path, strings.Join(s, "; "))
}

// ExitCode implements exitcode.Coder: blocked before any write.
func (e *RefusedError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter: one line per fix.
func (e *RefusedError) Hint() string {
	var s []string
	for _, v := range e.Refusals {
		switch {
		case v.Fix != "" && v.Docs != "":
			s = append(s, v.Fix+" (see "+v.Docs+")")
		case v.Fix != "":
			s = append(s, v.Fix)
		}
	}
	return strings.Join(s, "\n")
}

// Err is nil when the image may be flashed, else a *RefusedError.
func (r *Report) Err() error {
	if ref := r.Refusals(); len(ref) > 0 {
		return &RefusedError{Path: r.Path, Refusals: ref}
	}
	return nil
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB (%d bytes)", n>>10, n)
	}
	return fmt.Sprintf("%d bytes", n)
}

func checkSize(img *Image, _ CheckOptions) Verdict {
	if ValidFlashSize(img.Size()) {
		return Verdict{ID: "size", Status: Pass, Summary: "image size " + mib(img.Size()) + " is a flash chip size"}
	}
	v := Verdict{ID: "size", Status: Fail, Summary: "image size " + mib(img.Size()) + " is not the size of any flash chip",
		Detail: "flash chips hold a power of two bytes (128 KiB to 64 MiB), or two of them on boards with two chips (12 MiB = 8 + 4); other sizes are a truncated download or the wrong file",
		Fix:    "check the file against the release's checksum, and that it is the image for your board's chip size",
		Docs:   DocsSizes}
	if ValidFlashSize(img.Size() - 1) {
		v.Detail = "one byte more than a flash size: Libreboot pads release images that still lack vendor files this way, so that no flasher accepts them"
		v.Fix = fixInject
		v.Docs = DocsInject
	}
	return v
}

func checkChipSize(img *Image, o CheckOptions) Verdict {
	if o.ChipSize <= 0 {
		return Verdict{ID: "chip_size", Status: Skip, Summary: "chip size unknown: the image is not compared with the flash chip",
			Detail: "install reads the chip's size with the flasher's --flash-size; inspect takes --chip-size"}
	}
	if img.Size() == o.ChipSize {
		return Verdict{ID: "chip_size", Status: Pass, Summary: "image size matches the " + mib(o.ChipSize) + " flash chip"}
	}
	return Verdict{ID: "chip_size", Status: Fail,
		Summary: fmt.Sprintf("image is %s but the flash chip is %s", mib(img.Size()), mib(o.ChipSize)),
		Detail:  "the flasher writes whole-chip images only; a board sold with several chip sizes has one Libreboot image per size",
		Fix:     fmt.Sprintf("use the image built for a %s chip (the release names it, e.g. x230_12mb, t440p_12mb, x200_8mb)", mib(o.ChipSize)),
		Docs:    DocsSizes}
}

// junkThreshold: a real coreboot image has far more than this many bytes
// that differ from the fill byte (bootblock, stages, payload); fewer means an
// erased, zeroed or failed dump rather than firmware.
const junkThreshold = 64 << 10

func checkBlank(img *Image) Verdict {
	top, other := blankness(img.data)
	fix := "this is not a firmware image: download the Libreboot release again and check its checksum; if it is a backup, read the chip again"
	switch {
	case other == 0:
		return Verdict{ID: "blank", Status: Fail, Summary: fmt.Sprintf("image is blank: every byte is 0x%02X", top), Fix: fix}
	case other < junkThreshold:
		return Verdict{ID: "blank", Status: Fail,
			Summary: fmt.Sprintf("image is nearly blank: all but %d bytes are 0x%02X", other, top),
			Detail:  fmt.Sprintf("a coreboot image has well over %d KiB of code and data", junkThreshold>>10), Fix: fix}
	}
	return Verdict{ID: "blank", Status: Pass, Summary: "image has content (not blank)"}
}

// blankness finds whether all but fewer than junkThreshold bytes of data
// are one value: that value and how many bytes differ from it; otherwise
// other is at least junkThreshold (and top means nothing). It reads a
// content image's first few hundred KiB, not all of it: if one value fills
// all but fewer than junkThreshold bytes, it is the majority of any
// 2*junkThreshold+1 bytes in a row, so the first such run names the only
// candidate, and counting the bytes that differ from it can stop at
// junkThreshold.
func blankness(data []byte) (top byte, other int64) {
	head := data[:min(len(data), 2*junkThreshold+1)]
	var hist [256]int
	for _, b := range head {
		hist[b]++
	}
	for i := range hist {
		if hist[i] > hist[top] {
			top = byte(i)
		}
	}
	const chunk = 4 << 10
	same := bytes.Repeat([]byte{top}, chunk)
	for off := 0; off < len(data) && other < junkThreshold; off += chunk {
		c := data[off:min(off+chunk, len(data))]
		if bytes.Equal(c, same[:len(c)]) {
			continue
		}
		for _, b := range c {
			if b != top {
				other++
			}
		}
	}
	return top, other
}

func checkDescriptor(img *Image) Verdict {
	d := img.IFD
	if d == nil {
		return Verdict{ID: "descriptor", Status: Pass, Summary: "no Intel flash descriptor (the image is all BIOS region)",
			Detail: "normal for pre-ICH8 machines, AMD and non-x86 boards, and GM45 ThinkPads flashed in descriptorless mode"}
	}
	if len(d.Problems) > 0 {
		return Verdict{ID: "descriptor", Status: Fail, Summary: "the Intel flash descriptor is corrupt: " + d.Problems[0],
			Detail: also(d.Problems),
			Fix:    "do not flash this image: with a broken descriptor the chipset cannot find the BIOS and the machine will not start; get the image again"}
	}
	var parts []string
	for _, r := range d.Regions {
		if r.Used {
			parts = append(parts, r.Name)
		}
	}
	return Verdict{ID: "descriptor", Status: Pass,
		Summary: fmt.Sprintf("Intel flash descriptor (IFDv%d) at 0x%x with regions %s", d.Version, d.Offset, strings.Join(parts, ", "))}
}

// also lists the problems after the first, which the summary shows.
func also(problems []string) string {
	if len(problems) < 2 {
		return ""
	}
	return "also: " + strings.Join(problems[1:], "; ")
}

func checkRegionMode(img *Image, o CheckOptions, regionMode bool) Verdict {
	d := img.IFD
	if !regionMode {
		if d == nil || !d.HostAccessKnown {
			return Verdict{}
		}
		if locked := d.HostLocked(); len(locked) > 0 {
			return Verdict{ID: "region_mode", Status: Warn,
				Summary: "the descriptor denies the host write access to " + strings.Join(locked, ", ") + ", but a full-chip write was asked for",
				Detail:  "once this descriptor is on the chip, later internal writes of those regions fail",
				Fix:     "use --region auto to write only the BIOS region (flasher --ifd -i bios)"}
		}
		return Verdict{ID: "region_mode", Status: Pass, Summary: "the host may read and write every region: full-chip write"}
	}
	bios, ok := d.Region("bios")
	if !ok {
		return Verdict{ID: "region_mode", Status: Fail, Summary: "writing only the BIOS region needs an image with an Intel flash descriptor and a BIOS region",
			Fix: "use --region full, or the image meant for this Intel board"}
	}
	v := Verdict{ID: "region_mode", Status: Pass,
		Summary: fmt.Sprintf("BIOS region only (--ifd -i bios): 0x%08x-0x%08x", bios.Base, bios.Limit)}
	if locked := d.HostLocked(); len(locked) > 0 {
		v.Detail = "the descriptor denies the host full access to " + strings.Join(locked, ", ")
	}
	if o.ChipSize > 0 && bios.Limit >= o.ChipSize {
		v.Status, v.Summary = Fail, fmt.Sprintf("the image's BIOS region (0x%08x-0x%08x) does not fit the %s flash chip", bios.Base, bios.Limit, mib(o.ChipSize))
		v.Fix = "use the image built for this chip size"
	}
	return v
}

func checkCoreboot(img *Image, cb *Coreboot, o CheckOptions) Verdict {
	c := img.CBFS
	var issues []string
	if img.FMAP != nil {
		issues = append(issues, img.FMAP.Issues...)
	}
	if c != nil {
		issues = append(issues, c.Issues...)
	}
	if len(issues) > 0 {
		return Verdict{ID: "coreboot", Status: Fail, Summary: "the coreboot image is damaged: " + issues[0],
			Detail: also(issues),
			Fix:    "download the release again and compare its checksum; do not flash a truncated image"}
	}
	if v, ok := checkResetVector(img, cb); ok {
		return v
	}
	if c == nil {
		switch {
		case o.KnownBackup != "":
			return Verdict{ID: "coreboot", Status: Pass, Summary: "not a coreboot image, but the backup " + o.KnownBackup + " byte for byte: writing it restores that firmware"}
		case o.AllowNonCoreboot:
			return Verdict{ID: "coreboot", Status: Warn, Summary: "no coreboot file system (CBFS): not a coreboot/Libreboot image (accepted with --allow-non-coreboot)"}
		}
		return Verdict{ID: "coreboot", Status: Fail, Summary: "no coreboot file system (CBFS) found: this is not a coreboot/Libreboot image",
			Detail: "written to the chip, something that is not firmware leaves the machine unable to start",
			Fix: "give a Libreboot image (or release archive) for this board; to restore your factory firmware give the backup libreflash made " +
				"(it is recognised by its checksum); other firmware needs --allow-non-coreboot"}
	}
	v := Verdict{ID: "coreboot", Status: Pass, Summary: fmt.Sprintf("coreboot image, CBFS with %d files", len(c.Files))}
	if cb.Version != "" {
		v.Summary += ", version " + cb.Version
	}
	return v
}

// vendorNeed is a Kconfig option that makes a board depend on vendor
// firmware that Libreboot's release images leave out.
type vendorNeed struct {
	kconfig, what string
	files         []string // CBFS names; empty: the ME region
	refuse        bool     // missing bricks the machine (else warn)
}

var vendorNeeds = []vendorNeed{
	{"HAVE_ME_BIN", "Intel ME firmware", nil, true},
	{"HAVE_MRC", "Intel memory init code (mrc.bin)", []string{"mrc.bin"}, true},
	{"HAVE_REFCODE_BLOB", "Intel reference code", []string{"fallback/refcode"}, true},
	{"KBC1126_FIRMWARE", "HP embedded controller firmware", []string{"ecfw1.bin", "ecfw2.bin"}, true},
	{"ADD_FSP_BINARIES", "Intel FSP", []string{"fspm.bin", "fsps.bin"}, true},
}

func (r *Report) checkVendorFiles(img *Image) Verdict {
	cb := r.Coreboot
	var missing []string
	me, hasME := img.IFD.Region("me")
	needME := cb != nil && cb.Config["HAVE_ME_BIN"] == "y"
	for _, n := range vendorNeeds {
		if cb == nil || cb.Config[n.kconfig] != "y" {
			continue
		}
		if n.files == nil {
			vf := VendorFile{What: n.what, Kconfig: "CONFIG_" + n.kconfig, Where: "ME region", Present: hasME && !me.Blank}
			r.VendorFiles = append(r.VendorFiles, vf)
			if !vf.Present {
				missing = append(missing, n.what)
			}
			continue
		}
		files := n.files
		if n.kconfig == "ADD_FSP_BINARIES" {
			files = []string{orDefault(cb.Config["FSP_M_CBFS"], "fspm.bin"), orDefault(cb.Config["FSP_S_CBFS"], "fsps.bin")}
		}
		for _, name := range files {
			_, ok := img.CBFS.File(name)
			r.VendorFiles = append(r.VendorFiles, VendorFile{What: n.what, Kconfig: "CONFIG_" + n.kconfig, Where: "CBFS " + name, Present: ok})
			if !ok {
				missing = append(missing, n.what+" ("+name+")")
			}
		}
	}
	// A descriptor with an empty ME region is a release image whose ME was
	// removed, even when the config cannot be read to confirm it.
	if hasME && me.Blank && !needME {
		r.VendorFiles = append(r.VendorFiles, VendorFile{What: "Intel ME firmware", Kconfig: "(descriptor has an ME region)", Where: "ME region"})
		missing = append(missing, "Intel ME firmware (the descriptor has an ME region but it is empty)")
	}
	if len(missing) > 0 {
		return Verdict{ID: "vendor_files", Status: Fail,
			Summary: "vendor files missing: " + strings.Join(missing, ", "),
			Detail:  "Libreboot release images for this board ship without them; the machine will not boot (or will shut down) without them",
			Fix:     fixInject, Docs: DocsInject}
	}
	if cb == nil || cb.Config == nil {
		return Verdict{ID: "vendor_files", Status: Skip, Summary: "vendor files not checked: the image's build config is unreadable"}
	}
	if len(r.VendorFiles) == 0 {
		return Verdict{ID: "vendor_files", Status: Pass, Summary: "the build needs no vendor files"}
	}
	return Verdict{ID: "vendor_files", Status: Pass, Summary: fmt.Sprintf("the vendor files the build needs are present (%d)", len(r.VendorFiles))}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func checkBoard(cb *Coreboot, o CheckOptions) Verdict {
	if cb == nil || !cb.Board.Known() {
		why := "the image has no coreboot config"
		if cb != nil && cb.ConfigNote != "" {
			why = cb.ConfigNote
		}
		return Verdict{ID: "board", Status: Warn, Summary: "the image does not say which board it is for: " + why,
			Fix: "make sure the file name names your machine before flashing"}
	}
	b := cb.Board
	m := o.Machine
	if !m.Known() {
		return Verdict{ID: "board", Status: Warn, Summary: "image is for " + b.String() + "; this machine's board is unknown, not compared",
			Detail: "no DMI information (/sys/class/dmi/id) was found"}
	}
	compared := fmt.Sprintf("image: %s (CONFIG_%s); machine: %s, from %s", b.String(), b.Kconfig, m.String(), m.Source())
	switch MatchBoard(b, m) {
	case BoardMatches:
		return Verdict{ID: "board", Status: Pass, Summary: "image is for this board: " + b.String(), Detail: compared}
	case BoardVariant:
		return Verdict{ID: "board", Status: Warn, Summary: "image is for " + b.String() + ", this machine is a variant: " + m.String(),
			Detail: compared, Fix: "check in Libreboot's hardware list that this image supports your variant"}
	}
	if o.ForceBoard {
		return Verdict{ID: "board", Status: Warn, Summary: "image is for " + b.String() + ", not this " + m.String() + " (accepted with --force-board)", Detail: compared}
	}
	return Verdict{ID: "board", Status: Fail, Summary: "image is for " + b.String() + " but this machine is " + m.String(),
		Detail: compared,
		Fix:    "use the image for your board; if you are sure this one is right (the DMI data can be wrong), add --force-board"}
}

// checkMAC reads the MAC address from the GbE region: the Intel NVM keeps
// two copies ("parts"), each in one half of the region, MAC in its first six
// bytes and a checksum making its first 64 words sum to 0xBABA.
func checkMAC(img *Image) (*MAC, Verdict) {
	gbe, ok := img.IFD.Region("gbe")
	if !ok || gbe.Blank || gbe.Limit >= img.Size() || gbe.Size < 256 {
		return nil, Verdict{}
	}
	region := img.data[gbe.Base : gbe.Limit+1]
	half := len(region) / 2
	var mac *MAC
	for _, part := range [][]byte{region[:half], region[half:]} {
		sum := uint16(0)
		for i := 0; i < 64; i++ {
			sum += binary.LittleEndian.Uint16(part[2*i:])
		}
		m := &MAC{Address: fmtMAC(part[:6]), Placeholder: bytes.Equal(part[:6], PlaceholderMAC), ChecksumOK: sum == 0xBABA}
		if mac == nil || (m.ChecksumOK && !mac.ChecksumOK) {
			mac = m
		}
	}
	switch {
	case mac.Placeholder:
		return mac, Verdict{ID: "mac", Status: Warn, Summary: "the GbE region has Libreboot's placeholder MAC address " + mac.Address,
			Detail: "every Libreboot image carries the same address; two such machines on one network collide",
			Fix:    "libreflash install writes this machine's own MAC (read from the chip's GbE region) into the copy it writes; --mac ADDR gives another (the one on the machine's label), --mac keep writes this one",
			Docs:   DocsNvmutil}
	case !mac.ChecksumOK:
		return mac, Verdict{ID: "mac", Status: Warn, Summary: "the GbE region has no part with a valid checksum (MAC " + mac.Address + ")",
			Detail: "the Ethernet controller may ignore it", Fix: "repair it with Libreboot's nvmutil", Docs: DocsNvmutil}
	}
	return mac, Verdict{ID: "mac", Status: Pass, Summary: "GbE MAC address " + mac.Address}
}

func fmtMAC(b []byte) string {
	s := make([]string, len(b))
	for i, x := range b {
		s[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(s, ":")
}
