# --ifd on image without descriptor
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin --ifd -i bios -w rom16b.bin
