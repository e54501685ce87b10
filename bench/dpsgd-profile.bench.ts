/**
 * Where a DP-SGD step's time goes, per model family, on one backend (wasm by default).
 *
 * For the MNIST MLP (784-128-10), the small CNN (`mnistModel("cnn")`), the Embedding text model
 * and the LSTM text model (bench/dpsgd-models.ts), at batch 256:
 * - the total DP step (`dpGradients` + `dpApplyGradients`, the public route) and tfjs's own
 *   non-private steps (`optimizer.minimize` and `model.fit` on the batch, one epoch), alternated, median of the repetitions;
 * - the same DP step split into phases by the engine's phase hook (src/dpsgd/engine/phase-hook.ts):
 *   forward, backward, per-example norms, clip factors (JS), clipped sum, download + accumulation
 *   of the sum into JS arrays, noise (secure sampler, JS) + upload, apply (optimizer);
 *   per-phase wall time is the median (and the minimum: on a loaded machine the least disturbed
 *   repetition) over the unprofiled repetitions;
 * - one extra step under `tf.profile`: kernel dispatches and the time inside kernels per phase
 *   (the rest of the wall time is outside kernels: JS, tfjs bookkeeping, allocation), tensors and
 *   bytes allocated (every backend allocation), bytes moved between JS and wasm (`readSync`:
 *   wasm → JS; `move` with values: JS → wasm). Profiling adds a timer per kernel, so kernel times
 *   are read as fractions of the profiled step's wall time.
 *
 * Usage: `npm run bench -- dpsgd-profile` (env DPSGD_PROFILE_REPS, default 7; DPSGD_PROFILE_BATCH, default 256
 * (another batch size: two sizes give each phase's fixed cost per call, which caps the worker split's speed-up);
 * DPSGD_PROFILE_MODELS=mlp,cnn,embedding,lstm or any kind of bench/dpsgd-models.ts; DPSGD_PROFILE_BACKEND=wasm|cpu; DPSGD_PROFILE_SPARSE=0
 * switches the Dense rule's sparse-input path off, DPSGD_PROFILE_FUSED=0 the fused Dense-stack
 * route (src/dpsgd/engine/dense-stack.ts: the MLP's whole clipping step on typed arrays, which
 * marks the same phases), DPSGD_PROFILE_POOLED=0 the Embedding → GlobalAveragePooling1D route
 * (src/dpsgd/engine/layers/embedding.ts `linearMeanOverSteps`), to compare). DPSGD_PROFILE_KERNELS=both times the fused route's phases
 * with the register-tiled sparse kernels and with the earlier axpy kernels (src/dpsgd/kernels/sparse-dense.ts
 * `setSparseKernels`), alternating step by step in the same run, and prints both columns;
 * DPSGD_PROFILE_KERNELS=axpy runs the earlier kernels only. DPSGD_PROFILE_FINE=1 also prints the
 * fused step's sub-phases (copy in, CSR, each layer's product and activation, loss, CSC, clipped sums,
 * copies out; median wall time each, per kernel variant). Prints one table per model and a summary;
 * the last line is the JSON of all rows.
 */
import { prepareBackend, tf } from "../src/backend/index.js";
import { dpApplyGradients, dpGradients } from "../src/dpsgd/index.js";
import { computeClippedSum, privatizeParts } from "../src/dpsgd/gradients.js";
import { type EnginePhase, setEnginePhaseHook } from "../src/dpsgd/engine/phase-hook.js";
import { setSparseDenseInputs } from "../src/dpsgd/engine/layers/dense.js";
import { setDenseStackRoute } from "../src/dpsgd/engine/dense-stack.js";
import { setEmbeddingPooledRoute } from "../src/dpsgd/engine/layers/embedding.js";
import { setDenseStackSubphaseHook } from "../src/dpsgd/kernels/dense-stack.js";
import { setSparseKernels } from "../src/dpsgd/kernels/sparse-dense.js";
import { type BenchModelKind, benchModelAndBatch } from "./dpsgd-models.js";
import { type BenchRow as Row, median } from "./report.js";

