# unknown programmer
$ flashprog -p nosuchprog
