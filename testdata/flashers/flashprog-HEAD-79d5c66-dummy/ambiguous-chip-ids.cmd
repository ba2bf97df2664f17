# ambiguous chip IDs
$ flashprog -p dummy:emulate=MX25L6436
