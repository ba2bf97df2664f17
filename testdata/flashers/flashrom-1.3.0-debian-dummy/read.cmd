# read
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -r readback.bin
