#!/usr/bin/env bash
# Installs asyncps into a temporary prefix, builds examples/embed against the
# installed package with find_package(asyncps), and runs it against a server.
set -euo pipefail
src=$1 build=$2 server=$3
tmp=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# Exactly the headers an embedding user includes, and nothing internal.
expected="asyncps/client/client.h
asyncps/client/client_options.h
asyncps/client/rule_driver.h
asyncps/core/compression.h
asyncps/core/layout.h
asyncps/core/shard_counters.h
asyncps/core/status.h
asyncps/core/update_rule.h
asyncps/transport/curve.h"
installed=$(cd "$tmp/prefix/include" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
if [[ "$installed" != "$expected" ]]; then
  echo "installed headers differ from the public API:" >&2
  diff <(echo "$expected") <(echo "$installed") >&2 || true
  exit 1
fi
cmake -S "$src/examples/embed" -B "$tmp/embed" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/embed" >/dev/null
"$server" --bind 'tcp://127.0.0.1:*' --ready-file "$tmp/ready" 2>"$tmp/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
endpoint=$(head -1 "$tmp/ready")
"$tmp/embed/embed_example" "$endpoint" 1 &
a=$!
"$tmp/embed/embed_example" "$endpoint" 2
wait "$a"
echo "embedded client built against the installed package and trained through the PS"
