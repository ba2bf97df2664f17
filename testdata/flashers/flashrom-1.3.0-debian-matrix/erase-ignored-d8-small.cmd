# write (small change); only erase opcode(s) 0xd8 ignored (spi_ignorelist=d8)
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_ignorelist=d8 -w rom16s.bin
# ran: 2026-12-02 00:11 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to separate files, elapsed 8.5 s
# chip before: chip.bin = copy of rom16.bin before the run
# chip after: written (equals rom16s.bin)
