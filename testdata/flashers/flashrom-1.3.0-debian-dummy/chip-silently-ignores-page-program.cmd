# chip silently ignores page program
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_ignorelist=02 -w rom16b.bin
