#!/usr/bin/env bash
# Mono's ASMX stack: `wsdl` generates the proxy from the served WSDL ($INTEROP_WSDL) into the
# scratch directory $1, mcs compiles it with the scenario, mono runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$1"
case "$INTEROP_ENDPOINT" in
  vend) namespace=VendgwInterop.Vend; main=VendScenario ;;
  xmlvend) namespace=VendgwInterop.Xmlvend; main=XmlvendScenario ;;
  *) echo "unknown endpoint $INTEROP_ENDPOINT" >&2; exit 2 ;;
esac
mkdir -p "$work"
wsdl -nologo -namespace:"$namespace" -out:"$work/Proxy.cs" "$INTEROP_WSDL" >&2
mcs -nologo -nowarn:1591,0618 -out:"$work/scenario.exe" -r:System.Web.Services -r:System.Xml \
  "$work/Proxy.cs" "$here/Steps.cs" "$here/$main.cs" >&2
exec mono "$work/scenario.exe"
