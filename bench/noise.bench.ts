/**
 * Noise generation speed. Usage: npm run bench -- noise
 *   (env: REPS=5, DRAWS=4000000, NOISE_BENCH_DPSGD=1, NOISE_BENCH_STEP=1, STEP_REPS=31)
 *
 * - Side by side for 4 million draws (alternating, REPS repetitions, median): `tf.randomNormal`
 *   (tfjs, float32, seeded from Math.random: never for privacy), the secure continuous ziggurat
 *   `fillGaussian`, the exact discrete Gaussian vector sampler (the discrete ziggurat of
 *   src/random/discrete-ziggurat.ts) at sigma 3 and at sigma 1.7·2^30 (DP-SGD's grid), and
 *   `addGaussianNoise` (the DP-SGD/DP-FedAvg noise call: round onto the grid, exact noise, scale
 *   back) with `noise: "exact"` and `"continuous"`. Ratios are against `tf.randomNormal`; the table
 *   also prints them against `fillGaussian`.
 * - One DP-SGD step (`dpGradients` + `dpApplyGradients`, dpkit's MNIST MLP, batch 256 real MNIST
 *   images, tfjs cpu backend) with exact against continuous noise, alternating (NOISE_BENCH_DPSGD=0
 *   skips it).
 * - The exact grid Gaussian mechanism (`gaussianMechanism(...).releaseVector`, discrete Gaussian
 *   noise on a power-of-two grid: the floating-point-attack-immune path) on the same vector size.
 * - Scalar draws per second of the exact discrete Laplace and discrete Gaussian samplers.
 * - The exact noise of one DP-SGD step on the Embedding(20,000, 16) → GlobalAveragePooling1D →
 *   Dense(2) text model (issue 16): `privatizeInPlace` over its 320,034 entries in 3 parts (noise
 *   multiplier 1.1, clip 0.1, expected batch 256), before (the frozen copy of the path as of
 *   b985c3e in bench/reference/: finite checks, concatenation, grid units in Float64 arrays, a fresh
 *   noise array, the old ziggurat loop) and after (the fused in-place pass), side by side with the
 *   parts' pieces: the ziggurat alone (old and new loop) and `addGaussianNoise` (old and new), and
 *   the continuous noise. Alternating, STEP_REPS repetitions (default 31), medians of wall time and of
 *   process CPU time (the CPU time is less disturbed by other processes on a loaded machine).
 *   NOISE_BENCH_STEP=0 skips it. Also side by side there (issue 16): the same `privatizeInPlace` and
 *   ziggurat fill with the sampler's JS loop and with its WebAssembly loop (src/random/ziggurat.wat:
 *   the same samples from the same words).
 * - The same step noise with `noiseWorker` (issue 16): the exact noise drawn ahead of time on a
 *   worker thread while the calling thread is busy for GRAD_MS (default 6 ms, standing for the
 *   step's gradient computation), against the in-process draw after the same busy time.
 *   Alternating blocks of 4 consecutive steps, STEP_REPS blocks each, medians of the calling thread's wall time in
 *   `privatizeInPlace` and of the whole step (busy + noise); the worker's misses are counted.
 *   NOISE_BENCH_PREFETCH=0 skips it.
 *
 * Prints a table and, as the last line, one JSON object (docs/performance.md).
 */
import * as tf from "@tensorflow/tfjs";
import { addGaussianNoise, exactNoiseGrid, gaussianMechanism, laplaceMechanism } from "../src/mechanisms/index.js";
import { discreteGaussian, discreteLaplace, fillGaussian, secureRng } from "../src/random/index.js";
import { discreteGaussianVectorSampler } from "../src/random/discrete-gaussian.js";
import { discreteZigguratFill, setZigguratWasmForTesting, zigguratTable } from "../src/random/discrete-ziggurat.js";
import { privatizeInPlace } from "../src/dpsgd/privatize.js";
import { createNoiseWorker } from "../src/mechanisms/noise-prefetch.js";
import { discreteZigguratFill as discreteZigguratFillV1 } from "./reference/discrete-ziggurat-v1.js";
import { addGaussianNoiseV1, privatizeInPlaceV1 } from "./reference/privatize-v1.js";
import { dpApplyGradients, dpGradients, mnistModel } from "../src/dpsgd/index.js";
import { loadMnist } from "../src/data/index.js";
import { type BenchRow as Row, median } from "./report.js";

const REPS = Number(process.env.REPS ?? 5);
const STEP_REPS = Number(process.env.STEP_REPS ?? 31);
const DRAWS = Number(process.env.DRAWS ?? 4_000_000);

