# ambiguous chip IDs
$ flashrom -p dummy:emulate=MX25L6436
