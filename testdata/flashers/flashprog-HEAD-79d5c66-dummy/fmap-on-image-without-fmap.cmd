# --fmap on image without fmap
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin --fmap -i COREBOOT -w rom16b.bin
