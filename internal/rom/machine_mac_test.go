package rom

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadGbENIC: the Intel GbE interface is found below the machine's
// root, by its driver, and none when only other drivers are there.
func TestReadGbENIC(t *testing.T) {
	root := t.TempDir()
	nic := func(name, driver, addr string) {
		t.Helper()
		dev := filepath.Join(root, "sys/devices/pci0000:00", name)
		drv := filepath.Join(root, "sys/bus/pci/drivers", driver)
		for _, d := range []string{dev, drv, filepath.Join(root, "sys/class/net", name)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(drv, filepath.Join(dev, "driver")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(dev, filepath.Join(root, "sys/class/net", name, "device")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "sys/class/net", name, "address"), []byte(addr+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	nic("wlp3s0", "iwlwifi", "00:21:6a:00:00:01")
	if _, ok := ReadGbENIC(root); ok {
		t.Fatal("a wireless NIC taken for the GbE one")
	}
	nic("enp0s25", "e1000e", "00:1f:16:aa:bb:cc")
	got, ok := ReadGbENIC(root)
	if !ok || got.Name != "enp0s25" || got.Driver != "e1000e" || got.MAC != "00:1f:16:aa:bb:cc" {
		t.Errorf("ReadGbENIC = %+v, %v", got, ok)
	}
}
