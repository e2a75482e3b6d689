#!/usr/bin/env bash
# Installs asyncps into a temporary prefix, builds examples/embed against the
# installed package with find_package(asyncps), and runs it against a server.
set -euo pipefail
src=$1 build=$2 server=$3
tmp=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/asyncps/client.h"
if find "$tmp/prefix/include" -name '*wire*' -o -name 'shard_connection.h' | grep -q .; then
  echo "internal headers were installed" >&2
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
