# write (small change); only erase opcode 0xd8 ignored (spi_ignorelist=d8), with --progress, stdout and stderr in one file
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_ignorelist=d8 --progress -w rom16s.bin
# ran: 2026-12-02 00:01 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to one file (2>&1), elapsed 8.0 s
# chip before: chip.bin = copy of rom16.bin before the run
# chip after: changed: 3 of 4096 4-KiB blocks differ from rom16.bin (3 erased, 0 equal to rom16s.bin, 0 other)
