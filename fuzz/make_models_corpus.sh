#!/usr/bin/env bash
# Writes the seeds of keras_json_fuzzer and keras_h5_fuzzer into fuzz/corpus/:
# the JSON models of tests/models/keras_json.h (asyncps-fuzz-models-corpus) and
# .h5 files of the tiny MLP written by h5py in Keras' layout
# (tests/models/keras_h5_fixture.py; /usr/bin/python3 with python3-h5py).
# Usage: fuzz/make_models_corpus.sh [build-dir=build]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/fuzz/asyncps-fuzz-models-corpus" "$tmp"
mkdir -p fuzz/corpus/keras_json fuzz/corpus/keras_h5
cp "$tmp"/keras_json/*.json fuzz/corpus/keras_json/
fixture=tests/models/keras_h5_fixture.py
for form in keras22 tfkeras; do
  src="$tmp/keras_h5-src/tiny-$form"
  /usr/bin/python3 "$fixture" "$src.json" "$src.npz" "fuzz/corpus/keras_h5/tiny-$form.h5"
done
/usr/bin/python3 "$fixture" "$tmp/keras_h5-src/tiny-tfkeras.json" "$tmp/keras_h5-src/tiny-tfkeras.npz" \
  fuzz/corpus/keras_h5/tiny-weights-only.h5 --weights-only
ls -l fuzz/corpus/keras_json fuzz/corpus/keras_h5
