package rom

import (
	"bufio"
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// maxTextFile bounds the config/revision files read, decompressed: a real
// defconfig is a few KiB, a full .config about 30 KiB. It also bounds what
// a crafted compressed file (a "bomb") can make libreflash allocate.
const maxTextFile = 1 << 20

// Coreboot is what the image says about its coreboot build.
type Coreboot struct {
	// Version is coreboot's (or Libreboot's) version from the revision or
	// build_info file; empty when neither is readable.
	Version string `json:"version,omitempty"`
	// Config holds the build's Kconfig symbols (without CONFIG_), nil when
	// the image has no readable config file.
	Config map[string]string `json:"-"`
	// ConfigNote says why Config is missing ("the image has no config
	// file", "the config file is unreadable: LZMA data is truncated …").
	ConfigNote string   `json:"config_note,omitempty"`
	Board      Board    `json:"board"`
	Payload    string   `json:"payload,omitempty"`  // default payload: GRUB, SeaBIOS, U-Boot
	Payloads   []string `json:"payloads,omitempty"` // every payload found
	// Unreadable lists the text files that could not be read: too large,
	// corrupt compressed data, or an unknown compression.
	Unreadable []string `json:"unreadable,omitempty"`
}

// Board is the board an image was built for.
type Board struct {
	Vendor  string `json:"vendor,omitempty"`  // "Lenovo"
	Part    string `json:"part,omitempty"`    // "ThinkPad X230"
	Kconfig string `json:"kconfig,omitempty"` // "BOARD_LENOVO_X230"
}

// Known reports whether the image named its board.
func (b Board) Known() bool { return b.Kconfig != "" || b.Part != "" }

func (b Board) String() string {
	switch {
	case b.Vendor != "" && b.Part != "":
		return b.Vendor + " " + b.Part
	case b.Kconfig != "":
		return b.Kconfig
	}
	return "unknown"
}

// Coreboot reads the coreboot facts from the CBFS; nil when there is none.
func (img *Image) Coreboot() *Coreboot {
	c := img.CBFS
	if c == nil {
		return nil
	}
	cb := &Coreboot{}
	if f, ok := c.File("config"); !ok {
		cb.ConfigNote = "the image has no config file"
	} else if b, err := c.ReadFile(f, maxTextFile); err != nil {
		cb.ConfigNote = "the config file is unreadable: " + err.Error()
		cb.Unreadable = append(cb.Unreadable, "config")
	} else {
		cb.Config = parseKconfig(b)
		cb.Board = boardFromConfig(cb.Config)
	}
	for _, name := range []string{"build_info", "revision"} {
		f, ok := c.File(name)
		if !ok {
			continue
		}
		b, err := c.ReadFile(f, maxTextFile)
		if err != nil {
			cb.Unreadable = append(cb.Unreadable, name)
			continue
		}
		facts := textFacts(b)
		if v := versionFrom(facts); v != "" && cb.Version == "" {
			cb.Version = v
		}
		// Without a readable config, build_info may still name the board.
		if !cb.Board.Known() && facts["MAINBOARD_PART_NUMBER"] != "" {
			cb.Board = Board{Vendor: facts["MAINBOARD_VENDOR"], Part: facts["MAINBOARD_PART_NUMBER"]}
		}
	}
	cb.Payload, cb.Payloads = payloads(c)
	return cb
}

// parseKconfig reads "CONFIG_X=value" lines; strings are unquoted and
// "# CONFIG_X is not set" becomes "n".
func parseKconfig(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), maxTextFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "# CONFIG_"); ok {
			if k, ok := strings.CutSuffix(rest, " is not set"); ok {
				m[k] = "n"
			}
			continue
		}
		rest, ok := strings.CutPrefix(line, "CONFIG_")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		m[k] = v
	}
	return m
}

