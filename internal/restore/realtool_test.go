package restore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realKernelInstall is Debian's kernel-install (systemd 252, a shell
// script). It is run for real against a temporary root: every place it
// writes is taken from the environment (BOOT_ROOT, KERNEL_INSTALL_CONF_ROOT,
// KERNEL_INSTALL_PLUGINS), so the test runs it only after checking that this
// copy honours those variables, and skips otherwise.
const realKernelInstall = "/usr/bin/kernel-install"

func safeKernelInstall(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kernel-install's loader entry plugin chowns to root")
	}
	b, err := os.ReadFile(realKernelInstall)
	if err != nil {
		t.Skip("kernel-install not installed (systemd)")
	}
	for _, want := range []string{"#!/bin/sh", `_BOOT_ROOT_SAVED="$BOOT_ROOT"`, `if [ -z "$KERNEL_INSTALL_PLUGINS" ]`,
		`install_conf="$KERNEL_INSTALL_CONF_ROOT/install.conf"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Skipf("kernel-install is not the shell version whose writes this test can confine (%q missing)", want)
		}
	}
	if _, err := os.Stat("/usr/lib/kernel/install.d/90-loaderentry.install"); err != nil {
		t.Skip("no 90-loaderentry.install")
	}
}

func TestRealKernelInstall(t *testing.T) {
	safeKernelInstall(t)
	const (
		kver  = "6.1.0-27-amd64"
		token = "0123456789abcdef0123456789abcdef"
	)
	f := family{name: "sdboot-real", backend: BackendKernelCmd, files: map[string]string{
		"/etc/kernel/cmdline":                   "root=UUID=0b9e rw quiet\n",
		"/etc/kernel/install.conf":              "layout=bls\n",
		"/etc/kernel/entry-token":               token + "\n",
		"/usr/lib/modules/" + kver + "/vmlinuz": "not really a kernel\n",
		"/efi/loader/loader.conf":               "timeout 3\n",
		"/efi/" + token + "/" + kver + "/.keep": "",
		"/efi/loader/entries/.keep":             "",
	}}
	e := newEnv(t, f)
	// The tool in the fake root passes the root's paths to the real one:
	// its configuration, its ESP, the one plugin that writes the entry, and
	// the kernel image under the root.
	writeT(t, filepath.Join(e.root, "usr/bin/kernel-install"), `#!/bin/sh
R=$(cd "$(dirname "$0")/../.." && pwd)
[ "$1" = add ] && [ $# -eq 3 ] || { echo "kernel-install stand-in: unexpected $*" >&2; exit 2; }
export KERNEL_INSTALL_CONF_ROOT="$R/etc/kernel" BOOT_ROOT="$R/efi" MACHINE_ID=`+token+` \
	KERNEL_INSTALL_PLUGINS=/usr/lib/kernel/install.d/90-loaderentry.install
exec `+realKernelInstall+` add "$2" "$R$3"
`, 0o755)
	e.m.Cmd = ExecCommander{}
	// The entry as the real tool writes it from the shipped cmdline.
	kc := Command{Tool: "/usr/bin/kernel-install", Args: []string{"add", kver, "/usr/lib/modules/" + kver + "/vmlinuz"}}
	if out, err := e.m.run(context.Background(), kc); err != nil {
		t.Fatalf("kernel-install: %v\n%s", err, out)
	}
	entry := filepath.Join(e.root, "efi/loader/entries", token+"-"+kver+".conf")
	orig, err := os.ReadFile(entry)
	if err != nil || !bytes.Contains(orig, []byte("options    root=UUID=0b9e rw quiet systemd.machine_id="+token+"\n")) {
		t.Fatalf("entry written by kernel-install: %v\n%s", err, orig)
	}
	before := snapshotTree(t, e.root)

	p, err := e.m.PlanActions(context.Background(), []string{ActionIomem})
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps[0].Backend != BackendKernelCmd || len(p.Steps[0].Commands) != 1 {
		t.Fatalf("plan: %+v", p.Steps[0])
	}
	if err := e.m.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(entry)
	if !strings.Contains(string(got), "options    root=UUID=0b9e rw quiet iomem=relaxed systemd.machine_id=") {
		t.Errorf("entry after prepare:\n%s", got)
	}
	if _, err := e.m.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, before, snapshotTree(t, e.root))
	for _, host := range []string{"/efi/" + token, "/boot/" + token, "/boot/efi/" + token,
		"/efi/loader/entries/" + token + "-" + kver + ".conf", "/boot/loader/entries/" + token + "-" + kver + ".conf"} {
		if _, err := os.Stat(host); err == nil {
			t.Errorf("the real kernel-install wrote %s on the host", host)
		}
	}
}
