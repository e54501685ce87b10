#!/usr/bin/env bash
# Regenerates src/federated/flower/gen/ from the vendored Flower .proto files.
# Uses the pinned @bufbuild/buf and @bufbuild/protoc-gen-es from node_modules (npm ci first).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
rm -rf src/federated/flower/gen
cd src/federated/flower/proto
buf generate
echo "generated: $(cd ../gen && find . -name '*.ts' | sort | tr '\n' ' ')"
