#!/usr/bin/env bash
# Installs what it needs, builds libreflash and runs it on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
ensure_pkgs flashrom
go build -o bin/libreflash ./cmd/libreflash
./bin/libreflash version
# What would block an internal flash here (exit 3 when something does).
./bin/libreflash check || [ $? -eq 3 ]
