# invalid region
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin -l good.layout -i nosuch -w rom16b.bin
