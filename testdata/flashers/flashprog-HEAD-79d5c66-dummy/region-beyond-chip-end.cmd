# region beyond chip end
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin -l big.layout -i bios -w rom16b.bin