function seconds(f: () => void): number {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
}

async function main(): Promise<void> {
  await tf.setBackend("cpu");
  await tf.ready();
  const rows: Row[] = [];
  const rng = secureRng();

  // --- Gaussian vectors, side by side -------------------------------------------------------
  const out32 = new Float32Array(DRAWS);
  const out64 = new Float64Array(DRAWS);
  const bigSigma = 1.7 * 2 ** 30;
  const exactBig = discreteGaussianVectorSampler(bigSigma);
  const exactSmall = discreteGaussianVectorSampler(3);
  const values = new Float64Array(DRAWS);
  const cases: Record<string, () => void> = {
    "tf.randomNormal float32 (insecure)": () => {
      const t = tf.randomNormal([DRAWS]);
      t.dataSync();
      t.dispose();
    },
    "fillGaussian Float32Array (secure)": () => void fillGaussian(out32, 1, rng),
    "fillGaussian Float64Array (secure)": () => void fillGaussian(out64, 1, rng),
    "exact discrete Gaussian vector, sigma 1.7·2^30 (discrete ziggurat)": () => exactBig(out64, rng),
    "exact discrete Gaussian vector, sigma 3 (discrete ziggurat)": () => exactSmall(out64, rng),
    'addGaussianNoise noise: "exact" (round + exact noise + scale)': () =>
      void addGaussianNoise(values, { stddev: 1.1, sensitivity: 1, rng }),
    'addGaussianNoise noise: "continuous"': () => void addGaussianNoise(values, { stddev: 1.1, sensitivity: 1, noise: "continuous", rng }),
  };
  // Warm up once each, then alternate.
  for (const f of Object.values(cases)) f();
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let rep = 0; rep < REPS; rep++) for (const [k, f] of Object.entries(cases)) times[k].push(seconds(f));
  const tfRate = DRAWS / median(times["tf.randomNormal float32 (insecure)"]) / 1e6;
  const fgRate = DRAWS / median(times["fillGaussian Float64Array (secure)"]) / 1e6;
  const vsFill = new Map<string, number>();
  for (const k of Object.keys(cases)) {
    const rate = DRAWS / median(times[k]) / 1e6;
    const row: Row = { case: `${k}, ${DRAWS / 1e6}M draws`, metric: "rate", value: rate, unit: "M draws/s" };
    vsFill.set(row.case, rate / fgRate);
    if (!k.startsWith("tf.")) {
      row.baseline = tfRate;
      row.ratio = rate / tfRate;
    }
    rows.push(row);
  }

  // --- Exact grid mechanisms on vectors (floating-point-attack immune) -----------------------
  const gridN = Math.min(DRAWS, 1_000_000);
  const zeros = new Float64Array(gridN);
  const gauss = gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity: 1, dimension: gridN, rng });
  const lap = laplaceMechanism({ epsilon: 1, sensitivity: 1, dimension: gridN, rng });
  gauss.releaseVector(zeros.subarray(0, 10_000));
  const gt: number[] = [];
  const lt: number[] = [];
  for (let rep = 0; rep < Math.max(1, Math.min(REPS, 3)); rep++) {
    gt.push(seconds(() => gauss.releaseVector(zeros)));
    lt.push(seconds(() => lap.releaseVector(zeros)));
  }
  const gridRate = gridN / median(gt) / 1e6;
  rows.push({
    case: `gaussianMechanism.releaseVector (exact discrete Gaussian on grid), ${gridN / 1e6}M`,
    metric: "rate",
    value: gridRate,
    unit: "M draws/s",
    baseline: tfRate,
    ratio: gridRate / tfRate,
  });
  rows.push({
    case: `laplaceMechanism.releaseVector (exact discrete Laplace on grid), ${gridN / 1e6}M`,
    metric: "rate",
    value: gridN / median(lt) / 1e6,
    unit: "M draws/s",
  });

  // --- Scalar exact samplers -------------------------------------------------------------------
  const scalar: [string, () => number][] = [
    ["discreteLaplace(1)", () => discreteLaplace(1, rng)],
    ["discreteLaplace(2^40)", () => discreteLaplace(2 ** 40, rng)],
    ["discreteLaplace(1/3) (bigint path)", () => discreteLaplace(1 / 3, rng)],
    ["discreteGaussian(3)", () => discreteGaussian(3, rng)],
    ["discreteGaussian(1.3·2^40)", () => discreteGaussian(1.3 * 2 ** 40, rng)],
  ];
  const n = 300_000;
  for (const [name, f] of scalar) {
    const ts: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      ts.push(
        seconds(() => {
          for (let i = 0; i < n; i++) f();
        }),
      );
    }
    rows.push({ case: name, metric: "rate", value: n / median(ts) / 1e6, unit: "M draws/s" });
  }

  // --- One DP-SGD step: exact against continuous noise (MNIST MLP) ------------------------------
  const notes: string[] = [];
  notes.push(
    `ziggurat proposals per sample: sigma 3 ${zigguratTable(3).proposalsPerSample.toFixed(3)}, sigma 1.7·2^30 ${zigguratTable(bigSigma).proposalsPerSample.toFixed(4)}`,
  );
  if (process.env.NOISE_BENCH_DPSGD !== "0") {
    const batch = 256;
    const mnist = loadMnist({ split: "train", count: batch });
    const model = mnistModel("mlp");
    const x = tf.tensor(mnist.images, [batch, 784]);
    const y = tf.tensor1d(mnist.labels, "float32");
    const opt = tf.train.sgd(0.01);
    const params = model.countParams();
    const step = (noise: "exact" | "continuous"): void => {
      const g = dpGradients({
        model,
        loss: "sparseCategoricalCrossentropy",
        x,
        y,
        l2NormClip: 1,
        noiseMultiplier: 1.1,
        expectedBatchSize: batch,
        noise,
      });
      dpApplyGradients(opt, g);
    };
    step("exact");
    step("continuous");
    const st: Record<"exact" | "continuous", number[]> = { exact: [], continuous: [] };
    for (let rep = 0; rep < Math.max(3, REPS); rep++) {
      for (const k of ["exact", "continuous"] as const) st[k].push(seconds(() => step(k)));
    }
    const cont = median(st.continuous) * 1000;
    const ex = median(st.exact) * 1000;
    rows.push({
      case: `DP-SGD step, MNIST MLP (${params} params, batch ${batch}), continuous noise`,
      metric: "time",
      value: cont,
      unit: "ms",
    });
    rows.push({
      case: `DP-SGD step, MNIST MLP (${params} params, batch ${batch}), exact noise`,
      metric: "time",
      value: ex,
      unit: "ms",
      baseline: cont,
      ratio: ex / cont,
    });
    tf.dispose([x, y]);
  }

  // --- The exact noise of one DP-SGD step: the Embedding text model, before and after -----------
  if (process.env.NOISE_BENCH_STEP !== "0") {
    // Embedding(20,000, 16) kernel, Dense(16 -> 2) kernel and bias: 320,034 entries in 3 parts.
    const shapes = [320_000, 32, 2];
    const total = shapes.reduce((a, b) => a + b, 0);
    const sums = shapes.map((n, p) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + p) * 0.02));
    const work = sums.map((a) => a.slice());
    const reset = (): void => work.forEach((w, i) => w.set(sums[i]));
    const [clip, z, b] = [0.1, 1.1, 256];
    const { gridSigma } = exactNoiseGrid(z * clip, clip, total);
    const zigOld = discreteZigguratFillV1(gridSigma);
    const zigNew = discreteZigguratFill(gridSigma);
    const noise64 = new Float64Array(total);
    const flat = Float32Array.from({ length: total }, (_, i) => Math.sin(i) * 0.02);
    const stepCases: Record<string, () => void> = {
      "privatizeInPlace exact, before (b985c3e)": () => {
        reset();
        privatizeInPlaceV1(work, clip, z, b, rng);
      },
      "privatizeInPlace exact, after (fused, in place)": () => {
        reset();
        privatizeInPlace(work, { l2NormClip: clip, noiseMultiplier: z, expectedBatchSize: b });
      },
      "privatizeInPlace continuous, after": () => {
        reset();
        privatizeInPlace(work, { l2NormClip: clip, noiseMultiplier: z, expectedBatchSize: b, noise: "continuous" });
      },
      "privatizeInPlace exact, JS loop (issue 16: before the wasm loop)": () => {
        reset();
        setZigguratWasmForTesting(null);
        try {
          privatizeInPlace(work, { l2NormClip: clip, noiseMultiplier: z, expectedBatchSize: b });
        } finally {
          setZigguratWasmForTesting(undefined);
        }
      },
      "privatizeInPlace exact, wasm loop (issue 16)": () => {
        reset();
        privatizeInPlace(work, { l2NormClip: clip, noiseMultiplier: z, expectedBatchSize: b });
      },
      "copy of the parts (in every privatizeInPlace case above)": () => reset(),
      "exact ziggurat fill alone, JS loop (issue 16: before the wasm loop)": () => {
        setZigguratWasmForTesting(null);
        try {
          zigNew(noise64, rng);
        } finally {
          setZigguratWasmForTesting(undefined);
        }
      },
      "exact ziggurat fill alone, wasm loop (issue 16)": () => zigNew(noise64, rng),
      "exact ziggurat fill alone, before (old loop)": () => zigOld(noise64, rng),
      "exact ziggurat fill alone, after": () => zigNew(noise64, rng),
      "addGaussianNoise exact, before": () => void addGaussianNoiseV1(flat, z * clip, clip, rng),
      "addGaussianNoise exact, after": () => void addGaussianNoise(flat, { stddev: z * clip, sensitivity: clip, rng }),
      "fillGaussian alone (continuous, Float64Array)": () => void fillGaussian(noise64, z * clip, rng),
    };
    for (const f of Object.values(stepCases)) f();
    const wall: Record<string, number[]> = Object.fromEntries(Object.keys(stepCases).map((k) => [k, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(stepCases).map((k) => [k, []]));
    for (let rep = 0; rep < STEP_REPS; rep++) {
      for (const [k, f] of Object.entries(stepCases)) {
        const c0 = process.cpuUsage();
        wall[k].push(seconds(f) * 1000);
        const c = process.cpuUsage(c0);
        cpu[k].push((c.user + c.system) / 1000);
      }
    }
    const pairs: Record<string, string> = {
      "privatizeInPlace exact, after (fused, in place)": "privatizeInPlace exact, before (b985c3e)",
      "exact ziggurat fill alone, after": "exact ziggurat fill alone, before (old loop)",
      "addGaussianNoise exact, after": "addGaussianNoise exact, before",
      "privatizeInPlace continuous, after": "privatizeInPlace exact, after (fused, in place)",
      "privatizeInPlace exact, wasm loop (issue 16)": "privatizeInPlace exact, JS loop (issue 16: before the wasm loop)",
      "exact ziggurat fill alone, wasm loop (issue 16)": "exact ziggurat fill alone, JS loop (issue 16: before the wasm loop)",
    };
    for (const k of Object.keys(stepCases)) {
      const base = pairs[k];
      for (const [metric, t] of [
        ["time", wall],
        ["cpu time", cpu],
      ] as const) {
        const row: Row = {
          case: `DP-SGD step noise, Embedding model (${total} entries): ${k} [${metric === "time" ? "wall" : "CPU"}]`,
          metric,
          value: median(t[k]),
          unit: "ms",
        };
        if (base !== undefined) {
          row.baseline = median(t[base]);
          row.ratio = row.value / row.baseline;
        }
        rows.push(row);
      }
    }
    notes.push(
      `DP-SGD step noise (${total} entries, ${STEP_REPS} alternating reps, medians): privatizeInPlace exact ${median(wall["privatizeInPlace exact, before (b985c3e)"]).toFixed(2)} -> ${median(wall["privatizeInPlace exact, after (fused, in place)"]).toFixed(2)} ms wall, ${median(cpu["privatizeInPlace exact, before (b985c3e)"]).toFixed(2)} -> ${median(cpu["privatizeInPlace exact, after (fused, in place)"]).toFixed(2)} ms CPU; ratios are after / before`,
    );
    const jsK = "privatizeInPlace exact, JS loop (issue 16: before the wasm loop)";
    const wasmK = "privatizeInPlace exact, wasm loop (issue 16)";
    const jsF = "exact ziggurat fill alone, JS loop (issue 16: before the wasm loop)";
    const wasmF = "exact ziggurat fill alone, wasm loop (issue 16)";
    notes.push(
      `issue 16, the ziggurat's loops in WebAssembly (same samples): privatizeInPlace exact ${median(wall[jsK]).toFixed(2)} -> ${median(wall[wasmK]).toFixed(2)} ms wall, ${median(cpu[jsK]).toFixed(2)} -> ${median(cpu[wasmK]).toFixed(2)} ms CPU; ziggurat fill alone ${median(wall[jsF]).toFixed(2)} -> ${median(wall[wasmF]).toFixed(2)} ms wall (${((median(wall[jsF]) * 1e6) / total).toFixed(1)} -> ${((median(wall[wasmF]) * 1e6) / total).toFixed(1)} ns per draw, words included)`,
    );
  }

  // --- The step noise drawn ahead of time on a worker thread (noiseWorker), against in-process ---
  if (process.env.NOISE_BENCH_PREFETCH !== "0") {
    const shapes = [320_000, 32, 2];
    const total = shapes.reduce((a, b) => a + b, 0);
    const sums = shapes.map((n, p) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + p) * 0.02));
    const work = sums.map((a) => a.slice());
    const reset = (): void => work.forEach((w, i) => w.set(sums[i]));
    const gradMs = Number(process.env.GRAD_MS ?? 6);
    const busy = (): void => {
      const end = performance.now() + gradMs;
      let x = 0;
      while (performance.now() < end) x += Math.sqrt(x + 1);
      if (x < 0) console.log(x);
    };
    const nw = createNoiseWorker();
    const opts = { l2NormClip: 0.1, noiseMultiplier: 1.1, expectedBatchSize: 256 };
    const prefetchCases: Record<string, () => void> = {
      "in-process": () => privatizeInPlace(work, opts),
      noiseWorker: () => privatizeInPlace(work, { ...opts, noiseWorker: nw }),
    };
    // Warm-up: start the worker and let it draw its first vector.
    for (let i = 0; i < 20 && nw.stats.used < 3; i++) {
      reset();
      prefetchCases.noiseWorker();
      await new Promise((r) => setTimeout(r, 50));
    }
    prefetchCases["in-process"]();
    const before = { ...nw.stats };
    const noiseMs: Record<string, number[]> = { "in-process": [], noiseWorker: [] };
    const stepMs: Record<string, number[]> = { "in-process": [], noiseWorker: [] };
    // Blocks of BLOCK consecutive steps per case, alternating: within a block the worker has only the
    // busy time and the previous add to draw the next vector (as in a training loop).
    const BLOCK = 4;
    for (let rep = 0; rep < STEP_REPS; rep++) {
      for (const [k, f] of Object.entries(prefetchCases)) {
        for (let j = 0; j < BLOCK; j++) {
          reset();
          const t0 = performance.now();
          busy();
          const t1 = performance.now();
          f();
          const t2 = performance.now();
          noiseMs[k].push(t2 - t1);
          stepMs[k].push(t2 - t0);
        }
      }
    }
    const used = nw.stats.used - before.used;
    const missed = nw.stats.missed - before.missed;
    nw.dispose();
    for (const [what, t] of [
      ["noise on the calling thread", noiseMs],
      [`busy ${gradMs} ms + noise`, stepMs],
    ] as const) {
      const value = median(t.noiseWorker);
      const baseline = median(t["in-process"]);
      rows.push({
        case: `DP-SGD step noise, Embedding model (${total} entries), noiseWorker vs in-process: ${what} [wall]`,
        metric: "time",
        value,
        unit: "ms",
        baseline,
        ratio: value / baseline,
      });
    }
    notes.push(
      `noiseWorker (${total} entries, busy ${gradMs} ms per step, ${STEP_REPS} alternating blocks of 4 steps, medians): calling-thread noise ${median(noiseMs["in-process"]).toFixed(2)} -> ${median(noiseMs.noiseWorker).toFixed(2)} ms wall; step ${median(stepMs["in-process"]).toFixed(2)} -> ${median(stepMs.noiseWorker).toFixed(2)} ms; worker vectors used ${used}, missed ${missed} of ${STEP_REPS * 4}`,
    );
  }

  // --- Table and JSON ----------------------------------------------------------------------------
  const w = Math.max(...rows.map((r) => r.case.length));
  console.log(
    `${"case".padEnd(w)}  ${"value".padStart(10)}  ${"unit".padEnd(9)}  ${"vs baseline".padStart(11)}  ${"vs fillGaussian".padStart(15)}`,
  );
  for (const r of rows) {
    const f = vsFill.get(r.case);
    console.log(
      `${r.case.padEnd(w)}  ${r.value.toFixed(2).padStart(10)}  ${r.unit.padEnd(9)}  ${(r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`).padStart(11)}  ${(f === undefined ? "" : `${f.toFixed(2)}x`).padStart(15)}`,
    );
  }
  for (const n of notes) console.log(n);
  console.log(
    JSON.stringify({
      bench: "noise",
      results: rows.map((r) => ({
        ...r,
        value: Number(r.value.toPrecision(4)),
        ...(r.ratio === undefined ? {} : { ratio: Number(r.ratio.toPrecision(3)), baseline: Number(r.baseline!.toPrecision(4)) }),
      })),
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
