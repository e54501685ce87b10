/**
 * dpkit's DP-SGD step against an external anchor: PyTorch and Opacus on the same models and the
 * same batch of real MNIST, side by side in one session.
 *
 * For dpkit's MNIST MLP and small CNN at batch 256 on wasm, this bench times the dpkit DP step
 * (`dpGradients` + `dpApplyGradients`) and tfjs's own non-private step (`optimizer.minimize`),
 * alternated; exports the batch (bench/out/mnist-batch-256.f32 and .u8) and runs
 * bench/anchors/pytorch_dpsgd.py (Debian's python3 with python3-torch, one thread) once per
 * Opacus source tree, between rounds of the tfjs timings, so both sides see the same machine state.
 * The table: dpkit DP step, tfjs step, PyTorch non-private step, Opacus hooks, Opacus' fastest mode
 * (ghost clipping in 1.5, expanded weights or hooks in 1.4, whichever is fastest here), and the
 * ratios the DP-SGD performance issue sets goals on.
 *
 * Usage: `DPSGD_ANCHOR_OPACUS=/path/opacus-1.4.0:/path/opacus-1.5.2 npm run bench -- dpsgd-anchor`
 * (each path holds the `opacus` package of an extracted source tree; not part of dpkit). Env:
 * DPSGD_ANCHOR_PYTHON (default /usr/bin/python3), DPSGD_ANCHOR_REPS (default 15),
 * DPSGD_ANCHOR_MODELS (default mlp,cnn), DPSGD_ANCHOR_ROUNDS (default 2: each Opacus tree runs
 * twice, interleaved with the tfjs rounds). Without python/torch the PyTorch columns say why they
 * are empty; the tfjs side still runs.
 *
 * For the MLP it also times, alternated with the rest, dpkit's DP step in variants (a second
 * table and `variant` rows in the JSON): the fused route with the earlier axpy sparse kernels
 * instead of the register-tiled ones (src/dpsgd/kernels/sparse-dense.ts `setSparseKernels`), the
 * fused Dense-stack route off (the per-layer rules
 * through tfjs, src/dpsgd/engine/dense-stack.ts), the Dense sparse-input path off (dense
 * products) with and without the fused route, the opt-in `noiseWorker` (the next step's noise
 * drawn on a second thread), and the same batch standardised to zero mean (a dense input: the
 * sparse path falls back), fused route on and off. DPSGD_ANCHOR_VARIANTS=0 skips them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { prepareBackend, tf } from "../src/backend/index.js";
import { dpApplyGradients, dpGradients } from "../src/dpsgd/index.js";
import { setSparseDenseInputs } from "../src/dpsgd/engine/layers/dense.js";
import { setDenseStackRoute } from "../src/dpsgd/engine/dense-stack.js";
import { setSparseKernels } from "../src/dpsgd/kernels/sparse-dense.js";
import { createNoiseWorker, type NoiseWorker } from "../src/mechanisms/index.js";
import { benchModelAndBatch } from "./dpsgd-models.js";
import { type BenchRow as Row, median } from "./report.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const reps = Number(process.env.DPSGD_ANCHOR_REPS ?? 15);
const kinds = (process.env.DPSGD_ANCHOR_MODELS ?? "mlp,cnn").split(",") as ("mlp" | "cnn")[];
const python = process.env.DPSGD_ANCHOR_PYTHON ?? "/usr/bin/python3";
const opacusSrcs = (process.env.DPSGD_ANCHOR_OPACUS ?? "").split(":").filter((s) => s.length > 0);
const batchSize = 256;

await prepareBackend({ backend: "wasm", announce: false });

interface Variant {
  name: string;
  step: () => void;
  times: number[];
}

interface Side {
  model: tf.LayersModel;
  tfStep: () => void;
  dpStep: () => void;
  tf: number[];
  dp: number[];
  variants: Variant[];
  dispose: () => void;
}

const withVariants = process.env.DPSGD_ANCHOR_VARIANTS !== "0";
let noiseWorker: NoiseWorker | undefined;
/** Runs `f` with the Dense rule's sparse-input path switched on or off. */
function sparsePath<T>(on: boolean, f: () => T): T {
  const previous = setSparseDenseInputs({ enabled: on });
  try {
    return f();
  } finally {
    setSparseDenseInputs(previous);
  }
}

/** Runs `f` with the register-tiled sparse kernels (the default) or the earlier axpy ones (src/dpsgd/kernels/sparse-dense.ts). */
function tiledKernels<T>(on: boolean, f: () => T): T {
  const previous = setSparseKernels({ tiled: on });
  try {
    return f();
  } finally {
    setSparseKernels(previous);
  }
}

