# region beyond chip end
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -l big.layout -i bios -w rom16b.bin
