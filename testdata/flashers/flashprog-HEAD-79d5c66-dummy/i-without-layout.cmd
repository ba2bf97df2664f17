# -i without layout
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin -i bios -w rom16b.bin