/** Runs `f` with the fused Dense-stack route (src/dpsgd/engine/dense-stack.ts) switched on or off. */
function fusedRoute<T>(on: boolean, f: () => T): T {
  const previous = setDenseStackRoute({ enabled: on });
  try {
    return f();
  } finally {
    setDenseStackRoute(previous);
  }
}

let images: Float32Array | undefined;
let labels: ArrayLike<number> | undefined;
const sides = new Map<string, Side>();
for (const kind of kinds) {
  const b = benchModelAndBatch(kind, batchSize);
  images ??= b.images;
  labels ??= b.labels;
  const yOneHot = tf.oneHot(tf.cast(b.y, "int32"), b.classes);
  const optTf = tf.train.sgd(0.01);
  const optDp = tf.train.sgd(0.01);
  const dpStepOn = (x: tf.Tensor, worker?: NoiseWorker) => {
    const g = dpGradients({
      model: b.model,
      loss: "sparseCategoricalCrossentropy",
      x,
      y: b.y,
      l2NormClip: 1,
      noiseMultiplier: 1.1,
      expectedBatchSize: batchSize,
      samplingProbability: batchSize / 60000,
      noiseWorker: worker,
    });
    dpApplyGradients(optDp, g);
  };
  const variants: Variant[] = [];
  // The same batch standardised with its own mean and standard deviation (one scalar each): every
  // zero pixel becomes a negative value, so the input is dense.
  const xStd =
    kind === "mlp" && withVariants
      ? tf.tidy(() => {
          const { mean, variance } = tf.moments(b.x);
          return tf.div(tf.sub(b.x, mean), tf.sqrt(variance));
        })
      : undefined;
  if (xStd) {
    noiseWorker = createNoiseWorker();
    const nw = noiseWorker;
    variants.push(
      {
        name: "fused route, axpy kernels (before the tiled kernels of issue 19)",
        step: () => tiledKernels(false, () => dpStepOn(b.x)),
        times: [],
      },
      {
        name: "fused Dense-stack route off (per-layer rules, sparse path on)",
        step: () => fusedRoute(false, () => dpStepOn(b.x)),
        times: [],
      },
      { name: "fused route, sparse path off (dense products)", step: () => sparsePath(false, () => dpStepOn(b.x)), times: [] },
      {
        name: "fused route off, sparse path off",
        step: () => fusedRoute(false, () => sparsePath(false, () => dpStepOn(b.x))),
        times: [],
      },
      { name: "noiseWorker (2nd thread draws the noise)", step: () => dpStepOn(b.x, nw), times: [] },
      { name: "standardised input (dense), fused route", step: () => dpStepOn(xStd), times: [] },
      { name: "standardised input (dense), fused route off", step: () => fusedRoute(false, () => dpStepOn(xStd)), times: [] },
    );
  }
  sides.set(kind, {
    model: b.model,
    tfStep: () => {
      const l = optTf.minimize(() => tf.losses.softmaxCrossEntropy(yOneHot, b.model.predict(b.x) as tf.Tensor) as tf.Scalar, true);
      l?.dataSync();
      l?.dispose();
    },
    dpStep: () => dpStepOn(b.x),
    tf: [],
    dp: [],
    variants,
    dispose: () => {
      tf.dispose([b.x, b.y, yOneHot]);
      xStd?.dispose();
      b.model.dispose();
    },
  });
}

// The batch the Python side reads: float32 little-endian [256, 784] in [0, 1], uint8 labels.
const outDir = path.join(here, "out");
mkdirSync(outDir, { recursive: true });
const imagesPath = path.join(outDir, `mnist-batch-${batchSize}.f32`);
const labelsPath = path.join(outDir, `mnist-batch-${batchSize}.u8`);
writeFileSync(imagesPath, Buffer.from(images!.buffer, images!.byteOffset, images!.byteLength));
writeFileSync(labelsPath, Buffer.from(Uint8Array.from(labels!)));

function tfjsRound(n: number): void {
  for (let r = 0; r < n; r++) {
    for (const s of sides.values()) {
      let t = performance.now();
      s.tfStep();
      s.tf.push(performance.now() - t);
      t = performance.now();
      s.dpStep();
      s.dp.push(performance.now() - t);
      for (const v of s.variants) {
        t = performance.now();
        v.step();
        v.times.push(performance.now() - t);
      }
    }
  }
}

