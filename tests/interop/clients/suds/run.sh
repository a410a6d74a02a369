#!/usr/bin/env bash
# suds builds its client from the WSDL at run time: nothing to generate ahead. $1 is the scratch
# directory (unused); INTEROP_PYTHON is the interpreter with suds-community installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "${INTEROP_PYTHON:-python3}" "$here/scenario.py"
