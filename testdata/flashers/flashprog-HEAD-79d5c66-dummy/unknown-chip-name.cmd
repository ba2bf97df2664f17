# unknown chip name
$ flashprog -p dummy:emulate=W25Q128FV,image=chip.bin -c NOSUCHCHIP
