# unknown programmer
$ flashrom -p nosuchprog
