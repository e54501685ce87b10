/**
 * DP-SGD step cost against tfjs's own non-private step, side by side in one process.
 *
 * For each model (dpkit's MNIST MLP and small CNN on a batch of 256 real MNIST images; two text
 * classifiers on 256 token sequences: Embedding(20,000 words, 16) → GlobalAveragePooling1D →
 * Dense, and Embedding(20,000, 16, maskZero) → LSTM(32) → Dense) and backend, the cases are run
 * alternately, several repetitions each, and the median is reported:
 * - `tfjs minimize`: `optimizer.minimize(() => loss)` (tfjs autodiff, non-private);
 * - `tfjs fit`: `model.fit(x, y, { batchSize, epochs: 1 })` on the same batch (non-private);
 * - `dpkit DP step`: `dpGradients` (per-example clipping by the engine, secure Gaussian noise on
 *   the sum, division by the expected batch size) + `dpApplyGradients` through the same optimizer;
 * - `naive per-example`: the engine's microbatches-of-one route, for scale (fewer repetitions;
 *   MNIST models only).
 * Ratios are DP step / tfjs minimize and DP step / tfjs fit. For the text models the DP step also runs
 * with `noiseMultiplier: 0` ("noise off": the engine, the division and the update without the secure
 * noise on every entry), alternating with the others. Each case's process CPU time
 * (`process.cpuUsage`, user + system) is recorded beside its wall time: the step runs on one
 * thread, so on a quiet machine the two agree, and on a loaded one the CPU-time ratios are the
 * steadier (the wall times include the time the process waits for a core). For the Embedding model a breakdown of
 * the DP step follows (engine: forward, backward, per-example norms and clipped sum; of which the
 * Embedding rule's norms and its clipped-sum scatter; noise drawn and added over all 320k+ entries;
 * the optimizer's update), each timed on its own, alternating, median.
 *
 * On the cpu backend tfjs cannot take its own step on the text models in reasonable time: the
 * gradient of `gather` is tfjs-backend-cpu's `UnsortedSegmentSum`, which loops over the 20,000
 * segments with a full pass over the rows each. There the baseline is a lower bound: that segment
 * sum timed on 20 of the 20,000 segments (rows as in the batch) and scaled ×1000 (the loop is
 * linear in the segment count); such cells are marked `≥` and their ratios `≤`.
 *
 * For the Embedding model the DP step also runs with `noiseWorker` (the exact noise drawn ahead of
 * time on a worker thread), alternating with the others (the vector drawn while the other cases ran
 * is discarded before each of its steps: no head start); its ratios are against the in-process DP
 * step and against tfjs's fit.
 *
 * With DPSGD_BENCH_KERNELS_OFF=1 (wasm) the DP step also runs with dpkit's per-example WebAssembly
 * kernels switched off (src/dpsgd/kernels/per-example-wasm-kernels.ts: the Embedding, Conv1D and
 * SimpleRNN/LSTM rules then take their earlier tensor routes), alternating with the others.
 *
 * Usage: `npm run bench -- dpsgd` (env DPSGD_BENCH_REPS, DPSGD_BENCH_BACKENDS=wasm,cpu,
 * DPSGD_BENCH_MODELS=mlp,cnn,embedding,lstm, DPSGD_BENCH_NAIVE=0 to skip the naive route,
 * DPSGD_BENCH_KERNELS_OFF=1).
 */
import { prepareBackend, tf } from "../src/backend/index.js";
import { dpApplyGradients, dpGradients, poissonSampleIndices } from "../src/dpsgd/index.js";
import { computeClippedSum } from "../src/dpsgd/gradients.js";
import { privatizeInPlace } from "../src/dpsgd/privatize.js";
import { createNoiseWorker, type NoiseWorker } from "../src/mechanisms/noise-prefetch.js";
import { exactNoiseGrid } from "../src/mechanisms/gaussian-noise.js";
import { embeddingRule } from "../src/dpsgd/engine/layers/embedding.js";
import { setPerExampleKernelsDisabled } from "../src/dpsgd/kernels/per-example-wasm-kernels.js";
import { type BenchRow as Row, median } from "./report.js";
import { type BenchModelKind, VOCAB, benchModelAndBatch, isTextModel } from "./dpsgd-models.js";

