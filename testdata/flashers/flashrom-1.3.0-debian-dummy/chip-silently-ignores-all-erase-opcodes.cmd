# chip silently ignores all erase opcodes
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_ignorelist=20d852c760 -w rom16b.bin
