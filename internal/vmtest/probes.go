// Package vmtest holds what the real-kernel harness (scripts/vmtest.sh) and
// its consumers share: the shape of probes.json, the live-probe results
// captured inside a QEMU guest beside each
// internal/preflight/testdata/qemu-q35-*/ fixture tree. The harness itself
// is driven by this package's test.
package vmtest

import (
	"encoding/json"
	"fmt"
	"os"
)

// Result is one live probe's outcome in the guest. Errno is the symbolic
// name ("EPERM", "EACCES", "ENOSYS") so that consumers need not know Linux
// errno numbers; Error is the C library's text for it.
type Result struct {
	OK    bool   `json:"ok"`
	Errno string `json:"errno,omitempty"`
	Error string `json:"error,omitempty"`
	Addr  string `json:"addr,omitempty"` // physical address mapped (hex), mmap probes only
	Size  int    `json:"size,omitempty"` // bytes mapped, mmap probes only
}

// Probes is probes.json: what the kernel answered, for the scenario's user.
type Probes struct {
	EUID int `json:"euid"`
	UID  int `json:"uid"`
	// IOPL is iopl(3), what flashprog calls for port I/O on x86.
	IOPL Result `json:"iopl"`
	// IOPerm is ioperm(0xcf8, 8, 1): the PCI configuration ports.
	IOPerm Result `json:"ioperm"`
	// DevmemOpen is open("/dev/mem", O_RDWR|O_SYNC), as flashprog opens it.
	DevmemOpen Result `json:"devmem_open"`
	// Mmap holds mmap(MAP_SHARED, PROT_READ|PROT_WRITE) of physical ranges
	// through /dev/mem, by name: "rcba" (the chipset's root complex register
	// block, where the ICH SPI controller lives; present when 00:1f.0's
	// config space gave its address), "bios" (the top 4 MiB below 4 GiB,
	// where the flash chip is decoded), "low" (the legacy BIOS area below
	// 1 MiB, which STRICT_DEVMEM always allows). Empty when /dev/mem did not
	// open.
	Mmap map[string]Result `json:"mmap"`
}

// ReadProbes reads a probes.json.
func ReadProbes(path string) (*Probes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Probes
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}
