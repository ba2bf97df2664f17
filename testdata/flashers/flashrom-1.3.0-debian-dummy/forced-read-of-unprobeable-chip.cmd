# forced read of unprobeable chip
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin,spi_blacklist=9f90ab -f -c W25Q128.V -r x.bin
