package diagnose

// kind says how the rules in diagnose.go treat a signature beyond "this line
// points at that cause".
type kind uint8

const (
	kPlain        kind = iota // a finding of cause with severity sev
	kBanner                   // second banner line: a new flasher run starts
	kOS                       // banner names the OS (arg: osLinux, osBSD)
	kSudo                     // the pasted command line ran under sudo/doas
	kUserPrompt               // the pasted command line ran from a "$" prompt without sudo
	kStage                    // an operation stage starts (arg: stage)
	kStageDone                // a stage finished but the operation goes on
	kStageFail                // "FAILED." ends the open stage
	kSuccess                  // the operation finished successfully
	kFail                     // the run failed (no cause by itself)
	kDetail                   // low-level error worth counting (transaction errors)
	kProbe                    // the probe line: Found/Using/Assuming <vendor> flash chip "<name>" ...
	kUnchanged                // write failed, chip unchanged
	kUnknownState             // write failed, chip in unknown state
	kEPERM                    // "Operation not permitted" getting I/O privileges or opening /dev/mem
	kUserHint                 // flashrom ≥1.4: the uid was not 0
	kRootHint                 // flashrom ≥1.4: the uid was 0, the kernel refused
	kBSDHint                  // message only BSD builds print
	kLockdownLog              // kernel log: lockdown refused the flasher
	kDevmemLog                // kernel log: STRICT_DEVMEM refused the flasher
	kAccess                   // "Error accessing <region>, ..." precedes an mmap failure
	kMmap                     // "/dev/mem mmap failed: <errno>" (cause by errno)
	kMapHarmless              // the flasher went on without the mapping
	kBIOSCtl                  // "Setting BIOS Control ... failed"
	kBIOSCtlNew               // "New value is 0x..": bit 0 decides whether writes work
	kVerify                   // "FAILED at 0x...": verify mismatch, or erase check inside a write
	kRootPrompt               // the pasted command line ran from a root prompt ("# flashrom")
	kCommand                  // libreflash's "# libreflash: LABEL: ARGV" line before each flasher run
	kContainer                // a container or toolbox prompt
	kEraseTrouble             // an erase function failed; the flasher may find another
)

// Arguments of kSuccess: argWriteDone marks the success lines that flashrom
// ≥1.4 prints even after a failed write; argVerified the verification that
// settles a write.
const (
	argWriteDone = 1
	argVerified  = 2
)

const (
	osLinux = 1
	osBSD   = 2
)

const (
	stageNone = iota
	stageRead
	stageReadOld
	stageWrite
	stageVerify
	stageErase // -E: "Erasing flash chip..."; handled as stageWrite
)

type sig struct {
	text    string // as printed; matched case-insensitively, whitespace collapsed
	cause   string // "" for outcome markers
	sev     string
	kind    kind
	arg     int
	summary string // replaces the cause summary when set
}

