package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"libreflash/internal/host"
	"libreflash/internal/pipeline"
	"libreflash/internal/rom"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

func init() { register(newInstallCmd) }

type installOptions struct {
	json           bool
	yes            bool
	programmer     string
	flasher        string
	region         string
	rehearse       bool
	rehearseFrom   string
	rehearseParams []string
	forceBoard     bool
	forceRoute     bool
	unlockTool     string
	noRestore      bool
	stateDir       string
	// release archives and the MAC address (issue 16)
	keyring           string
	noVerifySignature bool
	romName           string
	mac               string
	allowNonCoreboot  bool
}

func newInstallCmd(a *app) *cobra.Command {
	o := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install ROM|ARCHIVE",
		Short: "Back up the chip, write ROM, verify it, and restore protections",
		Long: `install writes a Libreboot image to this machine's flash chip, safely:

  check    every machine check; a blocker that 'prepare' can lift reversibly
           (iomem=relaxed, unloading lpc_ich) is offered, then a reboot (exit 6)
  plan     the chip's name and size from the flasher, the image checked against
           them and this machine, full chip or BIOS region only; shown, then
           confirmed (or --yes)
  backup   the chip read twice; the reads must be identical
  write    with live progress, reusing the backup (--flash-contents) so the
           chip is read only three times in all; ^C cannot interrupt it
  verify   the flasher's own verification
  restore  the protections 'prepare' lowered are raised again

If the write fails, the chip is diagnosed: unchanged (exit 4), or rolled back
to the verified backup (exit 4), or, if even that fails, left in an unknown
state (exit 5) with precise recovery steps — do not reboot then.

--rehearse runs the same pipeline on an emulated chip (the flasher's dummy
programmer), seeded from --rehearse-from (a backup, say) or from a generated
factory-like image, to see exactly what the real run will do.

ROM may be a Libreboot release archive (libreboot-VERSION_BOARD.tar.xz): it
is checked against the .sha512 and the .sig published beside it (--keyring
gives the key), and the image for this machine and chip is taken from it
(--rom names one when several payloads or keyboard layouts fit). Images that
still lack their vendor files are refused with the ./mk inject command.

When the image has a GbE region, the written copy carries this machine's own
MAC address, read from the verified backup (--mac keep, random or ADDR says
otherwise). An image that is not coreboot is written only when it is a
backup libreflash made (restoring that firmware) or with --allow-non-coreboot.

Exit status: 0 installed, 2 usage, 3 blocked (nothing touched), 4 write failed
but the chip holds its old firmware, 5 unknown state, 6 prepared (reboot and
run again), 130 cancelled before any write.`,
		Example: `  sudo libreflash install libreboot.rom
  libreflash install libreboot.rom --rehearse --yes --state-dir /tmp/lf
  sudo libreflash install libreboot.rom --rehearse --rehearse-from /var/lib/libreflash/backups/*/backup.rom
  sudo libreflash install libreboot.rom --region bios --json --yes
  sudo libreflash install libreboot-25.06_x230_12mb.tar.xz --keyring libreboot.gpg
  sudo libreflash install libreboot-25.06_x230_12mb.tar.xz --keyring libreboot.gpg --rehearse`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runInstall(cmd.Context(), o, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print JSON lines, one event each, ending with a summary")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation (needed off a terminal)")
	f.StringVarP(&o.programmer, "programmer", "p", "internal", "flasher programmer, passed as -p")
	f.StringVar(&o.flasher, "flasher", "", "flashprog or flashrom binary (default: search flashprog, then flashrom)")
	f.StringVar(&o.region, "region", "auto", "what to write: auto (BIOS region only when regions are locked), full, bios")
	f.BoolVar(&o.rehearse, "rehearse", false, "run everything on an emulated chip (dummy programmer); the real chip is not touched")
	f.StringVar(&o.rehearseFrom, "rehearse-from", "", "seed the emulated chip from this image (e.g. a backup) instead of a generated one")
	f.StringSliceVar(&o.rehearseParams, "rehearse-params", nil, "more dummy programmer parameters for the emulated chip (e.g. freq=5MHz)")
	_ = f.MarkHidden("rehearse-params")
	f.BoolVar(&o.forceBoard, "force-board", false, "write an image built for another board than this machine's DMI says")
	f.BoolVar(&o.forceRoute, "force-route", false, "write internally even where the board's documented route is external flashing or a jumper (experts)")
	f.StringVar(&o.unlockTool, "unlock-tool", "", "dell_flash_unlock binary for the Dell Latitude route (default: search $PATH and the sbin directories)")
	f.BoolVar(&o.noRestore, "no-restore", false, "leave the protections 'prepare' lowered as they are")
	f.StringVar(&o.stateDir, "state-dir", "", "state directory (default $LIBREFLASH_STATE_DIR or "+pipeline.DefaultStateDir+")")
	f.StringVar(&o.keyring, "keyring", "", "OpenPGP public key file to check a release archive's signature with")
	f.BoolVar(&o.noVerifySignature, "no-verify-signature", false, "do not check a release archive's signature (not recommended)")
	f.StringVar(&o.romName, "rom", "", "the image to take from a release archive (its file name)")
	f.StringVar(&o.mac, "mac", "", "MAC address for the image's GbE region: keep, random or ADDR (default: this machine's own, from the backup)")
	f.BoolVar(&o.allowNonCoreboot, "allow-non-coreboot", false, "write an image that is not coreboot and not a backup libreflash made (experts)")
	return cmd
}

