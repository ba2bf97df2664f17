// Command libreflash installs Libreboot internally with flashprog (or
// flashrom): it checks the machine, validates the image, keeps a verified
// backup, writes with live progress, verifies, rolls back on failure and
// raises again the protections it lowered. See README.md and docs/design.md.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
