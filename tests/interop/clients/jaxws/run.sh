#!/usr/bin/env bash
# JAX-WS RI: wsimport generates the typed port from the served WSDL ($INTEROP_WSDL) into the
# scratch directory $1, javac compiles it with the scenario, java runs it. The RI's jars are
# Debian's (jaxws, libjaxws-java); JDK 17 has neither JAX-WS nor JAXB of its own.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$1"
case "$INTEROP_ENDPOINT" in
  vend) package=vendgw.interop.vend; main=VendScenario ;;
  xmlvend) package=vendgw.interop.xmlvend; main=XmlvendScenario ;;
  *) echo "unknown endpoint $INTEROP_ENDPOINT" >&2; exit 2 ;;
esac
cp=""
for jar in jaxws-rt jaxws-api jaxb-api jaxb-runtime jaxb-core jaxb-impl javax.activation saaj-impl \
           stax-ex streambuffer gmbal glassfish-management-api metro-policy jws-api; do
  [ -f "/usr/share/java/$jar.jar" ] && cp="$cp:/usr/share/java/$jar.jar"
done
rm -rf "$work/src" "$work/classes"
mkdir -p "$work/src" "$work/classes"
wsimport -quiet -Xnocompile -s "$work/src" -d "$work/classes" -p "$package" "$INTEROP_WSDL" >&2
javac -nowarn -encoding UTF-8 -cp "${cp#:}" -d "$work/classes" \
  $(find "$work/src" -name '*.java') "$here/Steps.java" "$here/$main.java" >&2
exec java -cp "$work/classes$cp" "$main"
