//go:build linux

// Command guestprobe runs inside the QEMU guest of scripts/vmtest.sh and
// prints, as JSON, what the kernel answered to the live probes that decide
// whether an internal flasher can work: the effective uid, iopl(3),
// ioperm on the PCI configuration ports, opening /dev/mem read-write (as
// flashprog does) and mmap of the physical ranges flashprog maps on an
// Intel chipset. The output becomes probes.json beside the fixture tree
// captured from the same guest, so that fixture tests replay what a real
// kernel did instead of what we believe it does.
//
// It only maps and never reads or writes the mapped memory: mapping is
// where the kernel's STRICT_DEVMEM and lockdown decisions are made.
//
// "guestprobe runas UID PROG ARGS..." runs PROG as UID (gid the same, no
// supplementary groups): the guest's busybox has neither setpriv --reuid
// nor chpst, and su would need a shell-quoted command line.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"libreflash/internal/vmtest"
)

func main() {
	if len(os.Args) > 3 && os.Args[1] == "runas" {
		runas(os.Args[2], os.Args[3:])
		return
	}
	p := vmtest.Probes{EUID: os.Geteuid(), UID: os.Getuid(), Mmap: map[string]vmtest.Result{}}

	p.IOPL = result(syscall.Iopl(3))
	if p.IOPL.OK {
		_ = syscall.Iopl(0)
	}
	p.IOPerm = result(syscall.Ioperm(0xcf8, 8, 1))
	if p.IOPerm.OK {
		_ = syscall.Ioperm(0xcf8, 8, 0)
	}

	f, err := os.OpenFile("/dev/mem", os.O_RDWR|syscall.O_SYNC, 0)
	p.DevmemOpen = result(err)
	if err == nil {
		defer f.Close()
		ranges := []struct {
			name string
			addr int64
			size int
		}{
			{"low", 0xf0000, 0x10000},
			{"bios", 0x100000000 - 4<<20, 4 << 20},
		}
		if rcba, ok := readRCBA(); ok {
			ranges = append(ranges, struct {
				name string
				addr int64
				size int
			}{"rcba", rcba, 0x4000})
		}
		for _, r := range ranges {
			res := result(mapRange(f, r.addr, r.size))
			res.Addr, res.Size = fmt.Sprintf("%#x", r.addr), r.size
			p.Mmap[r.name] = res
		}
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		fmt.Fprintln(os.Stderr, "guestprobe:", err)
		os.Exit(1)
	}
}

func runas(uid string, argv []string) {
	id, err := strconv.Atoi(uid)
	if err != nil {
		fmt.Fprintln(os.Stderr, "guestprobe: bad uid", uid)
		os.Exit(2)
	}
	path, err := exec.LookPath(argv[0])
	if err == nil {
		err = syscall.Setgroups(nil)
	}
	if err == nil {
		err = syscall.Setgid(id)
	}
	if err == nil {
		err = syscall.Setuid(id)
	}
	if err == nil {
		err = syscall.Exec(path, argv, os.Environ())
	}
	fmt.Fprintln(os.Stderr, "guestprobe: runas:", err)
	os.Exit(126)
}

func mapRange(f *os.File, addr int64, size int) error {
	b, err := syscall.Mmap(int(f.Fd()), addr, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	return syscall.Munmap(b)
}

// readRCBA reads the root complex base address from the LPC bridge's PCI
// configuration space (offset 0xf0, bit 0 = enabled; 16 KiB aligned).
func readRCBA() (int64, bool) {
	cfg, err := os.ReadFile("/sys/bus/pci/devices/0000:00:1f.0/config")
	if err != nil || len(cfg) < 0xf4 {
		return 0, false
	}
	v := binary.LittleEndian.Uint32(cfg[0xf0:])
	if v&1 == 0 {
		return 0, false
	}
	return int64(v &^ 0x3fff), true
}

func result(err error) vmtest.Result {
	if err == nil {
		return vmtest.Result{OK: true}
	}
	r := vmtest.Result{Error: err.Error()}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errno, ok := err.(syscall.Errno); ok {
		r.Errno = errnoName(errno)
		r.Error = errno.Error()
	}
	return r
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EPERM:
		return "EPERM"
	case syscall.EACCES:
		return "EACCES"
	case syscall.ENOSYS:
		return "ENOSYS"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.ENXIO:
		return "ENXIO"
	}
	return fmt.Sprintf("errno %d", int(e))
}
