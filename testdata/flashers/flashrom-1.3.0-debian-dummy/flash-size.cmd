# --flash-size
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin --flash-size
