# unhandled programmer parameter
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,foo=bar