const reps = Number(process.env.DPSGD_PROFILE_REPS ?? 7);
const models = (process.env.DPSGD_PROFILE_MODELS ?? "mlp,cnn,embedding,lstm").split(",") as BenchModelKind[];
const backend = (process.env.DPSGD_PROFILE_BACKEND ?? "wasm") as "wasm" | "cpu";
/** DPSGD_PROFILE_BATCH (default 256): e.g. 128 and 256 give each phase's per-call fixed cost. */
const batchSize = Number(process.env.DPSGD_PROFILE_BATCH ?? 256);
if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 4096) {
  throw new Error(`DPSGD_PROFILE_BATCH must be an integer in [1, 4096]. Found ${JSON.stringify(process.env.DPSGD_PROFILE_BATCH)}.`);
}
if (process.env.DPSGD_PROFILE_SPARSE === "0") setSparseDenseInputs({ enabled: false });
if (process.env.DPSGD_PROFILE_FUSED === "0") setDenseStackRoute({ enabled: false });
if (process.env.DPSGD_PROFILE_POOLED === "0") setEmbeddingPooledRoute({ enabled: false });
const kernelMode = process.env.DPSGD_PROFILE_KERNELS ?? "tiled";
if (!["tiled", "axpy", "both"].includes(kernelMode)) throw new Error(`DPSGD_PROFILE_KERNELS=${kernelMode}: tiled, axpy or both`);
if (kernelMode === "axpy") setSparseKernels({ tiled: false });
const fine = process.env.DPSGD_PROFILE_FINE === "1";
const l2NormClip = 1;
const noiseMultiplier = 1.1;

const PHASES = ["forward", "backward", "norms", "clipFactors", "clippedSum", "download", "noise+upload", "apply"] as const;
type Phase = (typeof PHASES)[number];

/** Counters of traffic between JS and the backend, and of allocations, by patching the backend instance. */
const traffic = { down: 0, up: 0, allocs: 0, allocBytes: 0 };
function instrumentBackend(): void {
  const b = tf.backend() as unknown as {
    readSync(dataId: object, start?: number, end?: number): ArrayLike<number> & { byteLength?: number };
    move(dataId: object, values: ArrayBufferView | null, shape: number[], dtype: string, refCount: number): void;
  };
  const readSync = b.readSync.bind(b);
  const move = b.move.bind(b);
  b.readSync = (dataId, start, end) => {
    const out = readSync(dataId, start, end);
    traffic.down += out.byteLength ?? 0;
    return out;
  };
  b.move = (dataId, values, shape, dtype, refCount) => {
    const bytes = shape.reduce((p, s) => p * s, 1) * (dtype === "complex64" ? 8 : 4);
    traffic.allocs++;
    traffic.allocBytes += bytes;
    if (values != null) traffic.up += values.byteLength;
    move(dataId, values, shape, dtype, refCount);
  };
}

interface Mark {
  t: number;
  kernels: number;
  down: number;
  up: number;
  allocs: number;
  allocBytes: number;
}

function kernelCount(): number {
  const state = (tf.engine() as unknown as { state: { activeProfile?: { kernels: unknown[] }; profiling: boolean } }).state;
  return state.profiling && state.activeProfile ? state.activeProfile.kernels.length : 0;
}

function mark(): Mark {
  return { t: performance.now(), kernels: kernelCount(), ...traffic };
}

/** One DP step, the same calls as dpGradients + dpApplyGradients, with a mark at the end of each phase. */
/** The fused step's sub-phases of the last phased step: [name, end time], phase ends included. */
let subMarks: [string, number][] = [];

function phasedDpStep(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, optimizer: tf.Optimizer): Map<Phase | "start", Mark> {
  const marks = new Map<Phase | "start", Mark>();
  subMarks = [];
  const previous = setEnginePhaseHook((p: EnginePhase) => {
    marks.set(p, mark());
    subMarks.push([`(end of ${p})`, performance.now()]);
  });
  const previousSub = fine ? setDenseStackSubphaseHook((name) => subMarks.push([name, performance.now()])) : null;
  try {
    marks.set("start", mark());
    const parts = computeClippedSum({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip });
    marks.set("download", mark());
    const grads = privatizeParts(parts, { l2NormClip, noiseMultiplier, expectedBatchSize: batchSize });
    marks.set("noise+upload", mark());
    optimizer.applyGradients(grads);
    tf.dispose(grads);
    marks.set("apply", mark());
  } finally {
    setEnginePhaseHook(previous);
    if (fine) setDenseStackSubphaseHook(previousSub);
  }
  return marks;
}

/** Durations of the last phased step's sub-phases, by name (from the previous mark, or from `start`). */
function subDurations(start: number): Map<string, number> {
  const out = new Map<string, number>();
  let prev = start;
  for (const [name, t] of subMarks) {
    out.set(name, (out.get(name) ?? 0) + (t - prev));
    prev = t;
  }
  return out;
}

