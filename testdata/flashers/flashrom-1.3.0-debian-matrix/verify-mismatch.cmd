# verify mismatch
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -v rom16b.bin
# ran: 2026-12-02 00:06 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to separate files, elapsed 4.6 s
# chip before: chip.bin = copy of rom16.bin before the run
# chip after: unchanged
