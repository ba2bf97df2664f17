package boards

// The table. Facts (models, DMI names, flash sizes, routes, jumpers) from
// Libreboot's install pages, https://libreboot.org/docs/install/ (sources
// in lbwww.git, site/docs/install/*.md), read in December 2026; the
// wording is this project's. DMI spellings: Lenovo puts the model into
// product_version ("ThinkPad X200"), Dell and HP into product_name.

const docsBase = "https://libreboot.org/docs/install/"

// External-flashing outline shared by the boards that need it; the board's
// page has the disassembly and the clip's pinout.
var externalSteps = []string{
	"Shut the machine down and remove every power source (AC adapter, main and, where the page says so, coin-cell battery).",
	"Open the machine as the board's page shows and attach a SOIC clip (or probes) of an external programmer to the flash chip.",
	"Read the chip twice with the programmer and keep the read only if both copies are identical: that is the backup.",
	"Write the Libreboot image with the programmer (split per chip where the board has two), verify, then reassemble.",
}

// external is externalSteps with the board's own step (where the chip
// is) after powering off.
func external(board string) []string {
	out := append([]string{}, externalSteps[0], board)
	return append(out, externalSteps[1:]...)
}

const (
	lenovoVendor = `lenovo`
	dellVendor   = `dell inc\.?|dell`
	hpVendor     = `hewlett-packard|hp`
)

