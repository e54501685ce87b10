#!/usr/bin/python3
"""External anchor for dpkit's DP-SGD step: PyTorch and Opacus on the same models and batch.

Times, on ONE CPU thread (torch.set_num_threads(1)), for dpkit's MNIST MLP (784-128 tanh-10) and
small CNN (avgpool 2, conv 16 5x5 tanh, maxpool 2, conv 32 3x3 tanh, dense 10), on a batch of real
MNIST images exported by bench/dpsgd-anchor.bench.ts:

- ``torch``: PyTorch's non-private step (forward, backward, SGD step);
- ``opacus-hooks``: Opacus' DP step with ``GradSampleModule`` in hooks mode + ``DPOptimizer``
  (per-sample gradients materialised, clipped, summed, Gaussian noise, SGD step);
- ``opacus-ew``: the same with expanded weights (``grad_sample_mode="ew"``, Opacus 1.4);
- ``opacus-ghost``: Opacus 1.5's fast gradient clipping with ghost clipping
  (``GradSampleModuleFastGradientClipping`` + ``DPOptimizerFastGradientClipping``, two backward
  passes, norms of Linear layers without per-sample gradients).

Each mode that runs is timed with the others alternately (median of ``--reps``); a mode that
cannot run with this torch/Opacus (e.g. an API the version lacks) is reported as skipped with the
reason. Usage (Debian's python3 with python3-torch 1.13):

    nice -n 10 /usr/bin/python3 bench/anchors/pytorch_dpsgd.py \
        --images bench/out/mnist-batch-256.f32 --labels bench/out/mnist-batch-256.u8 \
        --opacus-src /work/runs/opacus-src/v1.4.0 [--reps 15] [--models mlp,cnn]

``--opacus-src DIR`` is a directory holding the ``opacus`` package (an extracted source tree; it is
not vendored into dpkit). Two small import shims are installed only where the module is missing
and only for Opacus' import to succeed: ``opt_einsum.contract`` -> ``torch.einsum`` (Opacus' conv
grad sampler imports it) and ``torch.func`` -> ``functorch`` (torch 1.13 ships it as functorch).
Without torch the script prints why and exits 0 with ``{"skipped": ...}``; without Opacus it times
the PyTorch step only. The last line of the output is one JSON object.
"""
import argparse
import json
import os
import statistics
import sys
import time
import types
import warnings


