# write (full change); only erase opcode(s) 0x20 ignored (spi_ignorelist=20)
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_ignorelist=20 -w rom16b.bin
# ran: 2026-12-02 00:10 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to separate files, elapsed 17.7 s
# chip before: chip.bin = copy of rom16.bin before the run
# chip after: written (equals rom16b.bin)
