// Package inhibit owns the systemd-logind inhibitor lock that keeps the
// machine from suspending, hibernating, shutting down or going idle (and
// its lid switch and power, suspend and hibernate keys from doing so)
// while libreflash reads, writes and verifies the flash chip: a suspend in
// the middle of a write can leave a machine that does not start.
//
// It talks to logind over the system bus (org.freedesktop.login1.Manager
// Inhibit, mode "block"); the lock is the file descriptor logind returns
// and lasts until it is closed, or the process dies. Where there is no
// system bus or no logind (BSD, a container, a system without systemd)
// nothing is held and Lock.Note says why: that never stops a flash.
package inhibit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// What is every operation libreflash holds off, in logind's words.
const What = "sleep:shutdown:idle:handle-lid-switch:handle-power-key:handle-suspend-key:handle-hibernate-key"

// Who names libreflash to logind (systemd-inhibit --list shows it).
const Who = "libreflash"

// SystemBus is the system bus's address where $DBUS_SYSTEM_BUS_ADDRESS
// does not name another.
const SystemBus = "unix:path=/run/dbus/system_bus_socket"

// timeout bounds connecting to the bus and logind's answer: a hung bus
// must not delay a flash.
const timeout = 10 * time.Second

// Lock is an inhibitor lock, or the reason there is none.
type Lock struct {
	f    *os.File
	note string
}

// Held says whether logind holds the machine's sleep, shutdown and idle
// for libreflash.
func (l *Lock) Held() bool { return l != nil && l.f != nil }

// Note says why no lock is held ("" when one is).
func (l *Lock) Note() string {
	if l == nil {
		return "no inhibitor lock taken"
	}
	return l.note
}

// Release lets the machine sleep and shut down again. It is safe to call
// more than once, and on a lock that is not held.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// Options says which bus to ask; the zero value asks the system bus.
type Options struct {
	// Address is a D-Bus address; "" is $DBUS_SYSTEM_BUS_ADDRESS, else
	// SystemBus.
	Address string
}

// Take asks logind for a "block" inhibitor lock on What, with why as the
// reason shown to the user (systemd-inhibit --list, the desktop's shutdown
// dialog). It never fails: without a bus, without logind, or when logind
// refuses, the Lock is not held and its Note says why.
func Take(ctx context.Context, o Options, why string) *Lock {
	addr := o.Address
	if addr == "" {
		addr = os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
	}
	if addr == "" {
		addr = SystemBus
	}
	if p, ok := strings.CutPrefix(addr, "unix:path="); ok {
		p, _, _ = strings.Cut(p, ",")
		if _, err := os.Stat(p); err != nil {
			return &Lock{note: "no system bus (" + p + " is missing), so no logind to keep the machine from sleeping: do not suspend or power it off while it flashes"}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return &Lock{note: fmt.Sprintf("cannot reach the system bus (%v), so no inhibitor lock: do not suspend or power off the machine while it flashes", err)}
	}
	defer conn.Close()
	var fd dbus.UnixFD
	err = conn.Object("org.freedesktop.login1", "/org/freedesktop/login1").
		CallWithContext(ctx, "org.freedesktop.login1.Manager.Inhibit", 0, What, Who, why, "block").Store(&fd)
	if err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" {
			return &Lock{note: "logind is not running, so nothing keeps the machine from sleeping: do not suspend or power it off while it flashes"}
		}
		return &Lock{note: fmt.Sprintf("logind gave no inhibitor lock (%v): do not suspend or power off the machine while it flashes", err)}
	}
	return &Lock{f: os.NewFile(uintptr(fd), "logind inhibitor")}
}
