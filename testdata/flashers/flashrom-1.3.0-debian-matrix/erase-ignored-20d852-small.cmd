# write (small change); only erase opcode(s) 0x20, 0xd8, 0x52 ignored (spi_ignorelist=20d852)
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_ignorelist=20d852 -w rom16s.bin
# ran: 2026-12-02 00:13 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to separate files, elapsed 17.3 s
# chip before: chip.bin = copy of rom16.bin before the run
# chip after: written (equals rom16s.bin)
