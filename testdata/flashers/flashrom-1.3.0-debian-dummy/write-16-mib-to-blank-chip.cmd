# write 16 MiB to blank chip
$ flashrom -p dummy:emulate=W25Q128FV,image=chip.bin -w rom16.bin
