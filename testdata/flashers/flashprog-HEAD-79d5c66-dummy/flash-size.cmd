# --flash-size
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin --flash-size
