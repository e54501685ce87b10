#!/usr/bin/env bash
# End-to-end check against a real Flower server (not part of CI): Flower's start_server on
# 127.0.0.1 with two `dpkit flower client` processes. Needs a Flower checkout in $FLOWER (e.g.
# git worktree of github.com/adap/flower at tag v1.10.0) and Debian's python3-grpcio,
# python3-protobuf, python3-numpy, python3-pycryptodome, python3-typer, python3-pathspec,
# python3-tomli. Writes logs to $OUT (default .tmp/flower-e2e).
#   FLOWER=/tmp/flower110 scripts/flower-e2e/run.sh fedavg 5
#   FLOWER=/tmp/flower110 scripts/flower-e2e/run.sh dp-client-fixed 5 -- --clip 1 --noise 0.1
set -euo pipefail
cd "$(dirname "$0")/../.."
STRATEGY=${1:-fedavg}
ROUNDS=${2:-5}
shift 2 || true
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
OUT=${OUT:-.tmp/flower-e2e}
TRAIN=${TRAIN:-6000}
CLIENT_ARGS=${CLIENT_ARGS:-}
mkdir -p "$OUT"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
PYTHONPATH="$FLOWER/src/py:scripts/flower-e2e/shims" timeout 1200 /usr/bin/python3 scripts/flower-e2e/server.py \
  --port "$PORT" --rounds "$ROUNDS" --strategy "$STRATEGY" --out "$OUT/$STRATEGY-server.json" "${EXTRA[@]}" >"$OUT/$STRATEGY-server.log" 2>&1 &
SERVER=$!
sleep 4
pids=()
for i in 0 1; do
  timeout 1200 nice -n 10 node --import tsx scripts/dpkit.ts flower client --server "127.0.0.1:$PORT" --data mnist --model mlp \
    --partition "$i/2" --train-size "$TRAIN" --test-size 2000 --json $CLIENT_ARGS >"$OUT/$STRATEGY-client$i.json" 2>"$OUT/$STRATEGY-client$i.err" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
wait "$SERVER" || rc=$?
echo "clients and server exited (rc=$rc)"
grep "dpkit-e2e\] round" "$OUT/$STRATEGY-server.log" || true
cat "$OUT/$STRATEGY-client0.json" "$OUT/$STRATEGY-client1.json"
exit $rc
