#!/usr/bin/env bash
# Style checks, as CI runs them: clang-format (.clang-format) over every C++
# file and flake8 (.flake8) over every Python file. Prints each offending file;
# exit 1 if any. To fix the C++ ones: clang-format -i FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in clang-format flake8; do
  command -v "$tool" >/dev/null || { echo "lint.sh: $tool is missing: scripts/install-deps.sh --tests" >&2; exit 1; }
done
rc=0
mapfile -t cpp < <(git ls-files '*.cpp' '*.h')
bad=()
for f in "${cpp[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  printf 'lint.sh: not clang-formatted: %s\n' "${bad[@]}" >&2
  rc=1
fi
mapfile -t py < <(git ls-files '*.py')
flake8 "${py[@]}" || rc=1
exit "$rc"
