# READ 0x03/0x0b refused -> read fails
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_blacklist=030b -r x.bin