interface PhaseStats {
  wall: number;
  wallMin: number;
  kernels: number;
  kernelMs: number;
  down: number;
  up: number;
  allocs: number;
  allocBytes: number;
}

const rows: Row[] = [];
const summary: string[][] = [];

await prepareBackend({ backend, announce: false });
instrumentBackend();

for (const kind of models) {
  const { model, x, y, classes } = benchModelAndBatch(kind, batchSize);
  const yOneHot = tf.oneHot(tf.cast(y, "int32"), classes);
  const optTf = tf.train.sgd(0.01);
  const optDp = tf.train.sgd(0.01);
  const optPh = tf.train.sgd(0.01);
  model.compile({ optimizer: tf.train.sgd(0.01), loss: "sparseCategoricalCrossentropy" });
  const fitStep = async () => {
    await model.fit(x, y, { batchSize, epochs: 1, verbose: 0, shuffle: false });
  };
  const tfStep = () => {
    const l = optTf.minimize(() => tf.losses.softmaxCrossEntropy(yOneHot, model.predict(x) as tf.Tensor) as tf.Scalar, true);
    l?.dataSync();
    l?.dispose();
  };
  const dpStep = () => {
    const g = dpGradients({
      model,
      loss: "sparseCategoricalCrossentropy",
      x,
      y,
      l2NormClip,
      noiseMultiplier,
      expectedBatchSize: batchSize,
      samplingProbability: batchSize / 60000,
    });
    dpApplyGradients(optDp, g);
  };
  // Warm-up (kernels compiled, shapes cached), then alternate.
  tfStep();
  await fitStep();
  dpStep();
  phasedDpStep(model, x, y, optPh);
  const tTf: number[] = [];
  const tFit: number[] = [];
  const tDp: number[] = [];
  const phaseWall: Record<Phase, number[]> = Object.fromEntries(PHASES.map((p) => [p, []])) as unknown as Record<Phase, number[]>;
  // DPSGD_PROFILE_KERNELS=both: the same phased step with the axpy kernels, alternated with the tiled ones.
  const phaseWallAxpy: Record<Phase, number[]> = Object.fromEntries(PHASES.map((p) => [p, []])) as unknown as Record<Phase, number[]>;
  const subWall = new Map<string, number[]>();
  const subWallAxpy = new Map<string, number[]>();
  const collect = (m: Map<Phase | "start", Mark>, walls: Record<Phase, number[]>, subs: Map<string, number[]>) => {
    let prev = m.get("start")!;
    for (const p of PHASES) {
      const cur = m.get(p)!;
      walls[p].push(cur.t - prev.t);
      prev = cur;
    }
    if (fine) for (const [name, d] of subDurations(m.get("start")!.t)) subs.set(name, [...(subs.get(name) ?? []), d]);
  };
  const timeIt = (f: () => void) => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  for (let r = 0; r < reps; r++) {
    tTf.push(timeIt(tfStep));
    const tf0 = performance.now();
    await fitStep();
    tFit.push(performance.now() - tf0);
    tDp.push(timeIt(dpStep));
    collect(phasedDpStep(model, x, y, optPh), phaseWall, subWall);
    if (kernelMode === "both") {
      const previous = setSparseKernels({ tiled: false });
      try {
        collect(phasedDpStep(model, x, y, optPh), phaseWallAxpy, subWallAxpy);
      } finally {
        setSparseKernels(previous);
      }
    }
  }
  // One profiled step each: dispatch counts and kernel time per phase.
  let marks = new Map<Phase | "start", Mark>();
  // (tf.profile returns the engine's one profile object, reset by the next call: copy what is read.)
  const dpInfo = await tf.profile(() => {
    marks = phasedDpStep(model, x, y, optPh);
  });
  // Only registered kernels count: tf.customGrad's wrapper ("forward") is recorded too, around
  // the kernels it runs, and would count them twice.
  const registered = (k: { name: string }) => tf.getKernel(k.name, backend) !== undefined;
  const dpAll = [...dpInfo.kernels];
  const dpProfile = { kernels: dpAll.filter(registered), newTensors: dpInfo.newTensors };
  const tStart = performance.now();
  const tfInfo = await tf.profile(tfStep);
  const tfProfiledWall = performance.now() - tStart;
  const tfProfile = { kernels: tfInfo.kernels.filter(registered) };
  const kernelMs = (k: { kernelTimeMs: unknown }) => (typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0);
  const stats: Record<Phase, PhaseStats> = {} as Record<Phase, PhaseStats>;
  let prev = marks.get("start")!;
  for (const p of PHASES) {
    const cur = marks.get(p)!;
    const ks = dpAll.slice(prev.kernels, cur.kernels).filter(registered);
    stats[p] = {
      wall: median(phaseWall[p]),
      wallMin: Math.min(...phaseWall[p]),
      kernels: ks.length,
      kernelMs: ks.reduce((s, k) => s + kernelMs(k), 0),
      down: cur.down - prev.down,
      up: cur.up - prev.up,
      allocs: cur.allocs - prev.allocs,
      allocBytes: cur.allocBytes - prev.allocBytes,
    };
    prev = cur;
  }
  const profiledWall = marks.get("apply")!.t - marks.get("start")!.t;
  const totalKernels = dpProfile.kernels.length;
  const totalKernelMs = dpProfile.kernels.reduce((s, k) => s + kernelMs(k), 0);
  const tfKernelMs = tfProfile.kernels.reduce((s, k) => s + kernelMs(k), 0);
  const mTf = median(tTf);
  const mDp = median(tDp);
  const mFit = median(tFit);
  const sumPhases = PHASES.reduce((s, p) => s + stats[p].wall, 0);

  const kb = (b: number) => (b / 1024).toFixed(1);
  const header = ["phase", "wall ms", "min ms", "share", "kernels", "kernel ms*", "JS←wasm KiB", "JS→wasm KiB", "allocs", "alloc KiB"];
  const table = PHASES.map((p) => [
    p,
    stats[p].wall.toFixed(2),
    stats[p].wallMin.toFixed(2),
    `${((100 * stats[p].wall) / sumPhases).toFixed(0)}%`,
    String(stats[p].kernels),
    stats[p].kernelMs.toFixed(2),
    kb(stats[p].down),
    kb(stats[p].up),
    String(stats[p].allocs),
    kb(stats[p].allocBytes),
  ]);
  table.push([
    "total",
    sumPhases.toFixed(2),
    PHASES.reduce((s, p) => s + stats[p].wallMin, 0).toFixed(2),
    "100%",
    String(totalKernels),
    totalKernelMs.toFixed(2),
    kb(PHASES.reduce((s, p) => s + stats[p].down, 0)),
    kb(PHASES.reduce((s, p) => s + stats[p].up, 0)),
    String(PHASES.reduce((s, p) => s + stats[p].allocs, 0)),
    kb(PHASES.reduce((s, p) => s + stats[p].allocBytes, 0)),
  ]);
  const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j].length)));
  console.log(
    `\n${kind} b${batchSize} ${backend}: DP step ${mDp.toFixed(1)} ms (public route), tfjs minimize ${mTf.toFixed(1)} ms, tfjs fit ${mFit.toFixed(1)} ms`,
  );
  console.log(header.map((h, j) => h.padStart(widths[j])).join("  "));
  for (const r of table) console.log(r.map((c, j) => c.padStart(widths[j])).join("  "));
  console.log(
    `* one profiled step: wall ${profiledWall.toFixed(1)} ms, inside kernels ${totalKernelMs.toFixed(1)} ms ` +
      `(${((100 * totalKernelMs) / profiledWall).toFixed(0)}%); tfjs minimize profiled: ${tfProfile.kernels.length} kernels, ` +
      `${tfKernelMs.toFixed(1)} ms in kernels of ${tfProfiledWall.toFixed(1)} ms`,
  );

  const tag = `${kind} b${batchSize} ${backend}`;
  if (kernelMode === "both") {
    const sumOf = (w: Record<Phase, number[]>) => PHASES.reduce((t, p) => t + median(w[p]), 0);
    console.log(`\n${kind}: phases with the tiled sparse kernels vs the axpy kernels (alternated, median ms)`);
    console.log(["phase", "tiled", "axpy", "tiled-axpy"].map((h) => h.padStart(14)).join(""));
    for (const p of PHASES) {
      const a = median(phaseWall[p]);
      const b = median(phaseWallAxpy[p]);
      console.log([p, a.toFixed(3), b.toFixed(3), (a - b).toFixed(3)].map((c) => c.padStart(14)).join(""));
      rows.push({ case: `${tag} phase ${p} tiled vs axpy kernels`, metric: "wall time", value: a, unit: "ms", baseline: b, ratio: a / b });
    }
    const a = sumOf(phaseWall);
    const b = sumOf(phaseWallAxpy);
    console.log(["total", a.toFixed(3), b.toFixed(3), (a - b).toFixed(3)].map((c) => c.padStart(14)).join(""));
    rows.push({ case: `${tag} phases total tiled vs axpy kernels`, metric: "wall time", value: a, unit: "ms", baseline: b, ratio: a / b });
  }
  if (fine && subWall.size > 0) {
    console.log(`\n${kind}: sub-phases of the step (median ms; "(end of x)": the rest of phase x)`);
    const both = kernelMode === "both";
    console.log(
      [["sub-phase", 28], [both ? "tiled" : "ms", 10], ...(both ? [["axpy", 10]] : [])]
        .map(([h, w]) => String(h).padStart(Number(w)))
        .join(""),
    );
    for (const [name, v] of subWall) {
      const cells = [name.padStart(28), median(v).toFixed(3).padStart(10)];
      if (both) cells.push((subWallAxpy.has(name) ? median(subWallAxpy.get(name)!).toFixed(3) : "-").padStart(10));
      console.log(cells.join(""));
      rows.push({ case: `${tag} sub-phase ${name}`, metric: "wall time", value: median(v), unit: "ms" });
    }
  }
  rows.push({ case: `${tag} tfjs minimize`, metric: "step time", value: mTf, unit: "ms" });
  rows.push({ case: `${tag} DP step vs minimize`, metric: "step time", value: mDp, unit: "ms", baseline: mTf, ratio: mDp / mTf });
  rows.push({ case: `${tag} tfjs fit`, metric: "step time", value: mFit, unit: "ms" });
  rows.push({ case: `${tag} DP step vs fit`, metric: "step time", value: mDp, unit: "ms", baseline: mFit, ratio: mDp / mFit });
  for (const p of PHASES) {
    rows.push({ case: `${tag} phase ${p}`, metric: "wall time", value: stats[p].wall, unit: "ms" });
    rows.push({ case: `${tag} phase ${p}`, metric: "wall time (min)", value: stats[p].wallMin, unit: "ms" });
    rows.push({ case: `${tag} phase ${p}`, metric: "kernel dispatches", value: stats[p].kernels, unit: "count" });
    rows.push({ case: `${tag} phase ${p}`, metric: "kernel time (profiled)", value: stats[p].kernelMs, unit: "ms" });
    rows.push({ case: `${tag} phase ${p}`, metric: "bytes wasm to JS", value: stats[p].down, unit: "B" });
    rows.push({ case: `${tag} phase ${p}`, metric: "bytes JS to wasm", value: stats[p].up, unit: "B" });
    rows.push({ case: `${tag} phase ${p}`, metric: "allocations", value: stats[p].allocs, unit: "count" });
  }
  rows.push({
    case: `${tag} DP step profiled`,
    metric: "kernel time share",
    value: totalKernelMs / profiledWall,
    unit: "fraction",
    baseline: profiledWall,
  });
  rows.push({ case: `${tag} DP step`, metric: "kernel dispatches", value: totalKernels, unit: "count" });
  rows.push({ case: `${tag} tfjs minimize`, metric: "kernel dispatches", value: tfProfile.kernels.length, unit: "count" });
  rows.push({ case: `${tag} DP step`, metric: "net new tensors", value: dpProfile.newTensors, unit: "count" });
  summary.push([
    kind,
    mDp.toFixed(1),
    mTf.toFixed(1),
    (mDp / mTf).toFixed(2),
    mFit.toFixed(1),
    (mDp / mFit).toFixed(2),
    String(totalKernels),
    String(tfProfile.kernels.length),
    `${((100 * totalKernelMs) / profiledWall).toFixed(0)}%`,
    `${((100 * tfKernelMs) / tfProfiledWall).toFixed(0)}%`,
  ]);
  tf.dispose([x, y, yOneHot]);
  model.dispose();
}

const header = [
  "model",
  "DP step ms",
  "minimize ms",
  "DP/minimize",
  "fit ms",
  "DP/fit",
  "DP kernels",
  "tfjs kernels",
  "DP in kernels",
  "tfjs in kernels",
];
const widths = header.map((h, j) => Math.max(h.length, ...summary.map((r) => r[j].length)));
console.log(`\nsummary (batch ${batchSize}, ${backend}, median of ${reps}, alternated)`);
console.log(header.map((h, j) => h.padStart(widths[j])).join("  "));
for (const r of summary) console.log(r.map((c, j) => c.padStart(widths[j])).join("  "));
console.log(JSON.stringify({ bench: "dpsgd-profile", backend, batchSize, reps, results: rows }));