interface PyRow {
  case: string;
  value: number;
  mode?: string;
  /** The least disturbed repetition (the script reports it since the sparse-input rows). */
  min?: number;
}
interface PyResult {
  opacus?: string | null;
  opacusSrc?: string | null;
  results?: PyRow[];
  skipped?: string | { model: string; mode: string; reason: string }[];
}

const script = path.join(here, "anchors", "pytorch_dpsgd.py");
function pythonRun(src: string | undefined): PyResult {
  if (!existsSync(python)) return { skipped: `${python} not found` };
  const args = [script, "--images", imagesPath, "--labels", labelsPath, "--reps", String(reps), "--models", kinds.join(",")];
  if (src) args.push("--opacus-src", src);
  const r = spawnSync(python, args, { encoding: "utf8", timeout: 20 * 60 * 1000 });
  const lines = (r.stdout ?? "").trim().split("\n");
  for (const l of lines.slice(0, -1)) console.log(`  [python] ${l}`);
  try {
    return JSON.parse(lines[lines.length - 1]) as PyResult;
  } catch {
    return { skipped: `python exited ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-1)[0]}` };
  }
}

// Warm-up, then tfjs rounds and Python runs interleaved.
for (const s of sides.values()) {
  s.tfStep();
  s.dpStep();
  for (const v of s.variants) v.step();
}
const py: PyResult[] = [];
// Each Opacus tree runs `rounds` times, interleaved with the tfjs rounds, so that both sides
// sample the machine's load over the same stretch of time.
const rounds = Math.max(1, Number(process.env.DPSGD_ANCHOR_ROUNDS ?? 2));
const sources = opacusSrcs.length > 0 ? opacusSrcs : [undefined];
const runs = Array.from({ length: rounds }, () => sources).flat();
const perRound = Math.max(1, Math.ceil(reps / (runs.length + 1)));
for (const src of runs) {
  tfjsRound(perRound);
  py.push(pythonRun(src));
}
tfjsRound(perRound);