// signatures lists what we recognise. Sources: flashprog HEAD and v1.x,
// flashrom 0.9.x, 1.3, 1.4 and 1.7 (rows of the project's flasher catalog, §3,
// noted by ID; testdata/flashers keeps the recorded runs).
var signatures = []sig{
	// Run structure and outcome markers (§2).
	{text: "is free software, get the source code at", kind: kBanner},
	{text: "is free software. Get the source code at", kind: kBanner}, // older flashrom
	{text: " on Linux ", kind: kOS, arg: osLinux},
	{text: " on OpenBSD ", kind: kOS, arg: osBSD},
	{text: " on FreeBSD ", kind: kOS, arg: osBSD},
	{text: " on NetBSD ", kind: kOS, arg: osBSD},
	{text: " on DragonFly", kind: kOS, arg: osBSD},
	{text: "sudo flashprog", kind: kSudo}, {text: "sudo flashrom", kind: kSudo},
	{text: "sudo ./flashprog", kind: kSudo}, {text: "sudo ./flashrom", kind: kSudo},
	{text: "doas flashprog", kind: kSudo}, {text: "doas flashrom", kind: kSudo},
	{text: "$ flashprog ", kind: kUserPrompt}, {text: "$ flashrom ", kind: kUserPrompt},
	{text: "$ ./flashprog ", kind: kUserPrompt}, {text: "$ ./flashrom ", kind: kUserPrompt},
	{text: "# flashprog ", kind: kRootPrompt}, {text: "# flashrom ", kind: kRootPrompt},
	{text: "# ./flashprog ", kind: kRootPrompt}, {text: "# ./flashrom ", kind: kRootPrompt},
	{text: "# libreflash: ", kind: kCommand},
	{text: "\u2b22[", kind: kContainer}, // Fedora toolbox's prompt: ⬢[user@toolbox ~]$
	{text: "@toolbox", kind: kContainer}, {text: "[toolbox", kind: kContainer},
	{text: "@distrobox", kind: kContainer}, {text: "(distrobox)", kind: kContainer},
	{text: "Reading flash...", kind: kStage, arg: stageRead},
	{text: "Reading old flash chip contents...", kind: kStage, arg: stageReadOld},
	{text: "Erasing and writing flash chip...", kind: kStage, arg: stageWrite},
	{text: "Updating flash chip contents...", kind: kStage, arg: stageWrite},
	{text: "Erasing flash chip...", kind: kStage, arg: stageErase},
	{text: "Verifying flash...", kind: kStage, arg: stageVerify},
	{text: "Reading old flash chip contents... done.", kind: kStageDone, arg: stageReadOld},
	{text: "Assuming old flash chip contents as ref-file", kind: kStageDone, arg: stageReadOld},
	{text: "Reading flash... done.", kind: kSuccess},
	{text: "VERIFIED.", kind: kSuccess, arg: argVerified},
	{text: "Erase/write done.", kind: kSuccess, arg: argWriteDone},
	{text: "Erase/write done from", kind: kSuccess, arg: argWriteDone},
	{text: "Erase done.", kind: kSuccess},
	{text: "Chip content is identical to the requested image", kind: kSuccess},
	{text: "No operations were specified.", kind: kSuccess},
	{text: `vendor="`, kind: kSuccess},
	{text: "FAILED.", kind: kStageFail},
	{text: "FATAL ERROR!", kind: kFail},
	{text: "Programmer initialization failed", kind: kFail},
	{text: "Read operation failed!", kind: kFail},
	{text: "Reading flash... FAILED.", kind: kFail},
	{text: "Reading old flash chip contents... FAILED.", kind: kFail},
	{text: "Aborting.", kind: kFail},
	{text: "Aborting to be safe.", kind: kFail},
	{text: "operation has not started.", kind: kFail},
	{text: "At least one target region is not fully writable.", kind: kFail},
	{text: "required checks to prepare flash access failed", kind: kFail},
	{text: "Transaction error", kind: kDetail},
	{text: ` flash chip "`, kind: kProbe},
	{text: "Timeout error between offset", kind: kDetail},

	// A: OS access.
	{text: "Could not get I/O privileges (Function not implemented)", cause: "iopl_unavailable", sev: Fatal},      // A1
	{text: "Could not get I/O privileges (Operation not permitted)", cause: "not_root", sev: Fatal, kind: kEPERM}, // A2
	{text: "Could not get I/O privileges (Permission denied)", cause: "not_root", sev: Fatal},
	{text: "open(/dev/mem): Operation not permitted", cause: "not_root", sev: Fatal, kind: kEPERM}, // A9
	{text: "open(/dev/mem): Permission denied", cause: "not_root", sev: Fatal},
	{text: "open(/dev/mem): No such file or directory", cause: "devmem_missing", sev: Fatal},
	{text: "Make sure you are running flashrom with root privileges", cause: "not_root", sev: Info, kind: kUserHint}, // A3 (flashrom ≥1.4)
	{text: "Your kernel may prevent access based on security policies", kind: kRootHint},                             // A3 (flashrom ≥1.4, uid 0)
	{text: "If you are root already please set securelevel=-1", cause: "bsd_securelevel", sev: Info, kind: kBSDHint}, // A4
	{text: "If you are root already please reboot into single user mode", cause: "bsd_securelevel", sev: Info, kind: kBSDHint},
	{text: "Please set securelevel=-1 in /etc/rc.securelevel", cause: "bsd_securelevel", sev: Info, kind: kBSDHint},
	{text: "is restricted; see man kernel_lockdown.7", cause: "kernel_lockdown", sev: Warning, kind: kLockdownLog},
	{text: "tried to access /dev/mem between", cause: "devmem_restricted", sev: Warning, kind: kDevmemLog},
	{text: "Error accessing ", kind: kAccess},                                                   // A5
	{text: "mmap failed: Operation not permitted", cause: "devmem_restricted", kind: kMmap},     // A5
	{text: "mmap failed: Resource temporarily unavailable", cause: "pat_conflict", kind: kMmap}, // A6
	{text: "mmap failed: Invalid argument", cause: "devmem_restricted", kind: kMmap},            // A7
	{text: "conflicting memory types", cause: "pat_conflict", sev: Warning},                     // kernel log (x86/PAT)
	{text: "Could not map flash chip", kind: kMapHarmless},                                      // A8
	{text: "Failed getting access to coreboot", kind: kMapHarmless},
	{text: "Unable to access DMI Table", kind: kMapHarmless},
	{text: "Processor detection/init failed", cause: "unsupported_chipset", sev: Fatal, // A10
		summary: "the internal programmer does not support this processor architecture"},

	// B: chipset enable, Intel SPI controller, AMD.
	{text: "This chipset is not supported yet", cause: "unsupported_chipset", sev: Fatal},                         // B3
	{text: "No chipset found. Flash detection will most likely fail", cause: "unsupported_chipset", sev: Warning}, // B4
	{text: "This chipset is marked as untested", cause: "unsupported_chipset", sev: Info, // B2
		summary: "the chipset is marked as untested in this flasher version (informational)"},
	{text: "BIOS region SMM protection is enabled", cause: "bios_lock", sev: Warning}, // B6
	{text: "Setting BIOS Control at", cause: "bios_lock", sev: Warning, kind: kBIOSCtl, // B7
		summary: "BIOS Write Enable could not be set: the BIOS lock is on and firmware (SMM) clears it again, so writes from the OS fail"},
	{text: "New value is 0x", kind: kBIOSCtlNew},
	{text: "Write/erase is not working yet on your programmer in its current configuration", cause: "bios_lock", sev: Fatal}, // B8
	{text: "SPI Configuration is locked down", cause: "bios_lock", sev: Info,
		summary: "the SPI controller configuration is locked until reset (normal on many boards; it keeps protected ranges in place)"}, // B9
	{text: "SPI Configuration Lockdown activated", cause: "bios_lock", sev: Warning},
	{text: ") is locked.", cause: "region_locked", sev: Warning},                                   // B11
	{text: ") is read-only.", cause: "region_locked", sev: Warning},                                // B11
	{text: "Not all flash regions are freely accessible by", cause: "region_locked", sev: Warning}, // B12
	{text: "PR0: Warning: ", cause: "bios_lock", sev: Warning},                                     // B13 (also GPR0)
	{text: "PR1: Warning: ", cause: "bios_lock", sev: Warning},
	{text: "PR2: Warning: ", cause: "bios_lock", sev: Warning},
	{text: "PR3: Warning: ", cause: "bios_lock", sev: Warning},
	{text: "PR4: Warning: ", cause: "bios_lock", sev: Warning},
	{text: "At least some flash regions are write protected", cause: "region_locked", sev: Warning},                     // B14
	{text: "At least some flash regions are read protected", cause: "region_locked", sev: Warning},                      // B15
	{text: "Hardware sequencing was requested but the flash descriptor is not valid", cause: "usage_error", sev: Fatal}, // B17
	{text: "Missing argument for ", cause: "usage_error", sev: Fatal},                                                   // B18, C3
	{text: "Unknown argument for ", cause: "usage_error", sev: Fatal},
	{text: "Request to erase some inaccessible memory address", cause: "region_locked", sev: Warning}, // B22
	{text: "Request to write to an inaccessible memory address", cause: "region_locked", sev: Warning},
	{text: "Request to read from an inaccessible memory address", cause: "region_locked", sev: Warning},
	{text: "the presence of the IMC", cause: "bios_lock", sev: Warning, // B23
		summary: "the AMD IMC is active, so the flasher disabled writes (override: -p internal:amd_imc_force=yes, only if the image keeps a working IMC firmware)"},
	{text: "is not supported with ROM Armor enabled", cause: "bios_lock", sev: Fatal, // B25
		summary: "AMD ROM Armor lets the OS read the flash but not write it"},

	// C: board enables, laptops, coreboot board ID.
	{text: "on an unknown laptop", cause: "laptop_refused", sev: Warning},     // C1, C2
	{text: "on an unsupported laptop", cause: "laptop_refused", sev: Warning}, // flashrom 0.9.x
	{text: "has not been tested, and thus will not be executed by default", cause: "unsupported_chipset", sev: Warning, // C4
		summary: "the board-enable code for this mainboard is untested and was not run (override: -p internal:boardenable=force)"},
	{text: "No suitable board enable found", cause: "usage_error", sev: Fatal},                                // C6
	{text: "be correct for the detected mainboard", cause: "board_mismatch", sev: Warning},                    // C9
	{text: "You can override this with -p internal:boardmismatch=force", cause: "board_mismatch", sev: Fatal}, // C9
	{text: "match the current coreboot IDs of the mainboard", cause: "board_mismatch", sev: Warning},          // C10

	// D: probe and chip.
	{text: "No EEPROM/flash device found", cause: "chip_not_found", sev: Fatal},          // D2
	{text: "Multiple flash chip definitions match", cause: "multiple_chips", sev: Fatal}, // D3
	{text: "Multiple flash chips were detected", cause: "multiple_chips", sev: Fatal},    // flashrom 0.9.x
	{text: "Error: Unknown chip '", cause: "usage_error", sev: Fatal},                    // D4
	{text: "This flash chip is too big for this programmer", cause: "unsupported_chipset", sev: Fatal, // D8
		summary: "the chip is bigger than the chipset can map; the flasher refuses without -f"},
	{text: "Programmer doesn't support this chip", cause: "unsupported_chipset", sev: Fatal}, // D9
	{text: "has no erase function for this flash chip", cause: "write_failed", sev: Fatal},   // D10
	{text: "has no write function for this flash chip", cause: "write_failed", sev: Fatal},
	{text: "is not possible on this chip", cause: "write_failed", sev: Fatal},
	{text: "is not working on this chip", cause: "write_failed", sev: Fatal},
	{text: "This flash part has status NOT WORKING for operations", cause: "write_failed", sev: Warning}, // D6
	{text: "Block protection could not be disabled", cause: "bios_lock", sev: Warning, // D11
		summary: "the flash chip's own write protection (status register, WP# pin) is on and could not be cleared"},
	{text: "Hardware protection is active, disabling write protection is impossible", cause: "bios_lock", sev: Warning,
		summary: "the flash chip's WP# pin is asserted, so its write protection cannot be cleared"},
	{text: "due to chip's write-protection", cause: "bios_lock", sev: Warning, // D12 (flashrom ≥1.7)
		summary: "the flash chip's own write protection covers the region to write"},
	{text: "due to chipset write-protection", cause: "region_locked", sev: Warning},
	{text: "cannot write/erase inside", cause: "region_locked", sev: Warning}, // flashrom ≥1.4
	{text: "cannot read inside", cause: "region_locked", sev: Warning},

	// E: operation outcome.
	{text: "FAILED at 0x", cause: "verify_failed", sev: Fatal, kind: kVerify}, // E4, E5
	{text: "VERIFY FAILED", cause: "verify_failed", sev: Fatal},               // flashrom 0.9.x
	{text: "Verification impossible because read failed", cause: "verify_failed", sev: Fatal},
	{text: "ERASE FAILED", cause: "write_failed", sev: Warning, kind: kEraseTrouble, // E6
		summary: "an erase did not take: the flasher tries the next erase function"},
	{text: "spi_write_cmd failed during command execution", cause: "bios_lock", sev: Warning, // E7
		summary: "the SPI controller refused a write or erase command (spi_write_cmd failed): on -p internal the chipset's locked opcode menu or protected ranges refuse it; with an external programmer, check the wiring and the WP# pin"},
	{text: "spi_simple_write_cmd failed during command execution", cause: "bios_lock", sev: Warning,
		summary: "the SPI controller refused a write or erase command (spi_write_cmd failed): on -p internal the chipset's locked opcode menu or protected ranges refuse it; with an external programmer, check the wiring and the WP# pin"},
	{text: "Uh oh. Erase/write failed", cause: "write_failed", sev: Fatal},                                                 // E9
	{text: "writing to the flash chip apparently didn't do anything", cause: "write_failed", sev: Fatal, kind: kUnchanged}, // E10
	{text: "Your flash chip is in an unknown state", cause: "write_failed", sev: Fatal, kind: kUnknownState},               // E11
	{text: "Apparently at least some data has changed", cause: "write_failed", sev: Fatal, kind: kUnknownState},            // E12
	{text: "Can't even read anymore", cause: "write_failed", sev: Fatal, kind: kUnknownState},                              // E13
	{text: "DO NOT REBOOT OR POWEROFF", cause: "write_failed", sev: Fatal, kind: kUnknownState},
	{text: "Looking for another erase function", cause: "write_failed", sev: Info, kind: kEraseTrouble,
		summary: "an erase function failed and the flasher tried the next one"}, // E16
	{text: "No usable erase functions left", cause: "write_failed", sev: Fatal},
	{text: "Write failed at ", cause: "write_failed", sev: Fatal}, // E17 (flashrom ≥1.4)
	{text: "Write Failed!", cause: "write_failed", sev: Fatal},
	{text: "write_flash: failed to write", cause: "write_failed", sev: Fatal},

	// F: files, sizes, layouts, command line.
	{text: "Error: Image size", cause: "image_size_mismatch", sev: Fatal},                   // F1 (all versions)
	{text: "Error: Failed to read complete file", cause: "image_size_mismatch", sev: Fatal}, // F3
	{text: "Error: opening file", cause: "usage_error", sev: Fatal, // F2
		summary: "the flasher could not open the image or output file named on the command line"},
	{text: "could not be written completely", cause: "usage_error", sev: Fatal,
		summary: "the flasher could not write the output file completely (disk full?); that dump is not a valid backup"},
	{text: "Region requested (with -i", cause: "usage_error", sev: Fatal},                // F5
	{text: "Invalid region specified", cause: "usage_error", sev: Fatal},                 // F6
	{text: "exceeds the current chip's address space", cause: "usage_error", sev: Fatal}, // F8
	{text: "Requested regions can not be handled", cause: "usage_error", sev: Fatal},
	{text: "is not aligned with write granularity", cause: "usage_error", sev: Fatal}, // F9
	{text: "Could not open ROM layout", cause: "usage_error", sev: Fatal},             // F11
	{text: "Error parsing layout file", cause: "usage_error", sev: Fatal},
	{text: "Duplicate region name", cause: "usage_error", sev: Fatal},
	{text: "Layout specified but no region included", cause: "usage_error", sev: Warning, // F12
		summary: "a layout was given without -i, so nothing was read or written"},
	{text: "Only one layout source may be specified", cause: "usage_error", sev: Fatal}, // F13
	{text: "Couldn't parse the descriptor", cause: "usage_error", sev: Fatal, // F14
		summary: "--ifd was used but the chip has no valid Intel flash descriptor; use a layout file (-l) instead"},
	{text: "Failed to read fmap", cause: "usage_error", sev: Fatal},              // F15
	{text: "Unhandled programmer parameters:", cause: "usage_error", sev: Fatal}, // F16
	{text: "Unhandled programmer parameters (possibly due to another failure)", cause: "usage_error", sev: Info, // F17
		summary: "a programmer parameter was not used because initialisation had already failed"},
	{text: "Error: Unknown programmer", cause: "usage_error", sev: Fatal},                                  // F18
	{text: "Please select a programmer with the --programmer parameter", cause: "usage_error", sev: Fatal}, // F19
	{text: "Invalid chip specified for emulation", cause: "usage_error", sev: Fatal},
	{text: "More than one operation specified", cause: "usage_error", sev: Fatal}, // F21
	{text: "Error: Extra parameter found", cause: "usage_error", sev: Fatal},
	{text: "are mutually exclusive", cause: "usage_error", sev: Fatal},
	{text: "specified more than once", cause: "usage_error", sev: Fatal},
	{text: "option requires an argument", cause: "usage_error", sev: Fatal},
	{text: "unrecognized option '", cause: "usage_error", sev: Fatal},
	{text: "invalid option --", cause: "usage_error", sev: Fatal},
	{text: "Wiki output was not compiled in", cause: "usage_error", sev: Fatal}, // F22

	// External programmers.
	{text: "Couldn't open device ", cause: "programmer_not_found", sev: Fatal}, // ch341a, ch347, ft4222, dirtyjtag
	{text: "No CH341A-like device found", cause: "programmer_not_found", sev: Fatal},
	{text: "Could not find a Dediprog", cause: "programmer_not_found", sev: Fatal},
	{text: "Could not find a PICkit2", cause: "programmer_not_found", sev: Fatal},
	{text: "Unable to open FTDI device", cause: "programmer_not_found", sev: Fatal},
	{text: "Cannot open serial port", cause: "programmer_not_found", sev: Fatal}, // serprog, buspirate, pony_spi

	// The shell could not find the flasher.
	{text: "flashprog: command not found", cause: "flasher_missing", sev: Fatal},
	{text: "flashrom: command not found", cause: "flasher_missing", sev: Fatal},
	{text: "command not found: flashprog", cause: "flasher_missing", sev: Fatal},
	{text: "command not found: flashrom", cause: "flasher_missing", sev: Fatal},
	{text: "flashprog: not found", cause: "flasher_missing", sev: Fatal},
	{text: "flashrom: not found", cause: "flasher_missing", sev: Fatal},
	{text: "Unknown command: flashprog", cause: "flasher_missing", sev: Fatal},
	{text: "Unknown command: flashrom", cause: "flasher_missing", sev: Fatal},
}
