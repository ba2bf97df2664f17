# write identical image
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin -w rom16.bin
