# verify OK
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin -v rom16.bin
