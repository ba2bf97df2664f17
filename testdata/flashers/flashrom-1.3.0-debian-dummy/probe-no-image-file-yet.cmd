# probe, no image file yet
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin
