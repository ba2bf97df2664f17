package rom

import (
	"strings"
)

// An x86 CPU fetches its first instruction 16 bytes below the top of the
// flash (the reset vector): an x86 image with nothing there does not start.
// Other architectures boot from elsewhere, so the check applies only to
// images that say they are x86.

// x86Evidence says why img is an x86 image, or "" when nothing says so:
//   - an Intel flash descriptor (only Intel x86 chipsets have one);
//   - the CBFS master header's architecture;
//   - a flash map laid out for x86: its COREBOOT area reaching the top of
//     the image with no BOOTBLOCK area (ARM boards boot from a BOOTBLOCK
//     area at the bottom), or Intel's SI_* areas;
//   - the coreboot config naming an x86 architecture, CPU, SoC or chipset.
func x86Evidence(img *Image, cb *Coreboot) string {
	if img.IFD != nil {
		return "it has an Intel flash descriptor"
	}
	if img.CBFS != nil && img.CBFS.Arch == "x86" {
		return "its CBFS master header says x86"
	}
	if fm := img.FMAP; fm != nil {
		if _, ok := fm.Area("SI_BIOS"); ok {
			return "its flash map has Intel's SI_BIOS area"
		}
		a, ok := fm.Area("COREBOOT")
		_, boot := fm.Area("BOOTBLOCK")
		if ok && !boot && a.Offset+a.Size == img.Size() {
			return "its flash map ends with the COREBOOT area, where the x86 bootblock lives"
		}
	}
	if cb != nil {
		for k, v := range cb.Config {
			if v == "y" && x86Kconfig(k) {
				return "its coreboot config sets CONFIG_" + k
			}
		}
	}
	return ""
}

// x86Kconfig says whether a Kconfig symbol (without CONFIG_) is set only
// in x86 builds.
func x86Kconfig(k string) bool {
	if k == "ARCH_X86" || strings.HasPrefix(k, "ARCH_") && (strings.HasSuffix(k, "_X86_32") || strings.HasSuffix(k, "_X86_64")) {
		return true
	}
	for _, p := range []string{"CPU_INTEL_", "CPU_AMD_", "SOC_INTEL_", "SOC_AMD_", "NORTHBRIDGE_INTEL_", "SOUTHBRIDGE_INTEL_", "NORTHBRIDGE_AMD_", "SOUTHBRIDGE_AMD_"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// checkResetVector refuses an x86 image whose last 16 bytes are blank; ok
// is false when the image is not known to be x86 (nothing to say) or is
// blank throughout (checkBlank says that).
func checkResetVector(img *Image, cb *Coreboot) (v Verdict, ok bool) {
	why := x86Evidence(img, cb)
	if why == "" || len(img.data) < 16 || uniform(img.data) {
		return Verdict{}, false
	}
	if !uniform(img.data[len(img.data)-16:]) {
		return Verdict{}, false
	}
	return Verdict{ID: "coreboot", Status: Fail,
		Summary: "the image has no x86 reset vector: its last 16 bytes are blank, the bootblock is missing",
		Detail:  "it is an x86 image (" + why + "); the CPU executes its first instruction there, and with nothing there the machine does not start",
		Fix:     "this image was not built completely; use a release image or rebuild it"}, true
}
