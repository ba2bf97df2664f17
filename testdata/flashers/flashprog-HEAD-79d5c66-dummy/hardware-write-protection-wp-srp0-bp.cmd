# hardware write protection (WP# + SRP0+BP)
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin,hwwp=yes,spi_status=0x9c -w rom16b.bin