const rows: Row[] = [];
const table: string[][] = [];
const pyValue = (kind: string, mode: string): { value: number; from?: string } | undefined => {
  // The PyTorch step is timed in every Python run: median of those. An Opacus mode: the median
  // over the runs of each (version, mode), then the fastest of those.
  const found = py.flatMap((p) =>
    (p.results ?? [])
      .filter((r) => r.case === `${kind} b${batchSize} ${mode}`)
      .map((r) => ({ value: r.value, from: `${p.opacus ?? "?"} ${r.mode ?? mode}` })),
  );
  if (found.length === 0) return undefined;
  if (mode === "torch") return { value: median(found.map((f) => f.value)) };
  const groups = new Map<string, number[]>();
  for (const f of found) groups.set(f.from, [...(groups.get(f.from) ?? []), f.value]);
  return [...groups].map(([from, v]) => ({ value: median(v), from })).reduce((a, b) => (b.value < a.value ? b : a));
};
/** The least disturbed repetition of a Python mode over all runs (undefined where not reported). */
const pyMin = (kind: string, mode: string): number | undefined => {
  const mins = py.flatMap((p) =>
    (p.results ?? []).filter((r) => r.case === `${kind} b${batchSize} ${mode}` && r.min !== undefined).map((r) => r.min!),
  );
  return mins.length > 0 ? Math.min(...mins) : undefined;
};
const fmt = (v: number | undefined, d = 1) => (v === undefined ? "-" : v.toFixed(d));
const variantTable: string[][] = [];
for (const kind of kinds) {
  const s = sides.get(kind)!;
  const dp = median(s.dp);
  const tfs = median(s.tf);
  const torch = pyValue(kind, "torch")?.value;
  const hooks = pyValue(kind, "opacus-hooks")?.value;
  const fastest = pyValue(kind, "opacus-fastest");
  const tag = `${kind} b${batchSize} wasm`;
  rows.push({ case: `${tag} tfjs minimize`, metric: "step time", value: tfs, unit: "ms" });
  rows.push({ case: `${tag} dpkit DP step vs tfjs`, metric: "step time", value: dp, unit: "ms", baseline: tfs, ratio: dp / tfs });
  if (torch !== undefined)
    rows.push({ case: `${tag} dpkit DP step vs torch`, metric: "step time", value: dp, unit: "ms", baseline: torch, ratio: dp / torch });
  if (hooks !== undefined)
    rows.push({
      case: `${tag} dpkit DP step vs opacus hooks`,
      metric: "step time",
      value: dp,
      unit: "ms",
      baseline: hooks,
      ratio: dp / hooks,
    });
  if (fastest !== undefined)
    rows.push({
      case: `${tag} dpkit DP step vs opacus fastest (${fastest.from})`,
      metric: "step time",
      value: dp,
      unit: "ms",
      baseline: fastest.value,
      ratio: dp / fastest.value,
    });
  table.push([
    kind,
    fmt(dp),
    fmt(tfs),
    fmt(torch, 2),
    fmt(hooks),
    fastest ? `${fmt(fastest.value)} (${fastest.from})` : "-",
    (dp / tfs).toFixed(2),
    torch ? (dp / torch).toFixed(2) : "-",
    fastest ? (dp / fastest.value).toFixed(2) : "-",
  ]);
  for (const v of [{ name: "default (fused route, sparse path on)", times: s.dp }, ...s.variants]) {
    const ms = median(v.times);
    const min = Math.min(...v.times);
    const torchMin = pyMin(kind, "torch");
    const fastestMin = fastest ? pyMin(kind, "opacus-fastest") : undefined;
    variantTable.push([
      kind,
      v.name,
      fmt(ms, 2),
      fmt(min, 2),
      torch ? (ms / torch).toFixed(2) : "-",
      fastest ? (ms / fastest.value).toFixed(2) : "-",
      torchMin ? (min / torchMin).toFixed(2) : "-",
      fastestMin ? (min / fastestMin).toFixed(2) : "-",
    ]);
    const name = `${tag} dpkit DP step variant: ${v.name}`;
    if (v.times !== s.dp)
      rows.push({
        case: name,
        metric: "step time",
        value: ms,
        unit: "ms",
        ...(torch !== undefined ? { baseline: torch, ratio: ms / torch } : {}),
      });
    rows.push({ case: name, metric: "step time (min)", value: min, unit: "ms" });
  }
  s.dispose();
}
noiseWorker?.dispose();
// A mode is reported as skipped only if no Opacus version ran it (1.4 has no ghost clipping).
const ran = new Set(py.flatMap((p) => (p.results ?? []).map((r) => r.case)));
const skipped = py.flatMap((p) =>
  typeof p.skipped === "string"
    ? [p.skipped]
    : (p.skipped ?? [])
        .filter((k) => !ran.has(`${k.model} b${batchSize} ${k.mode}`))
        .map((k) => `${k.model} ${k.mode} (${p.opacus ?? "?"}): ${k.reason}`),
);
const header = [
  "model",
  "dpkit DP ms",
  "tfjs step ms",
  "torch ms",
  "opacus hooks ms",
  "opacus fastest ms",
  "DP/tfjs",
  "DP/torch",
  "DP/opacus fastest",
];
const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j].length)));
console.log(`\nbatch ${batchSize}; dpkit and tfjs on wasm (one thread), PyTorch/Opacus with torch.set_num_threads(1); medians, alternated`);
console.log(header.map((h, j) => h.padStart(widths[j])).join("  "));
for (const r of table) console.log(r.map((c, j) => c.padStart(widths[j])).join("  "));
for (const k of skipped) console.log(`skipped: ${k}`);
for (const kind of kinds) {
  const tm = pyMin(kind, "torch");
  const fm = pyMin(kind, "opacus-fastest");
  if (tm !== undefined)
    console.log(`${kind}: PyTorch step min ${tm.toFixed(2)} ms${fm !== undefined ? `, Opacus fastest min ${fm.toFixed(2)} ms` : ""}`);
}
if (variantTable.some((r) => r[1] !== "default (fused route, sparse path on)")) {
  const vh = [
    "model",
    "dpkit DP step variant",
    "median ms",
    "min ms",
    "median/torch",
    "median/opacus fastest",
    "min/torch min",
    "min/fastest min",
  ];
  const vw = vh.map((h, j) => Math.max(h.length, ...variantTable.map((r) => r[j].length)));
  console.log("\ndpkit DP step variants (same run, alternated; min = least disturbed repetition; noiseWorker uses a second thread)");
  console.log(vh.map((h, j) => (j === 1 ? h.padEnd(vw[j]) : h.padStart(vw[j]))).join("  "));
  for (const r of variantTable) console.log(r.map((c, j) => (j === 1 ? c.padEnd(vw[j]) : c.padStart(vw[j]))).join("  "));
}
console.log(JSON.stringify({ bench: "dpsgd-anchor", batchSize, reps, opacus: py.map((p) => p.opacus ?? null), results: rows, skipped }));
