package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	"libreflash/internal/archive"
	"libreflash/internal/exitcode"
	"libreflash/internal/rom"
	"libreflash/internal/statedir"
)

// source is what install writes from: an image, or a checked release
// archive whose image is chosen once the chip is known.
type source struct {
	img    *rom.Image       // the image; nil until chosen from rel
	rel    *archive.Release // the archive, when the user gave one
	chosen *archive.ROM
	fitted int // images of the archive that fitted this machine
}

// openSource opens the image or the release archive (checked against its
// checksums and signature) the user named. Nothing touches the chip yet.
func openSource(o InstallOptions) (*source, error) {
	if err := checkMACFlag(o.MAC); err != nil {
		return nil, err
	}
	if !archive.IsArchive(o.ROM) {
		if o.ROMName != "" || o.Keyring != "" || o.NoVerifySignature {
			return nil, exitcode.New(exitcode.Usage, "--rom, --keyring and --no-verify-signature go with a release archive (.tar.xz)",
				"%s is an image, not a release archive", o.ROM)
		}
		img, err := rom.Open(o.ROM)
		if err != nil {
			return nil, err
		}
		return &source{img: img}, nil
	}
	rel, err := archive.Open(o.ROM, archive.Options{Keyring: o.Keyring, NoVerifySignature: o.NoVerifySignature})
	if err != nil {
		return nil, err
	}
	return &source{rel: rel}, nil
}

// checkMACFlag refuses a --mac that is no mode and no usable address.
func checkMACFlag(mode string) error {
	switch mode {
	case rom.MACAuto, rom.MACKeep, rom.MACRandom:
		return nil
	}
	if _, err := rom.ParseMAC(mode); err != nil {
		return exitcode.Wrap(exitcode.Usage, "--mac takes keep, random or an address such as 00:1f:16:aa:bb:cc (the one on the machine's label)",
			fmt.Errorf("--mac: %w", err))
	}
	return nil
}

// chooseROM picks the archive's image for this machine: its board (from
// DMI, against the image's build config) and the chip's size (0: not
// known yet, any size). Several that fit are put to the user.
func (in *installer) chooseROM(src *source, chipSize int64, machine *rom.Machine) (*rom.Image, error) {
	fits := func(r *archive.ROM) (bool, string) {
		if chipSize > 0 && r.Size != chipSize {
			return false, fmt.Sprintf("%s image, the chip is %s", HumanSize(r.Size), HumanSize(chipSize))
		}
		rep := rom.Check(rom.Parse(r.Name, r.Bytes()), rom.CheckOptions{Machine: machine, ForceBoard: in.o.ForceBoard})
		if v, ok := rep.Get("board"); ok && v.Status == rom.Fail && !in.o.Rehearse {
			return false, v.Summary
		}
		return true, ""
	}
	c, err := src.rel.Choose(in.o.ROMName, fits)
	if err != nil {
		return nil, err
	}
	src.fitted = len(c.Candidates)
	if c.ROM == nil {
		if in.o.Choose == nil {
			return nil, archive.ChooseError(src.rel, c)
		}
		opts := make([]string, len(c.Candidates))
		for i, r := range c.Candidates {
			opts[i] = r.Name + " (" + r.Label() + ")"
		}
		i, ok := in.o.Choose(fmt.Sprintf("%d images in %s fit this machine; which one?", len(opts), src.rel.Name), opts)
		if !ok || i < 0 || i >= len(opts) {
			return nil, installCancelled("at the choice of image")
		}
		c.ROM = c.Candidates[i]
	} else if src.fitted == 0 {
		src.fitted = 1
	}
	src.chosen = c.ROM
	src.img = rom.Parse(src.rel.Name+":"+c.ROM.Name, c.ROM.Bytes())
	return src.img, nil
}

// ref is the plan's account of the archive, nil for a plain image.
func (src *source) ref(img *rom.Image) *ArchiveRef {
	if src.rel == nil || src.chosen == nil {
		return nil
	}
	return &ArchiveRef{Path: src.rel.Path, Version: src.rel.Version, Target: src.rel.Target,
		Verified: src.rel.Verified, ROM: src.chosen.Name, Label: src.chosen.Label(), Choices: src.fitted}
}

// KnownBackup returns the path of a verified backup in stateDir whose
// sha256 is sum, "" when there is none: such an image restores firmware
// this machine ran before, even if it is not coreboot.
func KnownBackup(stateDir, sum string) string {
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "backups", "*"))
	for _, d := range dirs {
		m, err := readManifest(d)
		if err != nil || !m.Verified || m.SHA256 != sum || m.File == "" {
			continue
		}
		return filepath.Join(d, m.File)
	}
	return ""
}

// macMode is the plan's word on the MAC address: "" when the image has no
// GbE region, or only the BIOS region is written (the chip keeps its own
// GbE region and so its MAC).
func (in *installer) macMode(img *rom.Image, region bool) (string, error) {
	mode := in.o.MAC
	if rom.ReadGbE(img) == nil {
		if mode != rom.MACAuto && mode != rom.MACKeep {
			return "", exitcode.New(exitcode.Usage, "leave out --mac: without a GbE region the image sets no MAC address",
				"--mac %s: %s has no GbE region", mode, img.Path)
		}
		return "", nil
	}
	if region {
		if mode != rom.MACAuto && mode != rom.MACKeep {
			return "", exitcode.New(exitcode.Blocked, "leave out --mac (the chip keeps its own MAC), or write the whole chip with --region full if its descriptor allows",
				"--mac %s: only the BIOS region is written, so the chip keeps its own GbE region and MAC address", mode)
		}
		return "", nil
	}
	if mode == rom.MACAuto {
		return "auto", nil
	}
	return mode, nil
}

// carryMAC gives the private copy that is written the MAC address the
// plan said: this machine's own, read from the verified backup's GbE
// region, unless --mac says otherwise.
func (in *installer) carryMAC(pl *installPlan, bk *installBackup) error {
	if pl.event.MAC == "" || pl.region {
		return nil
	}
	data, err := os.ReadFile(bk.current.Path)
	if err != nil {
		return err
	}
	out, c, err := rom.PlanMAC(pl.img, rom.Parse(bk.current.Path, data), in.o.MAC)
	if err != nil {
		return exitcode.Wrap(exitcode.Blocked, "nothing was written; use --mac keep to write the image as it is", err)
	}
	ev := &MACEvent{MACChange: *c}
	if c.Changed() {
		if err := statedir.WriteFile(pl.image, out, true); err != nil {
			return err
		}
		pl.img = rom.Parse(pl.img.Path, out)
		// The write checks the private copy against pl.img from now on.
		ev.Changed, ev.SHA256 = true, pl.img.SHA256()
	}
	in.emit(ev)
	return nil
}
