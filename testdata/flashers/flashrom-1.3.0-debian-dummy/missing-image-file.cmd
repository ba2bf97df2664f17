# missing image file
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -w nonexist.bin