def skip(reason):
    print(f"skipped: {reason}")
    print(json.dumps({"bench": "pytorch-dpsgd", "skipped": reason}))
    sys.exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", required=True, help="float32 little-endian, N x 784, values in [0, 1]")
    ap.add_argument("--labels", required=True, help="uint8, N labels")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--modes", default="torch,opacus-hooks,opacus-ew,opacus-ghost")
    ap.add_argument("--opacus-src", default=None, help="directory containing the opacus package")
    args = ap.parse_args()

    try:
        import numpy as np
        import torch
        import torch.nn as nn
    except Exception as e:  # noqa: BLE001 - report any import failure as a skip
        skip(f"torch/numpy not importable with {sys.executable}: {e}")

    warnings.filterwarnings("ignore", message="Using a non-full backward hook")
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)

    opacus = None
    opacus_error = None
    if args.opacus_src:
        if not os.path.isdir(os.path.join(args.opacus_src, "opacus")):
            opacus_error = f"no opacus package under {args.opacus_src}"
        else:
            sys.path.insert(0, args.opacus_src)
            try:
                import opt_einsum  # noqa: F401
            except ImportError:
                shim = types.ModuleType("opt_einsum")
                shim.__path__ = []  # a package, so that `from opt_einsum.contract import contract` resolves
                sub = types.ModuleType("opt_einsum.contract")
                shim.contract = sub.contract = torch.einsum
                sys.modules["opt_einsum"] = shim
                sys.modules["opt_einsum.contract"] = sub
            try:
                import torch.func  # noqa: F401
            except ImportError:
                try:
                    import functorch

                    shim = types.ModuleType("torch.func")
                    shim.grad = functorch.grad
                    shim.vmap = functorch.vmap
                    shim.functional_call = getattr(functorch, "functional_call", None) or getattr(
                        torch.nn.utils.stateless, "functional_call", None
                    )
                    sys.modules["torch.func"] = shim
                    torch.func = shim
                except ImportError:
                    pass
            try:
                import opacus as _opacus

                opacus = _opacus
            except Exception as e:  # noqa: BLE001
                opacus_error = f"opacus import failed: {type(e).__name__}: {e}"
    else:
        opacus_error = "no --opacus-src given"

    n = args.batch
    images = np.fromfile(args.images, dtype="<f4")
    labels = np.fromfile(args.labels, dtype=np.uint8)
    if images.size < n * 784 or labels.size < n:
        skip(f"batch files hold fewer than {n} examples")
    x_flat = torch.from_numpy(images[: n * 784].reshape(n, 784).copy())
    y = torch.from_numpy(labels[:n].astype(np.int64))

    def make_model(kind):
        if kind == "mlp":
            return nn.Sequential(nn.Linear(784, 128), nn.Tanh(), nn.Linear(128, 10))
        return nn.Sequential(
            nn.AvgPool2d(2, 2),
            nn.Conv2d(1, 16, 5),
            nn.Tanh(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 32, 3),
            nn.Tanh(),
            nn.Flatten(),
            nn.Linear(32 * 3 * 3, 10),
        )

    def batch_for(kind):
        return x_flat if kind == "mlp" else x_flat.reshape(n, 1, 28, 28)

    ce = nn.CrossEntropyLoss()
    ce_none = nn.CrossEntropyLoss(reduction="none")

    def torch_step(kind):
        model = make_model(kind)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x = batch_for(kind)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = ce(model(x), y)
            loss.backward()
            opt.step()

        return step

    def opacus_step(kind, mode):
        if opacus is None:
            raise RuntimeError(opacus_error)
        from opacus.optimizers import DPOptimizer

        model = make_model(kind)
        x = batch_for(kind)
        if mode == "opacus-ghost":
            try:
                from opacus.grad_sample import GradSampleModuleFastGradientClipping
                from opacus.optimizers import DPOptimizerFastGradientClipping
                from opacus.utils.fast_gradient_clipping_utils import double_backward
            except ImportError as e:
                raise RuntimeError(f"this Opacus has no fast gradient clipping ({e})") from e
            gsm = GradSampleModuleFastGradientClipping(model, max_grad_norm=1.0, use_ghost_clipping=True)
            opt = DPOptimizerFastGradientClipping(
                torch.optim.SGD(gsm.parameters(), lr=0.01), noise_multiplier=1.1, max_grad_norm=1.0, expected_batch_size=n
            )

            def step():
                opt.zero_grad()
                double_backward(gsm, opt, ce_none(gsm(x), y))
                opt.step()

            return step
        if mode == "opacus-ew":
            from opacus.grad_sample.utils import wrap_model

            try:
                gsm = wrap_model(model, grad_sample_mode="ew", batch_first=True, loss_reduction="mean")
            except Exception as e:  # noqa: BLE001
                raise RuntimeError(f"expanded weights unavailable: {type(e).__name__}: {e}") from e
        else:
            from opacus import GradSampleModule

            gsm = GradSampleModule(model)
        opt = DPOptimizer(torch.optim.SGD(gsm.parameters(), lr=0.01), noise_multiplier=1.1, max_grad_norm=1.0, expected_batch_size=n)

        def step():
            opt.zero_grad()
            loss = ce(gsm(x), y)
            loss.backward()
            opt.step()

        return step

    results = []
    skipped = []
    table = []
    modes = args.modes.split(",")
    for kind in args.models.split(","):
        steps = {}
        for mode in modes:
            try:
                f = torch_step(kind) if mode == "torch" else opacus_step(kind, mode)
                f()  # warm-up, and a check that the mode runs
                f()
                steps[mode] = f
            except Exception as e:  # noqa: BLE001 - a mode this version cannot run is skipped, with why
                reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                skipped.append({"model": kind, "mode": mode, "reason": reason})
                print(f"{kind} {mode}: skipped ({reason})")
        times = {m: [] for m in steps}
        for _ in range(args.reps):
            for m, f in steps.items():
                t = time.perf_counter()
                f()
                times[m].append((time.perf_counter() - t) * 1000)
        base = statistics.median(times["torch"]) if "torch" in times else None
        for m in steps:
            med = statistics.median(times[m])
            row = {"case": f"{kind} b{n} {m}", "metric": "step time", "value": med, "unit": "ms", "min": min(times[m])}
            if base is not None and m != "torch":
                row["baseline"] = base
                row["ratio"] = med / base
            results.append(row)
            table.append((kind, m, f"{med:.2f}", f"{med / base:.2f}" if base else "-"))
        dp_modes = [m for m in steps if m != "torch"]
        if dp_modes:
            fastest = min(dp_modes, key=lambda m: statistics.median(times[m]))
            results.append(
                {
                    "case": f"{kind} b{n} opacus-fastest",
                    "metric": "step time",
                    "value": statistics.median(times[fastest]),
                    "unit": "ms",
                    "mode": fastest,
                    "min": min(times[fastest]),
                }
            )

    print(f"torch {torch.__version__}, opacus {getattr(opacus, '__version__', None) or opacus_error}, threads {torch.get_num_threads()}")
    print(f"{'model':>5}  {'mode':>13}  {'step ms':>8}  {'/torch':>6}")
    for r in table:
        print(f"{r[0]:>5}  {r[1]:>13}  {r[2]:>8}  {r[3]:>6}")
    print(
        json.dumps(
            {
                "bench": "pytorch-dpsgd",
                "torch": torch.__version__,
                "opacus": getattr(opacus, "__version__", None),
                "opacusSrc": args.opacus_src,
                "threads": torch.get_num_threads(),
                "batch": n,
                "reps": args.reps,
                "results": results,
                "skipped": skipped,
            }
        )
    )


if __name__ == "__main__":
    main()
