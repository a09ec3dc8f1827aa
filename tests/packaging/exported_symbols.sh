#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# exported_symbols.sh <lib.so> [<source dir>]: fails, naming them, if the
# shared library exports a dynamic symbol that is not shardwal's public API:
#   - only names in namespace shardwal (and their vtables, typeinfo, thunks);
#   - nothing of shardwal::internal (one exception below);
#   - nothing of an internal class (declared under src/, shards/ or recovery/
#     and not in include/shardwal);
#   - no third-party symbol or template instantiation (spdlog, fmt, tbb,
#     httplib, nlohmann, boost, CLI11, std::).
# The library build marks the API with SHARDWAL_EXPORT and hides the rest
# (docs/architecture.md); this test catches what slips through.
set -euo pipefail
lib=$1
src=${2:-$(cd "$(dirname "$0")/../.." && pwd)}

# Internal classes: declared in the internal headers, not in the public ones.
public=$(grep -rhoE '^\s*(class|struct) +(\[\[[a-z]+\]\] +)?([A-Z_]+_EXPORT +)?[A-Za-z_][A-Za-z0-9_]*' "$src/include/shardwal" |
         awk '{print $NF}' | sort -u)
internal=$(grep -rhoE '^\s*(class|struct) +(\[\[[a-z]+\]\] +)?[A-Za-z_][A-Za-z0-9_]* *(final)? *[:{]' \
             --include='*.h' "$src/src" "$src/shards" "$src/recovery" |
           sed -E 's/^\s*(class|struct) +(\[\[[a-z]+\]\] +)?//; s/ *(final)? *[:{]$//' | sort -u |
           comm -23 - <(echo "$public"))
internal_re=$(echo "$internal" | paste -sd'|' -)

symbols=$(nm -D --defined-only -C "$lib" | sed -E 's/^[0-9a-f]+ [A-Za-z] //')
bad=$(echo "$symbols" | awk -v internal_re="shardwal::(${internal_re})(::|<| |\\(|$)" '
  $0 == "_init" || $0 == "_fini" { next }
  # Result<T>::value() is inline in status.h and calls this: it is ABI.
  $0 ~ /^shardwal::internal::DieOnFailedResult\(/ { next }
  {
    name = $0
    sub(/^(typeinfo name for|typeinfo for|vtable for|VTT for|non-virtual thunk to|virtual thunk to|guard variable for) /, "", name)
    if (name !~ /^shardwal::/) { print "not in namespace shardwal: " $0; next }
    if (name ~ /^shardwal::internal::/) { print "shardwal::internal: " $0; next }
    if (internal_re != "shardwal::()(::|<| |\\(|$)" && name ~ internal_re) { print "internal class: " $0; next }
    if ($0 ~ /spdlog|fmt::|tbb::|httplib|nlohmann|boost::|CLI::/) { print "third-party: " $0; next }
  }')
n=$(echo "$symbols" | grep -c . || true)
if [ -n "$bad" ]; then
  echo "$lib exports $(echo "$bad" | grep -c .) symbols that are not shardwal's public API (of $n):"
  echo "$bad"
  exit 1
fi
echo "$lib: $n exported symbols, all shardwal public API"
