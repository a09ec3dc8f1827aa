#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SPDX license headers on every source file the project wrote.
#   scripts/spdx.sh --check   lists files without the header, exits 1 if any
#   scripts/spdx.sh --add     prepends the header where it is missing
# Run by ctest as SpdxHeaders (--check), so a new file without one fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:---check}
ID="SPDX-License-Identifier: Apache-2.0"

# C++ sources and headers, CMake files, shell scripts, gnuplot scripts.
files() {
  git ls-files -- '*.h' '*.cc' '*.h.in' '*.cmake' '*CMakeLists.txt' '*.sh' '*.gp' '.ci/run' \
    | grep -v '^tests/data/'   # planted test inputs (e.g. the layering violation) stay as they are
}

missing=()
while IFS= read -r f; do
  [ -f "$f" ] || continue
  head -n 3 "$f" | grep -q "$ID" || missing+=("$f")
done < <(files)

case $mode in
  --check)
    if [ ${#missing[@]} -ne 0 ]; then
      printf 'missing SPDX header (%s): %s\n' "$ID" "${missing[@]}" >&2
      echo "fix: scripts/spdx.sh --add" >&2
      exit 1
    fi
    echo "spdx: $(files | wc -l) files carry $ID"
    ;;
  --add)
    for f in "${missing[@]}"; do
      case $f in
        *.h|*.cc|*.h.in) prefix='//' ;;
        *) prefix='#' ;;
      esac
      tmp=$(mktemp)
      if head -n 1 "$f" | grep -q '^#!'; then   # keep the shebang first
        { head -n 1 "$f"; echo "$prefix $ID"; tail -n +2 "$f"; } > "$tmp"
      else
        { echo "$prefix $ID"; cat "$f"; } > "$tmp"
      fi
      chmod --reference="$f" "$tmp"; mv "$tmp" "$f"
      echo "added: $f"
    done
    ;;
  *) echo "usage: $0 --check|--add" >&2; exit 2 ;;
esac
