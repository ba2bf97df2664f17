# image size mismatch
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -w rom8.bin
