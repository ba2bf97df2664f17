# unhandled programmer parameter
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin,foo=bar
