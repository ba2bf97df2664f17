package preflight_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
)

// machine writes files (host path → content) under a temporary root and
// returns its Env with probes p.
func machine(t *testing.T, p preflighttest.Probes, files map[string]string) *preflight.Env {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e, err := p.Env(root)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func check(t *testing.T, e *preflight.Env, id string) preflight.Check {
	t.Helper()
	c, ok := preflight.Run(context.Background(), e, preflight.Options{}).Get(id)
	if !ok {
		t.Fatalf("no %s check", id)
	}
	return c
}

const efivars = "/sys/firmware/efi/efivars/"

func TestSecureBootStates(t *testing.T) {
	sb := func(v byte) string { return string([]byte{6, 0, 0, 0, v}) }
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  preflight.Status
		sub   string
	}{
		{"legacy", map[string]string{"/proc/cmdline": "ro\n"}, preflight.Pass, "legacy BIOS"},
		{"efivarfs not mounted", map[string]string{"/sys/firmware/efi/fw_platform_size": "64\n"}, preflight.Warn, "efivarfs is not mounted"},
		{"enabled", map[string]string{efivars + "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c": sb(1),
			efivars + "SetupMode-8be4df61-93ca-11d2-aa0d-00e098032b8c": sb(0)}, preflight.Fail, "enabled"},
		{"setup mode", map[string]string{efivars + "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c": sb(1),
			efivars + "SetupMode-8be4df61-93ca-11d2-aa0d-00e098032b8c": sb(1)}, preflight.Pass, "setup mode"},
		{"disabled", map[string]string{efivars + "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c": sb(0)}, preflight.Pass, "disabled"},
		{"no variable", map[string]string{efivars + "BootCurrent-8be4df61-93ca-11d2-aa0d-00e098032b8c": "\x06\x00\x00\x00\x01\x00"}, preflight.Pass, "disabled"},
		{"truncated", map[string]string{efivars + "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c": "\x06\x00"}, preflight.Warn, "unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := check(t, machine(t, preflighttest.Probes{Iopl: "ok"}, tc.files), "secureboot")
			if c.Status != tc.want || !strings.Contains(c.Summary, tc.sub) {
				t.Errorf("%s: %s", c.Status, c.Summary)
			}
		})
	}
}

func TestLockdownSources(t *testing.T) {
	forced := "CONFIG_SECURITY_LOCKDOWN_LSM=y\nCONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY=y\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  preflight.Status
		sub   string
	}{
		{"forced, securityfs unmounted", map[string]string{"/proc/sys/kernel/osrelease": "6.6.0\n", "/boot/config-6.6.0": forced},
			preflight.Fail, "confidentiality, because the kernel is built with CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY (deduced"},
		{"cmdline", map[string]string{"/sys/kernel/security/lockdown": "none [integrity] confidentiality\n",
			"/proc/cmdline": `ro quiet lockdown=integrity -- lockdown=none`}, preflight.Fail, "because lockdown=integrity is on the kernel command line"},
		{"cmdline after -- is init's", map[string]string{"/proc/sys/kernel/osrelease": "6.6.0\n", "/boot/config-6.6.0": "CONFIG_SECURITY_LOCKDOWN_LSM=y\n",
			"/proc/cmdline": `ro -- lockdown=integrity`}, preflight.Pass, "none as far as can be told"},
		{"no lsm", map[string]string{"/proc/sys/kernel/osrelease": "6.6.0\n", "/lib/modules/6.6.0/config": "# CONFIG_SECURITY_LOCKDOWN_LSM is not set\n"},
			preflight.Pass, "no lockdown LSM"},
		{"nothing known", map[string]string{}, preflight.Warn, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := check(t, machine(t, preflighttest.Probes{Iopl: "ok"}, tc.files), "lockdown")
			if c.Status != tc.want || !strings.Contains(c.Summary, tc.sub) {
				t.Errorf("%s: %s", c.Status, c.Summary)
			}
		})
	}
}

func TestDevmemNode(t *testing.T) {
	files := map[string]string{"/proc/sys/kernel/osrelease": "6.1.0\n", "/boot/config-6.1.0": "# CONFIG_STRICT_DEVMEM is not set\n",
		"/etc/group": "kmem:x:15:\nvideo:x:44:\n"}
	for _, tc := range []struct {
		node string
		want preflight.Status
		sub  string
	}{
		{"c 1:1 0640 0:15", preflight.Pass, ""},
		{"c 1:1 0660 0:44", preflight.Warn, "accessible to group 44"},
		{"c 1:1 0604 0:15", preflight.Warn, "accessible to every user"},
		{"c 1:1 0600 1000:0", preflight.Warn, "owned by uid 1000"},
		{"- 0:0 0644 0:0", preflight.Fail, "not the memory device"},
		{"c 1:3 0666 0:0", preflight.Fail, "not the memory device"},
	} {
		e := machine(t, preflighttest.Probes{Iopl: "ok", MapMem: map[string]string{"f0000": "ok"},
			Nodes: map[string]string{"/dev/mem": tc.node}}, files)
		c := check(t, e, "devmem")
		if c.Status != tc.want || !strings.Contains(c.Summary+c.Detail, tc.sub) {
			t.Errorf("%s: %s %s / %s", tc.node, c.Status, c.Summary, c.Detail)
		}
	}
}

// Without a derivable chipset window the probe maps the BIOS area below
// 1 MiB; refused there, /dev/mem is closed altogether.
func TestDevmemLowPage(t *testing.T) {
	files := map[string]string{"/proc/sys/kernel/osrelease": "6.1.0\n", "/boot/config-6.1.0": "CONFIG_STRICT_DEVMEM=y\n"}
	e := machine(t, preflighttest.Probes{Iopl: "ok", MapMem: map[string]string{"f0000": "EPERM"},
		Nodes: map[string]string{"/dev/mem": "c 1:1 0640 0:15"}}, files)
	c := check(t, e, "devmem")
	if c.Status != preflight.Fail || !strings.Contains(c.Summary, "low-memory page at 0xf0000") {
		t.Errorf("%s: %s", c.Status, c.Summary)
	}
}

func TestIoplNonX86(t *testing.T) {
	e := machine(t, preflighttest.Probes{GOARCH: "arm64", Iopl: "ENOSYS"}, nil)
	if c := check(t, e, "iopl"); c.Status != preflight.Skip {
		t.Errorf("arm64: %s %s", c.Status, c.Summary)
	}
}
