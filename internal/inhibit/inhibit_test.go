package inhibit

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// privateBus starts a real dbus-daemon on a socket in a temp dir (never the
// host's system bus) and returns its address.
func privateBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dbus-daemon not installed: scripts/test.sh installs the dbus package")
		}
		t.Skip("dbus-daemon not installed (apt-get install dbus)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bus.conf")
	os.WriteFile(cfg, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>libreflash-test</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`), 0o644)
	cmd := exec.Command(daemon, "--config-file="+cfg, "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr // its fd-limit warning, when not allowed to raise it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(addr)
}

// fakeLogind answers Inhibit on the bus as logind does: with the write end
// of a pipe that it watches; the lock is released when every copy of that
// end is closed.
type fakeLogind struct {
	mu    sync.Mutex
	calls [][]string
	read  []*os.File // logind's ends of the pipes handed out
	sent  []*os.File // the ends it sent, until closeSent
	deny  bool
}

func (f *fakeLogind) Inhibit(what, who, why, mode string) (dbus.UnixFD, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, []string{what, who, why, mode})
	if f.deny {
		return 0, dbus.NewError("org.freedesktop.DBus.Error.AccessDenied", []any{"Permission denied"})
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, dbus.MakeFailedError(err)
	}
	f.read = append(f.read, r)
	f.sent = append(f.sent, w)
	// The bus sends a copy of w; logind's own is closed once it is sent
	// (here: by closeSent, after Take returned).
	return dbus.UnixFD(w.Fd()), nil
}

// closeSent closes logind's copies of the ends it sent.
func (f *fakeLogind) closeSent() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.sent {
		w.Close()
	}
	f.sent = nil
}

func startLogind(t *testing.T, addr string) *fakeLogind {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeLogind{}
	if err := conn.Export(f, "/org/freedesktop/login1", "org.freedesktop.login1.Manager"); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName("org.freedesktop.login1", dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.login1: %v %v", r, err)
	}
	return f
}

// released says whether the lock handed out as pipe i is released: its
// write end is closed everywhere, so a read sees EOF at once.
func (f *fakeLogind) released(t *testing.T, i int) bool {
	t.Helper()
	r := f.read[i]
	r.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := r.Read(make([]byte, 1))
	return err != nil && !os.IsTimeout(err)
}

func TestTakeAndRelease(t *testing.T) {
	addr := privateBus(t)
	logind := startLogind(t, addr)
	l := Take(context.Background(), Options{Address: addr}, "writing the boot flash")
	if !l.Held() || l.Note() != "" {
		t.Fatalf("not held: %s", l.Note())
	}
	if len(logind.calls) != 1 {
		t.Fatalf("calls %v", logind.calls)
	}
	c := logind.calls[0]
	if c[0] != What || c[1] != Who || c[2] != "writing the boot flash" || c[3] != "block" {
		t.Errorf("Inhibit(%q)", c)
	}
	for _, w := range []string{"sleep", "shutdown", "idle", "handle-lid-switch", "handle-power-key", "handle-suspend-key"} {
		if !strings.Contains(":"+c[0]+":", ":"+w+":") {
			t.Errorf("%s not inhibited", w)
		}
	}
	logind.closeSent()
	if logind.released(t, 0) {
		t.Fatal("lock released while held")
	}
	l.Release()
	if !logind.released(t, 0) {
		t.Error("lock still held after Release")
	}
	l.Release() // twice is fine
}

func TestNoBus(t *testing.T) {
	l := Take(context.Background(), Options{Address: "unix:path=" + filepath.Join(t.TempDir(), "none")}, "x")
	if l.Held() || !strings.Contains(l.Note(), "no system bus") {
		t.Errorf("held %v, note %q", l.Held(), l.Note())
	}
	l.Release()
}

func TestNoLogind(t *testing.T) {
	addr := privateBus(t)
	l := Take(context.Background(), Options{Address: addr}, "x")
	if l.Held() || !strings.Contains(l.Note(), "logind is not running") {
		t.Errorf("held %v, note %q", l.Held(), l.Note())
	}
}

func TestLogindRefuses(t *testing.T) {
	addr := privateBus(t)
	logind := startLogind(t, addr)
	logind.deny = true
	l := Take(context.Background(), Options{Address: addr}, "x")
	if l.Held() || !strings.Contains(l.Note(), "AccessDenied") && !strings.Contains(l.Note(), "Permission denied") {
		t.Errorf("held %v, note %q", l.Held(), l.Note())
	}
}
