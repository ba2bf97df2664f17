# ID opcodes refused -> chip not found
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin,spi_blacklist=9f90ab -r x.bin
