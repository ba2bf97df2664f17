# read; ID opcodes refused, chip not found (spi_blacklist=9f90ab), stdout and stderr in one file
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_blacklist=9f90ab -r readback.bin
# ran: 2026-12-02 00:19 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to one file (2>&1), elapsed 0.4 s
# chip before: chip.bin = copy of rom16.bin before the run
# chip after: unchanged