// boardFromConfig names the board: CONFIG_MAINBOARD_VENDOR/PART_NUMBER in a
// full config, else the VENDOR_x and BOARD_x_y choices that even a minimal
// defconfig (which is what coreboot stores in CBFS) keeps.
func boardFromConfig(cfg map[string]string) Board {
	var b Board
	b.Vendor, b.Part = cfg["MAINBOARD_VENDOR"], cfg["MAINBOARD_PART_NUMBER"]
	var vendorKey string
	for _, k := range sortedKeys(cfg) {
		if v, ok := strings.CutPrefix(k, "VENDOR_"); ok && cfg[k] == "y" {
			vendorKey = v
			break
		}
	}
	if vendorKey != "" {
		for _, k := range sortedKeys(cfg) {
			if strings.HasPrefix(k, "BOARD_"+vendorKey+"_") && cfg[k] == "y" {
				b.Kconfig = k
				break
			}
		}
		if b.Vendor == "" {
			b.Vendor = vendorKey
		}
	}
	if b.Part == "" && b.Kconfig != "" {
		b.Part = strings.ReplaceAll(strings.TrimPrefix(b.Kconfig, "BOARD_"+vendorKey+"_"), "_", " ")
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// textFacts reads the key/value lines of coreboot's revision file (its
// build.h: `#define COREBOOT_VERSION "4.22"`) and build_info file
// (`COREBOOT_VERSION: 4.22`, `MAINBOARD_VENDOR: Lenovo`).
func textFacts(b []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		var k, v string
		var ok bool
		if rest, isDef := strings.CutPrefix(line, "#define "); isDef {
			k, v, ok = strings.Cut(strings.TrimSpace(rest), " ")
		} else if k, v, ok = strings.Cut(line, ":"); !ok {
			k, v, ok = strings.Cut(line, "=")
		}
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.TrimSpace(v)
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		if ok && k != "" && v != "" && !strings.ContainsAny(k, " \t") {
			m[k] = v
		}
	}
	return m
}

// versionFrom picks the version among the facts.
func versionFrom(m map[string]string) string {
	for _, k := range []string{"LIBREBOOT_VERSION", "COREBOOT_VERSION", "REVISION"} {
		if v := m[k]; v != "" {
			return v
		}
	}
	for _, k := range sortedKeys(m) {
		if strings.HasSuffix(k, "_VERSION") && !strings.Contains(k, "MAJOR") && !strings.Contains(k, "MINOR") && !strings.Contains(k, "EXTRA") {
			return m[k]
		}
	}
	return ""
}

// payloads tells the payloads apart by the names Libreboot and coreboot
// give them. fallback/payload is the default; which program it is follows
// from the other files: SeaBIOS keeps its settings under etc/ and vgaroms/,
// and a SeaBIOS-first image carries GRUB as img/grub2.
func payloads(c *CBFS) (def string, all []string) {
	has := func(name string) bool { _, ok := c.File(name); return ok }
	hasPrefix := func(p string) bool {
		for _, f := range c.Files {
			if strings.HasPrefix(f.Name, p) {
				return true
			}
		}
		return false
	}
	seabiosFiles := hasPrefix("etc/") || hasPrefix("vgaroms/") || has("bootorder")
	grubFiles := has("grub.cfg") || has("grubtest.cfg")
	if has("fallback/payload") || has("normal/payload") {
		switch {
		case has("img/grub2") || has("img/u-boot") || seabiosFiles && !grubFiles:
			def = "SeaBIOS"
		case grubFiles || has("img/seabios"):
			def = "GRUB"
		case hasPrefix("u-boot") || has("u-boot.dtb"):
			def = "U-Boot"
		default:
			def = "unknown"
		}
		all = append(all, def)
	}
	for _, x := range []struct{ file, name string }{{"img/grub2", "GRUB"}, {"img/seabios", "SeaBIOS"}, {"img/u-boot", "U-Boot"}} {
		if has(x.file) && x.name != def {
			all = append(all, x.name)
		}
	}
	return def, all
}
