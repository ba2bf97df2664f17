# write identical image
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -w rom16.bin
