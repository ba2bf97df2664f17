# slow chip write: SST25VF032B (4 MiB) at freq=4MHz
$ flashrom -p dummy:emulate=SST25VF032B,image=chip.bin,freq=4MHz -w rom4b.bin
# ran: 2026-12-02 00:18 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to separate files, elapsed 265.2 s
# chip before: chip.bin = copy of rom4.bin before the run
# chip after: written (equals rom4b.bin)
