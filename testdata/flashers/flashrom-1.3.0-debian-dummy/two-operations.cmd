# two operations
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -r x.bin -w y.bin
