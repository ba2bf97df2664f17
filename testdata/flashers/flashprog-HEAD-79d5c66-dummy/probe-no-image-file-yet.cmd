# probe, no image file yet
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin
