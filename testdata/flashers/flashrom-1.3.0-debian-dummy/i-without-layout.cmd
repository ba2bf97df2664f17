# -i without layout
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -i bios -w rom16b.bin
