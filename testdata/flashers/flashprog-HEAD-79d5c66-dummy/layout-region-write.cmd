# layout region write
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin -l good.layout -i bios -w rom16b.bin
