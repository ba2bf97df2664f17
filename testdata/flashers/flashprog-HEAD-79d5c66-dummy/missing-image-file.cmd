# missing image file
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin -w nonexist.bin
