# page program 0x02 refused by controller
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_blacklist=02 -w rom16b.bin