const reps = Number(process.env.DPSGD_BENCH_REPS ?? 7);
const backends = (process.env.DPSGD_BENCH_BACKENDS ?? "wasm,cpu").split(",") as ("wasm" | "cpu")[];
const models = (process.env.DPSGD_BENCH_MODELS ?? "mlp,cnn,embedding,lstm").split(",") as BenchModelKind[];
const batchSize = 256;
/** Segments timed for the cpu lower bound (of the 20,000). */
const SEGMENTS = 20;
const runNaive = process.env.DPSGD_BENCH_NAIVE !== "0";
/** DPSGD_BENCH_KERNELS_OFF=1: also time the DP step with the per-example WebAssembly kernels off (wasm). */
const kernelsOffCase = process.env.DPSGD_BENCH_KERNELS_OFF === "1";

const results: Row[] = [];
const leqOf = (lowerBoundOnly: boolean): string => (lowerBoundOnly ? "≤" : "");
const table: string[][] = [];

async function timeIt(f: () => void | Promise<void>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

/** Wall and process CPU time (user + system) of one call, ms. */
async function timeBoth(f: () => void | Promise<void>): Promise<[number, number]> {
  const c = process.cpuUsage();
  const t = performance.now();
  await f();
  const wall = performance.now() - t;
  const used = process.cpuUsage(c);
  return [wall, (used.user + used.system) / 1000];
}

/**
 * Where the Embedding model's DP step goes: each part timed on its own, alternating, median.
 * `engine` is computeClippedSum (forward, backward with the probes, per-example norms, clipped sum,
 * download); `embedding norms` and `embedding clipped sum` are the Embedding rule's two halves on the
 * batch (slot sums and squared norms; reweighted scatter into the touched rows), part of `engine`;
 * `noise` draws the secure Gaussian noise for every entry and adds it in place; `apply` uploads the
 * gradients and runs the SGD update.
 */
function breakdown(
  backend: string,
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  reps: number,
  dpStepMs: number,
  noiseOffMs: number,
): void {
  const layer = model.layers[0];
  const outGrad = tf.fill([batchSize, x.shape[1] as number, 16], 0.01);
  const wHost = Float32Array.from({ length: batchSize }, (_, i) => 0.5 + (i % 2) * 0.5);
  const opt = tf.train.sgd(0.01);
  let sums: Float32Array[] = [];
  const parts: Record<string, () => void> = {
    engine: () => {
      sums = computeClippedSum({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1 }).sums;
    },
    "embedding norms": () => {
      const t = embeddingRule.perExample(layer, { input: x, outputGradient: outGrad, mode: "auto" });
      t.squaredNorms.dataSync();
      t.squaredNorms.dispose();
    },
    "embedding clipped sum": () => {
      // (as the DP step takes it: a host array)
      const t = embeddingRule.perExample(layer, { input: x, outputGradient: outGrad, mode: "auto" });
      t.squaredNorms.dispose();
      if (t.weightedSumHost) t.weightedSumHost(wHost);
      else tf.tidy(() => t.weightedSum(tf.tensor1d(wHost)).forEach((g) => g.dataSync())); // (a tree before the host route)
    },
    noise: () => {
      privatizeInPlace(
        sums.map((s) => s.slice()),
        { l2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: batchSize },
      );
    },
    apply: () => {
      const grads: tf.NamedTensorMap = {};
      model.trainableWeights.forEach((v, k) => (grads[(v.read() as tf.Variable).name] = tf.tensor(sums[k].slice(), v.shape as number[])));
      opt.applyGradients(grads);
      tf.dispose(grads);
    },
  };
  const t: Record<string, number[]> = Object.fromEntries(Object.keys(parts).map((k) => [k, []]));
  for (const f of Object.values(parts)) f(); // warm-up
  for (let i = 0; i < reps; i++) {
    for (const [k, f] of Object.entries(parts)) {
      const t0 = performance.now();
      f();
      t[k].push(performance.now() - t0);
    }
  }
  // "noise" above includes copying the sums (the DP step adds in place): time the copy alone and subtract it.
  const copy = Array.from({ length: reps }, () => {
    const t0 = performance.now();
    sums.map((s) => s.slice());
    return performance.now() - t0;
  });
  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
  m.noise = Math.max(0, m.noise - median(copy));
  tf.dispose([outGrad]);
  for (const [k, v] of Object.entries(m))
    results.push({ case: `embedding b${batchSize} ${backend} breakdown ${k}`, metric: "time", value: v, unit: "ms" });
  breakdownLines.push(
    `embedding ${backend} DP step ${dpStepMs.toFixed(1)} ms = engine ${m.engine.toFixed(1)} (of which embedding norms ${m["embedding norms"].toFixed(1)}, ` +
      `embedding clipped sum ${m["embedding clipped sum"].toFixed(1)}; the rest: forward, backward, dense layer, download) + noise ${m.noise.toFixed(1)} + apply ${m.apply.toFixed(1)} ` +
      `(parts timed separately; sum ${(m.engine + m.noise + m.apply).toFixed(1)}); DP step with noise off ${noiseOffMs.toFixed(1)} ms`,
  );
}

const breakdownLines: string[] = [];
const cpuLines: string[] = [];

for (const backend of backends) {
  await prepareBackend({ backend, announce: false });
  for (const kind of models) {
    // The cpu backend is slow for convolutions and recurrences: fewer repetitions there.
    const r = backend === "cpu" && kind !== "mlp" && kind !== "embedding" && kind !== "layernorm" ? Math.min(reps, 3) : reps;
    const text = isTextModel(kind);
    const { model, x, y, classes } = benchModelAndBatch(kind, batchSize);
    const yOneHot = tf.oneHot(tf.cast(y, "int32"), classes);
    const optMin = tf.train.sgd(0.01);
    const optDp = tf.train.sgd(0.01);
    model.compile({ optimizer: tf.train.sgd(0.01), loss: "sparseCategoricalCrossentropy" });
    // tfjs's own step on the cpu text models would take minutes (see the header): lower bound instead.
    const lowerBoundOnly = backend === "cpu" && text;
    const dpStep = (noiseMultiplier: number, noiseWorker?: NoiseWorker) => () => {
      const g = dpGradients({
        noiseWorker,
        model,
        loss: "sparseCategoricalCrossentropy",
        x,
        y,
        l2NormClip: 1,
        noiseMultiplier,
        expectedBatchSize: batchSize,
        samplingProbability: batchSize / 60000,
      });
      dpApplyGradients(optDp, g);
    };
    const cases: Record<string, () => void | Promise<void>> = lowerBoundOnly
      ? { "dpkit DP step": dpStep(1.1) }
      : {
          "tfjs minimize": () => {
            const l = optMin.minimize(() => tf.losses.softmaxCrossEntropy(yOneHot, model.predict(x) as tf.Tensor) as tf.Scalar, true);
            l?.dataSync();
            l?.dispose();
          },
          "tfjs fit": async () => {
            await model.fit(x, y, { batchSize, epochs: 1, verbose: 0, shuffle: false });
          },
          "dpkit DP step": dpStep(1.1),
        };
    if (text) cases["dpkit DP step, noise off"] = dpStep(0);
    // The same step with the per-example WebAssembly kernels switched off (the rules' earlier routes), to compare.
    if (kernelsOffCase && backend === "wasm")
      cases["dpkit DP step, kernels off"] = () => {
        setPerExampleKernelsDisabled(true);
        try {
          dpStep(1.1)();
        } finally {
          setPerExampleKernelsDisabled(false);
        }
      };
    // The same step with the exact noise drawn ahead of time on a worker thread (issue 16).
    const noiseWorker = kind === "embedding" ? createNoiseWorker() : undefined;
    if (noiseWorker) cases["dpkit DP step, noiseWorker"] = dpStep(1.1, noiseWorker);
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    for (const f of Object.values(cases)) await f(); // warm-up
    // The noiseWorker step gets no head start from the other cases: the vector drawn meanwhile is
    // discarded (zeroed) before it, so the worker draws the step's noise during the step's own
    // gradients only (a little less time than in a training loop, where it also has the previous
    // step's add and update).
    const nwDims = noiseWorker ? model.trainableWeights.reduce((a, w) => a + w.shape.reduce<number>((p, q) => p * (q as number), 1), 0) : 0;
    const nwSigma = noiseWorker ? exactNoiseGrid(1.1, 1, nwDims).gridSigma : 0;
    const nwStats = { used: 0, missed: 0 };
    for (let i = 0; i < r; i++) {
      for (const [name, f] of Object.entries(cases)) {
        const isNw = name === "dpkit DP step, noiseWorker";
        if (isNw) noiseWorker!.take(nwSigma, nwDims)?.fill(0);
        const before = isNw ? { ...noiseWorker!.stats } : undefined;
        const [wall, c] = await timeBoth(f);
        times[name].push(wall);
        cpu[name].push(c);
        if (before) {
          nwStats.used += noiseWorker!.stats.used - before.used;
          nwStats.missed += noiseWorker!.stats.missed - before.missed;
        }
      }
    }
    if (lowerBoundOnly) {
      // tfjs-backend-cpu's UnsortedSegmentSum (the gradient of gather) on SEGMENTS segments, scaled to the vocabulary.
      const rows = x.size;
      const ids = tf.tensor1d(
        Array.from({ length: rows }, (_, i) => i % SEGMENTS),
        "int32",
      );
      const g = tf.ones([rows, 16]);
      const seg: number[] = [];
      for (let i = 0; i < 2; i++) {
        seg.push(
          await timeIt(() => {
            tf.tidy(() => tf.unsortedSegmentSum(g, ids, SEGMENTS).dataSync());
          }),
        );
      }
      tf.dispose([ids, g]);
      const bound = median(seg) * (VOCAB / SEGMENTS);
      times["tfjs minimize"] = [bound];
      times["tfjs fit"] = [bound];
    }
    if (kind === "embedding") breakdown(backend, model, x, y, r, median(times["dpkit DP step"]), median(times["dpkit DP step, noise off"]));
    // Naive per-example loop, for scale.
    const naive: number[] = [];
    const naiveReps = text || !runNaive ? 0 : backend === "cpu" ? 1 : 2;
    for (let i = 0; i < naiveReps; i++) {
      naive.push(
        await timeIt(() => {
          const g = dpGradients({
            model,
            loss: "sparseCategoricalCrossentropy",
            x,
            y,
            l2NormClip: 1,
            noiseMultiplier: 1.1,
            expectedBatchSize: batchSize,
            strategy: "naive",
          });
          dpApplyGradients(optDp, g);
        }),
      );
    }
    // Poisson sampling of a 60,000-example dataset at q = 256/60000 (data loading, for reference).
    const sampling = median(
      Array.from({ length: 20 }, () => {
        const t = performance.now();
        poissonSampleIndices({ datasetSize: 60000, samplingProbability: batchSize / 60000 });
        return performance.now() - t;
      }),
    );
    const mMin = median(times["tfjs minimize"]);
    const mFit = median(times["tfjs fit"]);
    const mDp = median(times["dpkit DP step"]);
    const mNaive = naive.length ? median(naive) : NaN;
    const tag = `${kind} b${batchSize} ${backend}`;
    const ge = lowerBoundOnly ? " (lower bound)" : "";
    results.push({ case: `${tag} tfjs minimize${ge}`, metric: "step time", value: mMin, unit: "ms" });
    results.push({ case: `${tag} tfjs fit${ge}`, metric: "step time", value: mFit, unit: "ms" });
    results.push({
      case: `${tag} dpkit DP step vs minimize${ge}`,
      metric: "step time",
      value: mDp,
      unit: "ms",
      baseline: mMin,
      ratio: mDp / mMin,
    });
    results.push({
      case: `${tag} dpkit DP step vs fit${ge}`,
      metric: "step time",
      value: mDp,
      unit: "ms",
      baseline: mFit,
      ratio: mDp / mFit,
    });
    if (times["dpkit DP step, noise off"]) {
      const mOff = median(times["dpkit DP step, noise off"]);
      results.push({
        case: `${tag} dpkit DP step noise off vs fit${ge}`,
        metric: "step time",
        value: mOff,
        unit: "ms",
        baseline: mFit,
        ratio: mOff / mFit,
      });
      if (!lowerBoundOnly)
        results.push({
          case: `${tag} dpkit DP step noise off vs minimize`,
          metric: "step time",
          value: mOff,
          unit: "ms",
          baseline: mMin,
          ratio: mOff / mMin,
        });
    }
    if (!lowerBoundOnly) {
      // The same comparisons in process CPU time (medians).
      const c = (k: string) => median(cpu[k]);
      for (const [dpCase, label] of [
        ["dpkit DP step", "dpkit DP step"],
        ["dpkit DP step, noise off", "dpkit DP step noise off"],
      ] as const) {
        if (!cpu[dpCase]) continue;
        for (const base of ["tfjs fit", "tfjs minimize"] as const) {
          results.push({
            case: `${tag} ${label} vs ${base.slice(5)}`,
            metric: "cpu time",
            value: c(dpCase),
            unit: "ms",
            baseline: c(base),
            ratio: c(dpCase) / c(base),
          });
        }
      }
      cpuLines.push(
        `${tag} CPU time (median ms): fit ${c("tfjs fit").toFixed(1)}, minimize ${c("tfjs minimize").toFixed(1)}, DP step ${c("dpkit DP step").toFixed(1)} ` +
          `(${(c("dpkit DP step") / c("tfjs fit")).toFixed(2)}x fit, ${(c("dpkit DP step") / c("tfjs minimize")).toFixed(2)}x minimize)` +
          (cpu["dpkit DP step, noise off"]
            ? `, noise off ${c("dpkit DP step, noise off").toFixed(1)} (${(c("dpkit DP step, noise off") / c("tfjs fit")).toFixed(2)}x fit, ` +
              `${(c("dpkit DP step, noise off") / c("tfjs minimize")).toFixed(2)}x minimize)`
            : "") +
          (cpu["dpkit DP step, kernels off"]
            ? `, per-example kernels off ${c("dpkit DP step, kernels off").toFixed(1)} (${(c("dpkit DP step, kernels off") / c("tfjs fit")).toFixed(2)}x fit)`
            : ""),
      );
    }
    if (times["dpkit DP step, noiseWorker"]) {
      const mNw = median(times["dpkit DP step, noiseWorker"]);
      const s = nwStats;
      noiseWorker!.dispose();
      results.push({
        case: `${tag} dpkit DP step noiseWorker vs DP step${ge}`,
        metric: "step time",
        value: mNw,
        unit: "ms",
        baseline: mDp,
        ratio: mNw / mDp,
      });
      results.push({
        case: `${tag} dpkit DP step noiseWorker vs fit${ge}`,
        metric: "step time",
        value: mNw,
        unit: "ms",
        baseline: mFit,
        ratio: mNw / mFit,
      });
      breakdownLines.push(
        `${tag}: DP step with noiseWorker ${mNw.toFixed(1)} ms vs ${mDp.toFixed(1)} ms in-process (${(mNw / mDp).toFixed(2)}x), vs fit ${leqOf(lowerBoundOnly)}${(mNw / mFit).toFixed(2)}x; worker vectors used ${s.used}, missed ${s.missed}`,
      );
    }
    if (times["dpkit DP step, kernels off"]) {
      const mOffK = median(times["dpkit DP step, kernels off"]);
      results.push({
        case: `${tag} dpkit DP step kernels off vs fit`,
        metric: "step time",
        value: mOffK,
        unit: "ms",
        baseline: mFit,
        ratio: mOffK / mFit,
      });
      results.push({
        case: `${tag} dpkit DP step vs kernels off`,
        metric: "step time",
        value: mDp,
        unit: "ms",
        baseline: mOffK,
        ratio: mDp / mOffK,
      });
      breakdownLines.push(
        `${tag}: DP step ${mDp.toFixed(1)} ms (${(mDp / mFit).toFixed(2)}x fit) with the per-example kernels, ${mOffK.toFixed(1)} ms (${(mOffK / mFit).toFixed(2)}x fit) without`,
      );
    }
    if (naive.length)
      results.push({
        case: `${tag} naive per-example vs minimize`,
        metric: "step time",
        value: mNaive,
        unit: "ms",
        baseline: mMin,
        ratio: mNaive / mMin,
      });
    results.push({ case: `${tag} Poisson sampling N=60000`, metric: "time", value: sampling, unit: "ms" });
    const geq = lowerBoundOnly ? "≥" : "";
    const leq = lowerBoundOnly ? "≤" : "";
    const mOffMs = times["dpkit DP step, noise off"] ? median(times["dpkit DP step, noise off"]) : NaN;
    table.push([
      kind,
      backend,
      geq + mMin.toFixed(1),
      geq + mFit.toFixed(1),
      mDp.toFixed(1),
      leq + (mDp / mMin).toFixed(2),
      leq + (mDp / mFit).toFixed(2),
      Number.isNaN(mOffMs) ? "-" : mOffMs.toFixed(1),
      Number.isNaN(mOffMs) ? "-" : leq + (mOffMs / mFit).toFixed(2),
      naive.length ? mNaive.toFixed(0) : "-",
      naive.length ? (mNaive / mMin).toFixed(1) : "-",
      String(r),
    ]);
    tf.dispose([x, y, yOneHot]);
    model.dispose();
  }
}

// wasm versus cpu for the CNN's DP step.
const dpWasm = results.find((r) => r.case === `cnn b${batchSize} wasm dpkit DP step vs minimize`);
const dpCpu = results.find((r) => r.case === `cnn b${batchSize} cpu dpkit DP step vs minimize`);
if (dpWasm && dpCpu)
  results.push({
    case: "cnn DP step wasm vs cpu",
    metric: "speed-up",
    value: dpCpu.value / dpWasm.value,
    unit: "x",
    baseline: dpCpu.value,
    ratio: dpWasm.value / dpCpu.value,
  });

const header = [
  "model",
  "backend",
  "minimize ms",
  "fit ms",
  "DP step ms",
  "DP/minimize",
  "DP/fit",
  "noise off ms",
  "off/fit",
  "naive ms",
  "naive/minimize",
  "reps",
];
const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j].length)));
console.log(header.map((h, j) => h.padStart(widths[j])).join("  "));
for (const row of table) console.log(row.map((c, j) => c.padStart(widths[j])).join("  "));
if (dpWasm && dpCpu) console.log(`CNN DP step: wasm ${(dpCpu.value / dpWasm.value).toFixed(1)}x faster than cpu`);
for (const line of cpuLines) console.log(line);
for (const line of breakdownLines) console.log(line);
console.log(
  `command: DPSGD_BENCH_BACKENDS=${backends.join(",")} DPSGD_BENCH_MODELS=${models.join(",")} DPSGD_BENCH_REPS=${reps}` +
    `${runNaive ? "" : " DPSGD_BENCH_NAIVE=0"}${kernelsOffCase ? " DPSGD_BENCH_KERNELS_OFF=1" : ""} npx tsx bench/dpsgd.bench.ts`,
);
console.log(JSON.stringify({ bench: "dpsgd", results }));
