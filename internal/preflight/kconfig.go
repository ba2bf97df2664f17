package preflight

import (
	"bufio"
	"bytes"
	"strings"

	"libreflash/internal/diagnose"
)

// KConfig is a kernel build configuration (.config format). The zero value
// means "not found": every option is Unknown.
type KConfig struct {
	Source string            // host path it was read from; "" when none
	vals   map[string]string // CONFIG_FOO → "y", "m", "n", or a value
}

// ParseKConfig reads .config text: "CONFIG_FOO=y" lines and the "# CONFIG_FOO
// is not set" comments that record a disabled option. Anything else is
// ignored, so a truncated or foreign file yields what it can.
func ParseKConfig(b []byte) map[string]string {
	vals := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			if name, ok := strings.CutSuffix(rest, " is not set"); ok && strings.HasPrefix(name, "CONFIG_") {
				vals[name] = "n"
			}
			continue
		}
		name, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(name, "CONFIG_") || strings.ContainsAny(name, " \t") {
			continue
		}
		vals[name] = strings.Trim(v, `"`)
	}
	return vals
}

// Tri reports whether option name is built in or a module. In a config that
// was found, an option that is absent is as good as "not set".
func (k *KConfig) Tri(name string) diagnose.Tri {
	if k == nil || k.vals == nil {
		return diagnose.Unknown
	}
	switch k.vals[name] {
	case "y", "m":
		return diagnose.Yes
	}
	return diagnose.No
}

// Found reports whether a kernel config was read.
func (k *KConfig) Found() bool { return k != nil && k.vals != nil }

// loadKConfig finds the running kernel's config where distributions keep it:
// /proc/config.gz (CONFIG_IKCONFIG_PROC), then /boot/config-<release>, then
// /lib/modules/<release>/config.
func loadKConfig(e *Env, release string) *KConfig {
	cands := []string{"/proc/config.gz"}
	if release != "" && !strings.ContainsAny(release, "/\x00") {
		cands = append(cands, "/boot/config-"+release, "/lib/modules/"+release+"/config")
	}
	for _, p := range cands {
		b, err := e.readFile(p)
		if err != nil {
			continue
		}
		vals := ParseKConfig(b)
		if len(vals) == 0 {
			continue
		}
		return &KConfig{Source: p, vals: vals}
	}
	return &KConfig{}
}