var table = []Board{
	// Dell Latitude laptops: dell-flash-unlock from Dell's BIOS.
	{
		ID: "e6400", Name: "Dell Latitude E6400 (also XFR, ATG)",
		Vendor: dellVendor, Product: `latitude e6400( xfr| atg)?`,
		Chipset: "GM45/ICH9M", Layouts: []Layout{{4 * MiB}},
		VendorFirmware: "Dell BIOS", Route: DellUnlock,
		Notes: []string{"the Nvidia-GPU model takes the e6400nvidia image and needs the vendor files inserted first"},
		Docs:  docsBase + "latitude.html",
	},
	{
		ID: "e4300", Name: "Dell Latitude E4300",
		Vendor: dellVendor, Product: `latitude e4300`,
		Chipset: "GM45/ICH9M", Layouts: []Layout{{4 * MiB}},
		VendorFirmware: "Dell BIOS", Route: DellUnlock,
		Docs: docsBase + "latitude.html",
	},
	{
		ID: "e6x20", Name: "Dell Latitude E6220/E6420/E6520 (Intel GPU only)",
		Vendor: dellVendor, Product: `latitude e6[245]20`,
		Chipset: "Sandy Bridge/6-series", Layouts: []Layout{{2 * MiB, 8 * MiB}},
		VendorFirmware: "Dell BIOS", Route: DellUnlock,
		Notes: []string{"two chips; the docs give 2+8 MiB as the usual split of the 10 MiB image — check the chips' part numbers before flashing externally"},
		Docs:  docsBase + "latitude.html",
	},
	{
		ID: "e5x20", Name: "Dell Latitude E5420/E5520 (Intel GPU only)",
		Vendor: dellVendor, Product: `latitude e5[45]20`,
		Chipset: "Sandy Bridge/6-series", Layouts: []Layout{{6 * MiB}},
		VendorFirmware: "Dell BIOS", Route: DellUnlock,
		Docs: docsBase + "latitude.html",
	},
	{
		ID: "e6x30", Name: "Dell Latitude E5530/E6230/E6330/E6430/E6530 (Intel GPU only)",
		Vendor: dellVendor, Product: `latitude e(5530|6230|6330|6430|6530)`,
		Chipset: "Ivy Bridge/7-series", Layouts: []Layout{{8 * MiB, 4 * MiB}},
		VendorFirmware: "Dell BIOS", Route: DellUnlock,
		Docs: docsBase + "latitude.html",
	},

	// Lenovo GM45 ThinkPads: Lenovo's BIOS cannot be replaced internally.
	{
		ID: "x200", Name: "Lenovo ThinkPad X200 / X200s / X200 Tablet",
		Vendor: lenovoVendor, Product: `thinkpad x200( ?s| tablet|t)?`,
		Chipset: "GM45/ICH9M", Layouts: []Layout{{4 * MiB}, {8 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: external("X200: the chip (SOIC-8 for 4 MiB, SOIC-16 for 8 MiB) is under the palm rest: remove the keyboard and palm rest. X200s and X200 Tablet: the chip (WSON-8) is under the mainboard, which has to come out."),
		Notes: []string{"grounding GPIO33 lifts the descriptor's limits but not Lenovo's protected ranges, so internal flashing still fails"},
		Docs:  docsBase + "x200.html",
	},
	{
		ID: "t400", Name: "Lenovo ThinkPad T400 / T400s",
		Vendor: lenovoVendor, Product: `thinkpad t400s?`,
		Chipset: "GM45/ICH9M", Layouts: []Layout{{4 * MiB}, {8 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: external("The chip is on the mainboard, under the keyboard and palm rest; the board's page shows the disassembly."),
		Docs:  docsBase + "t400.html",
	},
	{
		ID: "t500", Name: "Lenovo ThinkPad T500 / W500",
		Vendor: lenovoVendor, Product: `thinkpad [tw]500`,
		Chipset: "GM45/ICH9M", Layouts: []Layout{{4 * MiB}, {8 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: external("The chip is on the mainboard, reached by taking the machine apart as the board's page shows."),
		Docs:  docsBase + "t500.html",
	},
	{
		ID: "r400", Name: "Lenovo ThinkPad R400 / R500",
		Vendor: lenovoVendor, Product: `thinkpad r[45]00`,
		Chipset: "GM45/ICH9M", Layouts: []Layout{{4 * MiB}, {8 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: external("The chip is on the mainboard, reached by taking the machine apart as the board's page shows."),
		Docs:  docsBase + "r400.html",
	},

	// Lenovo Sandy Bridge, Ivy Bridge, Haswell and Kaby Lake ThinkPads.
	{
		ID: "x220", Name: "Lenovo ThinkPad X220 / X220 Tablet",
		Vendor: lenovoVendor, Product: `thinkpad x220( tablet)?`,
		Chipset: "Sandy Bridge/6-series", Layouts: []Layout{{8 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: externalSteps,
		Docs:  docsBase + "x220.html",
	},
	{
		ID: "t420", Name: "Lenovo ThinkPad T420 / T420s / T520",
		Vendor: lenovoVendor, Product: `thinkpad t420s?|thinkpad t520`,
		Chipset: "Sandy Bridge/6-series", Layouts: []Layout{{8 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: externalSteps,
		Docs:  docsBase + "t420_external.html",
	},
	{
		ID: "x230", Name: "Lenovo ThinkPad X230 / X230 Tablet / T430 / T530 / W530",
		Vendor: lenovoVendor, Product: `thinkpad x230( tablet|t)?|thinkpad t430|thinkpad t530|thinkpad w530`,
		Chipset: "Ivy Bridge/7-series", Layouts: []Layout{{8 * MiB, 4 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: external("Two chips under the palm rest: split the 12 MiB image into the low 8 MiB and the high 4 MiB and write each to its chip."),
		Notes: []string{"an internal route from Lenovo's BIOS exists (coreboot's BIOS-region exploit, then the HDA_SDO strap held at power-on), but Libreboot does not recommend it: it needs shorting pins on the audio chip"},
		Docs:  docsBase + "x230_external.html",
	},
	{
		ID: "t440p", Name: "Lenovo ThinkPad T440p",
		Vendor: lenovoVendor, Product: `thinkpad t440p`,
		Chipset: "Haswell/8-series", Layouts: []Layout{{8 * MiB, 4 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: external("Two chips near the RAM under the bottom cover: the low 8 MiB of the image go to one, the high 4 MiB to the other."),
		Docs:  docsBase + "t440p_external.html",
	},
	{
		ID: "w541", Name: "Lenovo ThinkPad W540 / W541",
		Vendor: lenovoVendor, Product: `thinkpad w54[01]`,
		Chipset: "Haswell/8-series", Layouts: []Layout{{8 * MiB, 4 * MiB}},
		VendorFirmware: "Lenovo BIOS", Route: ExternalRequired,
		Steps: external("Two chips: the low 8 MiB of the image go to one, the high 4 MiB to the other."),
		Docs:  docsBase + "w541_external.html",
	},
	{
		ID: "t480", Name: "Lenovo ThinkPad T480 / T480s",
		Vendor: lenovoVendor, Product: `thinkpad t480s?`,
		Chipset: "Kaby Lake", Layouts: []Layout{{16 * MiB}},
		VendorFirmware: "Lenovo UEFI", Route: ExternalRequired,
		Steps: externalSteps,
		Notes: []string{"the images need the vendor files (ME, deguard) inserted before flashing"},
		Docs:  docsBase + "t480.html",
	},

	// HP laptops.
	{
		ID: "hp2560p", Name: "HP EliteBook 2560p",
		Vendor: hpVendor, Product: `(hp )?elitebook 2560p`,
		Chipset: "Sandy Bridge/QM67", Layouts: []Layout{{8 * MiB}},
		VendorFirmware: "HP BIOS", Route: ExternalRequired,
		Steps: externalSteps,
		Docs:  docsBase + "hp2560p.html",
	},

	// Desktops: a service/FDO jumper set at power-on lifts the protection.
	{
		ID: "dell7010", Name: "Dell OptiPlex 7010 / 9010 (SFF image; the MT takes the T1650 image)",
		Vendor: dellVendor, Product: `optiplex [79]010`,
		Chipset: "Ivy Bridge/C216", Layouts: []Layout{{8 * MiB, 4 * MiB}},
		VendorFirmware: "Dell UEFI", Route: Jumper,
		Steps: []string{
			"Power off and unplug; open the side cover.",
			"Short the service jumper near the RAM, under the drive bay, and keep it shorted while the machine powers on.",
			"Run the install again; after it verifies, pull the plug instead of shutting down (Dell's firmware may write EFI variables to the flash on shutdown).",
		},
		Docs: docsBase + "dell7010.html",
	},
	{
		ID: "t1650", Name: "Dell Precision T1650",
		Vendor: dellVendor, Product: `precision( workstation)? t1650`,
		Chipset: "Ivy Bridge/C216", Layouts: []Layout{{8 * MiB, 4 * MiB}},
		VendorFirmware: "Dell UEFI", Route: Jumper,
		Steps: []string{
			"Power off and unplug; open the side cover.",
			"Set a jumper on the service mode header below the PCI slots (it straps HDA_SDO) and power on.",
			"Run the install again.",
		},
		Docs: docsBase + "t1650.html",
	},
	{
		ID: "dell9020", Name: "Dell OptiPlex 7020 / 9020 MT and SFF, XE2, Precision T1700",
		Vendor: dellVendor, Product: `optiplex [79]020|optiplex xe2|precision( workstation)? t1700`,
		Chipset: "Haswell/Q87", Layouts: []Layout{{8 * MiB, 4 * MiB}},
		VendorFirmware: "Dell UEFI", Route: Jumper,
		Steps: []string{
			"Power off and unplug; open the side cover.",
			"Install the SERVICE_MODE jumper near the PCIe slots and power on.",
			"Unload the SPI driver (modprobe -r spi_intel_platform) and run the install again.",
			"After it verifies, remove power instead of shutting down (Dell's firmware may write EFI variables to the flash on shutdown); remove the jumper once Libreboot runs.",
		},
		Docs: docsBase + "dell9020.html",
	},
	{
		ID: "dell3050", Name: "Dell OptiPlex 3050 Micro",
		Vendor: dellVendor, Product: `optiplex 3050`,
		Chipset: "Kaby Lake", Layouts: []Layout{{16 * MiB}},
		VendorFirmware: "Dell UEFI", Route: Jumper,
		Steps: []string{
			"Power off and unplug; take off the top panel and the drive caddy.",
			"Short the service jumper near the RAM and keep it shorted while the machine powers on.",
			"Run the install again; after it verifies, pull the plug instead of shutting down.",
		},
		Docs: docsBase + "dell3050.html",
	},
	{
		ID: "dell780", Name: "Dell OptiPlex 780 MT / USFF",
		Vendor: dellVendor, Product: `optiplex 780`,
		Chipset: "X4X/ICH10", Layouts: []Layout{{8 * MiB}},
		VendorFirmware: "Dell BIOS", Route: Jumper,
		Steps: []string{
			"Power off and unplug; short the 2-pin service jumper on the board and power on.",
			"With the jumper only the low 6 MiB are writable: use the _truncate image padded to 8 MiB and write the fd, gbe and bios regions in that order (--ifd -i fd, then -i gbe, then -i bios).",
		},
		Docs: docsBase + "dell780.html",
	},
	{
		ID: "hp8200sff", Name: "HP Compaq 8200 Elite SFF / MT (and 6200 Pro)",
		Vendor: hpVendor, Product: `(hp )?compaq (8200 elite|6200 pro)( (sff|mt|cmt))?( pc)?`,
		Chipset: "Sandy Bridge/Q67", Layouts: []Layout{{8 * MiB}},
		VendorFirmware: "HP BIOS", Route: Jumper,
		Steps: []string{
			"Power off, remove the side panel and bridge the FDO jumper near the rear USB ports until the BIOS screen shows.",
			"flashprog must report that the Flash Descriptor Override pin-strap is set; otherwise start again.",
			"Write the 4 MiB intermediate image (padded to 8 MiB) with a layout (-i fd -i gbe -i bios -i me), power off (not reboot), power on, then write the full 8 MiB image.",
		},
		Docs: docsBase + "hp8200sff.html",
	},
}
