# write (small change); only erase opcode 0x20 ignored (spi_ignorelist=20), stdout and stderr in one file
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin,spi_ignorelist=20 -w rom16s.bin
# ran: 2026-12-01 23:56 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to one file (2>&1), elapsed 6.9 s
# chip before: chip.bin = copy of rom16.bin before the run
# chip after: unchanged
