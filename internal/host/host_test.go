package host

import "testing"

func TestPath(t *testing.T) {
	for _, c := range []struct {
		root Root
		p    string
		want string
	}{
		{System, "/proc/cmdline", "/proc/cmdline"},
		{"", "sys/class/dmi/id", "/sys/class/dmi/id"},
		{"/tmp/fix", "/etc/default/grub", "/tmp/fix/etc/default/grub"},
		{"/tmp/fix", "../../etc/shadow", "/tmp/fix/etc/shadow"},
		{"/tmp/fix/", "/run/libreflash", "/tmp/fix/run/libreflash"},
	} {
		if got := c.root.Path(c.p); got != c.want {
			t.Errorf("Root(%q).Path(%q) = %q, want %q", c.root, c.p, got, c.want)
		}
	}
}
