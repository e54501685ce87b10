/**
 * Noise generation speed. Usage: npm run bench -- noise   (env: REPS=5, DRAWS=4000000, NOISE_BENCH_DPSGD=1)
 *
 * - Side by side for 4 million draws (alternating, REPS repetitions, median): `tf.randomNormal`
 *   (tfjs, float32, seeded from Math.random: never for privacy), the secure continuous ziggurat
 *   `fillGaussian`, the exact discrete Gaussian vector sampler (the discrete ziggurat of
 *   src/random/discrete-ziggurat.ts) at sigma 3 and at sigma 1.7·2^30 (DP-SGD's grid), the
 *   previous exact bulk sampler (CKS rejection, `fastDiscreteGaussianFill`) at sigma 1.7·2^30, and
 *   `addGaussianNoise` (the DP-SGD/DP-FedAvg noise call: round onto the grid, exact noise, scale
 *   back) with `noise: "exact"` and `"continuous"`. Ratios are against `tf.randomNormal`; the table
 *   also prints them against `fillGaussian`.
 * - One DP-SGD step (`dpGradients` + `dpApplyGradients`, dpkit's MNIST MLP, batch 256 real MNIST
 *   images, tfjs cpu backend) with exact against continuous noise, alternating (NOISE_BENCH_DPSGD=0
 *   skips it).
 * - The exact grid Gaussian mechanism (`gaussianMechanism(...).releaseVector`, discrete Gaussian
 *   noise on a power-of-two grid: the floating-point-attack-immune path) on the same vector size.
 * - Scalar draws per second of the exact discrete Laplace and discrete Gaussian samplers.
 *
 * Prints a table and, as the last line, one JSON object (docs/performance.md).
 */
import * as tf from "@tensorflow/tfjs";
import { addGaussianNoise, gaussianMechanism, laplaceMechanism } from "../src/mechanisms/index.js";
import { discreteGaussian, discreteLaplace, fillGaussian, secureRng } from "../src/random/index.js";
import { discreteGaussianVectorSampler } from "../src/random/discrete-gaussian.js";
import { fastDiscreteGaussianFill } from "../src/random/exp-bernoulli.js";
import { doubleToRational } from "../src/random/rational.js";
import { zigguratTable } from "../src/random/discrete-ziggurat.js";
import { dpApplyGradients, dpGradients, mnistModel } from "../src/dpsgd/index.js";
import { loadMnist } from "../src/data/index.js";
import { type BenchRow as Row, median } from "./report.js";

const REPS = Number(process.env.REPS ?? 5);
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
  const cksBig = fastDiscreteGaussianFill(bigSigma, (absY) => {
    const q = doubleToRational(bigSigma);
    const t = BigInt(Math.floor(bigSigma) + 1);
    const diff = BigInt(absY) * t * q.den * q.den - q.num * q.num;
    return [diff * diff, 2n * q.num * q.num * t * t * q.den * q.den];
  });
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
    "previous exact bulk sampler (CKS), sigma 1.7·2^30": () => cksBig(out64, rng),
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