func (a *app) runInstall(ctx context.Context, o *installOptions, romPath string) error {
	if err := o.validate(a.stdinTTY); err != nil {
		return err
	}
	// Signals cancel the context before the first write; from then on the
	// pipeline ignores the cancellation and the flasher is shielded, so a
	// ^C is reported and the run ends once the chip is in a known state.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	r := a.newRenderer("install", o.json)
	defer r.Close()
	var confirm func(string) bool
	var choose func(string, []string) (int, bool)
	if !o.yes {
		p := a.newPrompter(r.Close)
		confirm = func(q string) bool {
			ok, err := p.Confirm(ctx, q)
			return ok && err == nil
		}
		choose = func(q string, opts []string) (int, bool) {
			i, err := p.Choose(ctx, q, opts)
			return i, err == nil
		}
	}
	_, err := pipeline.Install(ctx, pipeline.InstallOptions{
		ROM:               romPath,
		Programmer:        o.programmer,
		FlasherPath:       o.flasher,
		Region:            o.region,
		ForceBoard:        o.forceBoard,
		ForceRoute:        o.forceRoute,
		UnlockTool:        o.unlockTool,
		NoRestore:         o.noRestore,
		StateDir:          statedir.Resolve(o.stateDir, a.getenv),
		Rehearse:          o.rehearse,
		RehearseFrom:      o.rehearseFrom,
		RehearseParams:    o.rehearseParams,
		Env:               a.preflightEnv(),
		RunDir:            host.Root(hostRoot).Path(statedir.RunDir),
		Protections:       a.restoreManager,
		Confirm:           confirm,
		Choose:            choose,
		Emit:              r.Event,
		Command:           retryCommand(o, romPath),
		RealCommand:       realCommand(o, romPath),
		Keyring:           o.keyring,
		NoVerifySignature: o.noVerifySignature,
		ROMName:           o.romName,
		MAC:               o.mac,
		AllowNonCoreboot:  o.allowNonCoreboot,
	})
	return r.result(err)
}

// retryCommand is the command line the user runs again after a reboot or
// a failure: the same install, as typed.
func retryCommand(o *installOptions, romPath string) string {
	argv := []string{"libreflash", "install", romPath}
	// Each option as typed: a flag with its value, or a bare flag ("").
	for _, a := range []struct {
		flag, value string
		on          bool
	}{
		{"--programmer", o.programmer, o.programmer != "internal"},
		{"--flasher", o.flasher, o.flasher != ""},
		{"--region", o.region, o.region != "auto"},
		{"--rehearse", "", o.rehearse},
		{"--rehearse-from", o.rehearseFrom, o.rehearse && o.rehearseFrom != ""},
		{"--force-route", "", o.forceRoute},
		{"--unlock-tool", o.unlockTool, o.unlockTool != ""},
		{"--force-board", "", o.forceBoard},
		{"--no-restore", "", o.noRestore},
		{"--keyring", o.keyring, o.keyring != ""},
		{"--no-verify-signature", "", o.noVerifySignature},
		{"--rom", o.romName, o.romName != ""},
		{"--mac", o.mac, o.mac != ""},
		{"--allow-non-coreboot", "", o.allowNonCoreboot},
		{"--state-dir", o.stateDir, o.stateDir != ""},
	} {
		if a.on {
			argv = append(argv, a.flag)
			if a.value != "" {
				argv = append(argv, a.value)
			}
		}
	}
	s := runner.QuoteArgv(argv)
	if !o.rehearse {
		s = "sudo " + s
	}
	return s
}

// realCommand is the install a rehearsal stands for.
func realCommand(o *installOptions, romPath string) string {
	r := *o
	r.rehearse, r.rehearseFrom, r.stateDir = false, "", ""
	return retryCommand(&r, romPath)
}

func (o *installOptions) validate(canAsk bool) error {
	switch o.region {
	case "auto", "full", "bios":
	default:
		return usageHint(fmt.Errorf("--region: unknown region mode %q", o.region), "use --region auto, full or bios")
	}
	if o.rehearseFrom != "" && !o.rehearse {
		return usageHint(errors.New("--rehearse-from needs --rehearse"), "add --rehearse, or drop --rehearse-from")
	}
	switch o.mac {
	case "", rom.MACKeep, rom.MACRandom:
	default:
		if _, err := rom.ParseMAC(o.mac); err != nil {
			return usageHint(fmt.Errorf("--mac: %w", err), "use --mac keep, random, or the address on the machine's label (00:1f:16:aa:bb:cc)")
		}
	}
	if !o.yes && !canAsk {
		return usageError(errors.New("install writes the flash chip: without a terminal to ask on, add --yes to confirm"))
	}
	if o.rehearseFrom != "" {
		// The ROM's own reader: regular files only, looked at before they
		// are opened, opened without blocking.
		if _, err := rom.Open(o.rehearseFrom); err != nil {
			return fmt.Errorf("--rehearse-from: %w", err)
		}
	}
	return nil
}
