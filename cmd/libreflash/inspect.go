package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"libreflash/internal/archive"
	"libreflash/internal/pipeline"
	"libreflash/internal/rom"
	"libreflash/internal/statedir"
)

func init() { register(newInspectCmd) }

// machineRoot is where the machine's board facts are read (DMI under
// sys/class/dmi/id). Only the test binary points it at a fixture tree.
var machineRoot = "/"

type inspectOptions struct {
	json     bool
	chipSize string
	// release archives (issue 16)
	keyring           string
	noVerifySignature bool
	romName           string
	allowNonCoreboot  bool
	stateDir          string
}

func newInspectCmd(a *app) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect ROM|ARCHIVE",
		Short: "Look inside a ROM image and say whether it may be flashed here",
		Long: `inspect reads a ROM image and shows its size, Intel flash descriptor regions
(offsets and whether the host may write them), coreboot version, the board it
was built for, payload, CBFS files, vendor files (Intel ME, MRC, EC firmware),
GbE MAC address, and every check's verdict. The board is compared with this
machine's DMI, and the MAC address an install would give the image is shown
(this machine's own, when its Intel Ethernet controller is up).

ARCHIVE is a Libreboot release archive (libreboot-VERSION_BOARD.tar.xz): it
is checked against its .sha512 and .sig (--keyring), its images are listed,
and the one for this machine (or --rom NAME) is inspected. An image that is
not coreboot passes only when it is a backup in the state directory, or with
--allow-non-coreboot.

Exit status 0 means the image may be flashed, 2 that several images of an
archive fit (name one with --rom), 3 that a check refuses it. Nothing is
written anywhere.`,
		Example: `  libreflash inspect libreboot.rom
  libreflash inspect grub_x230_12mb.rom --chip-size 12582912
  libreflash inspect libreboot.rom --json | jq .verdicts
  libreflash inspect libreboot-25.06_x230_12mb.tar.xz --keyring libreboot.gpg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspect(args[0], o)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&o.chipSize, "chip-size", "", "flash chip size in bytes (suffixes KiB and MiB allowed) to check the image against")
	cmd.Flags().StringVar(&o.keyring, "keyring", "", "OpenPGP public key file to check a release archive's signature with")
	cmd.Flags().BoolVar(&o.noVerifySignature, "no-verify-signature", false, "do not check a release archive's signature")
	cmd.Flags().StringVar(&o.romName, "rom", "", "the image of a release archive to inspect (its file name)")
	cmd.Flags().BoolVar(&o.allowNonCoreboot, "allow-non-coreboot", false, "accept an image that is not coreboot")
	cmd.Flags().StringVar(&o.stateDir, "state-dir", "", "state directory whose backups an image may be (default $LIBREFLASH_STATE_DIR or "+pipeline.DefaultStateDir+")")
	return cmd
}

func (a *app) inspect(path string, o inspectOptions) error {
	chip, err := parseChipSize(o.chipSize)
	if err != nil {
		return usageError(fmt.Errorf("--chip-size: %w", err))
	}
	machine := rom.ReadMachine(machineRoot)
	var img *rom.Image
	var rel *archive.Release
	if archive.IsArchive(path) {
		if rel, err = archive.Open(path, archive.Options{Keyring: o.keyring, NoVerifySignature: o.noVerifySignature}); err != nil {
			return err
		}
		c, err := rel.Choose(o.romName, func(r *archive.ROM) (bool, string) {
			if chip > 0 && r.Size != chip {
				return false, fmt.Sprintf("%s image, the chip is %s", pipeline.HumanSize(r.Size), pipeline.HumanSize(chip))
			}
			if v, ok := rom.Check(rom.Parse(r.Name, r.Bytes()), rom.CheckOptions{Machine: machine}).Get("board"); ok && v.Status == rom.Fail {
				return false, v.Summary
			}
			return true, ""
		})
		if !o.json {
			renderArchive(a.stdout, rel)
		}
		if err != nil {
			return err
		}
		if c.ROM == nil {
			return archive.ChooseError(rel, c)
		}
		img = rom.Parse(rel.Name+":"+c.ROM.Name, c.ROM.Bytes())
	} else {
		if o.romName != "" || o.keyring != "" || o.noVerifySignature {
			return usageError(fmt.Errorf("--rom, --keyring and --no-verify-signature go with a release archive, and %s is an image", path))
		}
		if img, err = rom.Open(path); err != nil {
			return err
		}
	}
	r := rom.Check(img, rom.CheckOptions{ChipSize: chip, Machine: machine, Region: "auto",
		KnownBackup:      pipeline.KnownBackup(statedir.Resolve(o.stateDir, a.getenv), img.SHA256()),
		AllowNonCoreboot: o.allowNonCoreboot})
	nic, haveNIC := rom.ReadGbENIC(machineRoot)
	if o.json {
		out := any(r)
		if rel != nil || haveNIC {
			out = struct {
				*rom.Report
				Archive    *archive.Release `json:"archive,omitempty"`
				MachineNIC *rom.NIC         `json:"machine_nic,omitempty"`
			}{r, rel, map[bool]*rom.NIC{true: &nic}[haveNIC]}
		}
		if err := a.writeJSON(out); err != nil {
			return err
		}
		if !r.OK {
			return silentExit(3)
		}
		return nil
	}
	renderInspect(a.stdout, r)
	if r.MAC != nil {
		switch {
		case haveNIC:
			fmt.Fprintf(a.stdout, "On install: the written copy gets this machine's MAC, read from the chip's GbE region (now %s on %s)\n", nic.MAC, nic.Name)
		default:
			fmt.Fprintf(a.stdout, "On install: the written copy gets this machine's MAC, read from the chip's GbE region (no Intel Ethernet interface up to show it now)\n")
		}
	}
	return r.Err()
}

// renderArchive lists a release archive's images and what was checked.
func renderArchive(w io.Writer, rel *archive.Release) {
	fmt.Fprintf(w, "Archive:  %s\n", rel.Name)
	if rel.Project != "" {
		fmt.Fprintf(w, "Release:  %s %s, board %s\n", rel.Project, rel.Version, rel.Target)
	}
	v := rel.Verified
	for _, c := range v.Checksums {
		fmt.Fprintf(w, "Checksum: %s matches\n", c)
	}
	switch {
	case v.Signature == "skipped":
		fmt.Fprintf(w, "Signature: NOT checked (--no-verify-signature)\n")
	case v.ReleaseKey:
		fmt.Fprintf(w, "Signature: good, by Libreboot's release key %s (since %s)\n", v.Signer, v.SignerSince)
	default:
		fmt.Fprintf(w, "Signature: good, by %s: NOT one of Libreboot's published release keys\n", v.Signer)
	}
	fmt.Fprintf(w, "Images:\n")
	for _, r := range rel.ROMs {
		note := r.Label()
		if r.Uninjected {
			note += "; lacks its vendor files: " + rel.InjectCommand()
		}
		fmt.Fprintf(w, "  %s  (%s)\n", r.Name, note)
	}
	fmt.Fprintln(w)
}

// parseSize reads a byte count, optionally with a KiB/MiB (or K/M) suffix.
func parseChipSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, x := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}} {
		if n, ok := strings.CutSuffix(num, x.suffix); ok {
			num, mult = n, x.m
			break
		}
	}
	n, err := strconv.ParseInt(num, 0, 64)
	if err != nil || n <= 0 || n > rom.MaxSize/mult {
		return 0, errors.New("want a size in bytes such as 8388608 or 8MiB")
	}
	return n * mult, nil
}

func inspectSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func hostAccess(r rom.Region, known bool) string {
	switch {
	case !known:
		return "unknown"
	case r.HostRead && r.HostWrite:
		return "read-write"
	case r.HostRead:
		return "read-only"
	case r.HostWrite:
		return "write-only"
	}
	return "locked"
}

func renderInspect(w io.Writer, r *rom.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Image:\t%s\n", r.Path)
	if sz := inspectSize(r.Size); strings.HasSuffix(sz, " B") {
		fmt.Fprintf(tw, "Size:\t%d bytes\n", r.Size)
	} else {
		fmt.Fprintf(tw, "Size:\t%s (%d bytes)\n", sz, r.Size)
	}
	fmt.Fprintf(tw, "SHA-256:\t%s\n", r.SHA256)
	if cb := r.Coreboot; cb != nil {
		fmt.Fprintf(tw, "Coreboot:\t%s\n", inspectOr(cb.Version, "version unknown"))
		board := "unknown"
		if cb.Board.Known() {
			board = cb.Board.String()
			if cb.Board.Kconfig != "" {
				board += " (CONFIG_" + cb.Board.Kconfig + ")"
			}
		} else if cb.ConfigNote != "" {
			board += ": " + cb.ConfigNote
		}
		fmt.Fprintf(tw, "Board:\t%s\n", board)
		p := inspectOr(cb.Payload, "none found")
		if len(cb.Payloads) > 1 {
			p += " (also " + strings.Join(cb.Payloads[1:], ", ") + ")"
		}
		fmt.Fprintf(tw, "Payload:\t%s\n", p)
	} else {
		fmt.Fprintf(tw, "Coreboot:\tno CBFS found\n")
	}
	if r.Machine != nil {
		fmt.Fprintf(tw, "This machine:\t%s (%s)\n", r.Machine.String(), r.Machine.Source())
	}
	if r.MAC != nil {
		m := r.MAC.Address
		if r.MAC.Placeholder {
			m += " (Libreboot placeholder)"
		}
		fmt.Fprintf(tw, "GbE MAC:\t%s\n", m)
	}
	tw.Flush()

	if d := r.Descriptor; d != nil {
		mode := "full chip"
		if r.RegionMode {
			mode = "BIOS region only (--ifd -i bios)"
		}
		fmt.Fprintf(w, "\nIntel flash descriptor (IFDv%d at 0x%x); write: %s\n", d.Version, d.Offset, mode)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  REGION\tNAME\tOFFSET\tSIZE\tHOST ACCESS\tCONTENT\n")
		for _, reg := range d.Regions {
			if !reg.Used {
				continue
			}
			content := "data"
			if reg.Blank {
				content = "blank"
			}
			fmt.Fprintf(tw, "  %s\t%s\t0x%08x-0x%08x\t%s\t%s\t%s\n", reg.Name, reg.Label, reg.Base, reg.Limit, inspectSize(reg.Size), hostAccess(reg, d.HostAccessKnown), content)
		}
		tw.Flush()
	}
	if len(r.VendorFiles) > 0 {
		fmt.Fprintf(w, "\nVendor files:\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, v := range r.VendorFiles {
			st := "present"
			if !v.Present {
				st = "MISSING"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.What, v.Where, v.Kconfig, st)
		}
		tw.Flush()
	}
	if c := r.CBFS; c != nil {
		fmt.Fprintf(w, "\nCBFS (%s, 0x%x, %s):\n", c.Source, c.Offset, inspectSize(c.Size))
		if len(c.Files) == 0 {
			fmt.Fprintf(w, "  no files could be read\n")
		}
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if len(c.Files) > 0 {
			fmt.Fprintf(tw, "  NAME\tOFFSET\tTYPE\tSIZE\tCOMPRESSION\n")
		}
		for _, f := range c.Files {
			fmt.Fprintf(tw, "  %s\t0x%x\t%s\t%d\t%s\n", f.Name, f.Offset, f.Type, f.Size, f.Compression)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nChecks:\n")
	for _, v := range r.Verdicts {
		fmt.Fprintf(w, "  %-4s  %-12s  %s\n", v.Status, v.ID, v.Summary)
		if v.Status == rom.Pass || v.Status == rom.Skip {
			continue
		}
		if v.Detail != "" {
			fmt.Fprintf(w, "  %18s  %s\n", "", v.Detail)
		}
		if v.Fix != "" {
			fmt.Fprintf(w, "  %18s  fix: %s\n", "", v.Fix)
		}
		if v.Docs != "" {
			fmt.Fprintf(w, "  %18s  see %s\n", "", v.Docs)
		}
	}
	if r.OK {
		fmt.Fprintf(w, "\nResult: the image may be flashed on this machine\n")
	} else {
		fmt.Fprintf(w, "\nResult: refused (%d check(s) failed)\n", len(r.Refusals()))
	}
}

func inspectOr(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
