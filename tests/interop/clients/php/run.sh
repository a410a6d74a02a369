#!/usr/bin/env bash
# ext-soap's SoapClient builds its client from the WSDL at run time. $1 (scratch dir) is unused.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec php -d display_errors=stderr -d soap.wsdl_cache_enabled=0 "$here/scenario.php"
