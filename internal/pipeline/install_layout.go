package pipeline

import (
	"os"
	"strings"

	"libreflash/internal/exitcode"
	"libreflash/internal/rom"
)

// checkLayout compares, before a BIOS-region write, the image's flash
// descriptor with the chip's, which the backup holds (issue 13 item 2). The
// flasher's --ifd -i bios follows the chip's layout: when the image places
// its regions elsewhere, part of it would never be written. The whole chip
// is written instead when nothing keeps the host from it; otherwise the run
// stops before any write.
func (in *installer) checkLayout(pl *installPlan, bk *installBackup) error {
	if !pl.region {
		return nil
	}
	data, err := os.ReadFile(bk.current.Path)
	if err != nil {
		return err
	}
	differ := layoutDiffers(pl.img.IFD, rom.Parse(bk.current.Path, data).IFD)
	if len(differ) == 0 {
		return nil
	}
	if len(pl.locked) > 0 || in.o.Region == "bios" {
		why := "the chip's descriptor locks " + strings.Join(pl.locked, ", ")
		if len(pl.locked) == 0 {
			why = "--region bios was asked for"
		}
		return exitcode.New(exitcode.Blocked,
			"use the image built for this machine's flash layout, or write the whole chip with an external programmer",
			"the image's flash descriptor places %s elsewhere than the chip's: writing the BIOS region by the chip's layout would leave part of the image unwritten, "+
				"and the whole chip cannot be written (%s); nothing was written", strings.Join(differ, ", "), why)
	}
	pl.region = false
	p := *pl.event
	p.Region, p.RegionReason, p.Layout = RegionFull, RegionLayoutDiffers, differ
	pl.event = &p
	in.emit(&p)
	return nil
}

// layoutDiffers names the regions that the two descriptors place
// differently ("descriptor" when only one has a descriptor at all).
func layoutDiffers(img, chip *rom.Descriptor) []string {
	if img == nil || chip == nil {
		if img == nil && chip == nil {
			return nil
		}
		return []string{"descriptor"}
	}
	type span struct{ base, limit int64 }
	used := func(d *rom.Descriptor) map[string]span {
		m := map[string]span{}
		for _, r := range d.Regions {
			if r.Used {
				m[r.Name] = span{r.Base, r.Limit}
			}
		}
		return m
	}
	a, b := used(img), used(chip)
	var out []string
	for _, r := range img.Regions {
		if r.Used && a[r.Name] != b[r.Name] {
			out = append(out, r.Name)
		}
	}
	for _, r := range chip.Regions {
		if _, ok := a[r.Name]; r.Used && !ok {
			out = append(out, r.Name)
		}
	}
	return out
}
