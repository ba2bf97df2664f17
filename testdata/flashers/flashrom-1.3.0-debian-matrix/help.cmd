# --help (capabilities of this build)
$ flashrom --help
# ran: 2026-12-02 00:04 UTC on Linux 6.18.44-fc-v1045 x86_64 (Debian GNU/Linux 12 (bookworm)), as root, stdin /dev/null, stdout and stderr to separate files, elapsed 0.0 s
