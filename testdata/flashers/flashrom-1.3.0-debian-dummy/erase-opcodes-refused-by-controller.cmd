# erase opcodes refused by controller
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_blacklist=20d852c760 -w rom16b.bin
