/**
 * Noise generation speed. Usage: npm run bench -- noise   (env: REPS=5, DRAWS=4000000)
 *
 * - Secure Gaussian vector noise (`fillGaussian`, crypto-sourced Box–Muller, continuous: the
 *   DP-SGD path) against `tf.randomNormal` (tfjs, float32, seeded from Math.random: never for
 *   privacy) for 4 million draws, side by side: alternating, REPS repetitions, median.
 * - The exact grid Gaussian mechanism (`gaussianMechanism(...).releaseVector`, discrete Gaussian
 *   noise on a power-of-two grid: the floating-point-attack-immune path) on the same vector size.
 * - Scalar draws per second of the exact discrete Laplace and discrete Gaussian samplers.
 *
 * Prints a table and, as the last line, one JSON object (docs/performance.md).
 */
import * as tf from "@tensorflow/tfjs";
import { gaussianMechanism, laplaceMechanism } from "../src/mechanisms/index.js";
import { discreteGaussian, discreteLaplace, fillGaussian, secureRng } from "../src/random/index.js";
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
  const cases: Record<string, () => void> = {
    "tf.randomNormal float32 (insecure)": () => {
      const t = tf.randomNormal([DRAWS]);
      t.dataSync();
      t.dispose();
    },
    "fillGaussian Float32Array (secure)": () => void fillGaussian(out32, 1, rng),
    "fillGaussian Float64Array (secure)": () => void fillGaussian(out64, 1, rng),
  };
  // Warm up once each, then alternate.
  for (const f of Object.values(cases)) f();
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let rep = 0; rep < REPS; rep++) for (const [k, f] of Object.entries(cases)) times[k].push(seconds(f));
  const tfRate = DRAWS / median(times["tf.randomNormal float32 (insecure)"]) / 1e6;
  for (const k of Object.keys(cases)) {
    const rate = DRAWS / median(times[k]) / 1e6;
    const row: Row = { case: `${k}, ${DRAWS / 1e6}M draws`, metric: "rate", value: rate, unit: "M draws/s" };
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

  // --- Table and JSON ----------------------------------------------------------------------------
  const w = Math.max(...rows.map((r) => r.case.length));
  console.log(`${"case".padEnd(w)}  ${"M draws/s".padStart(10)}  ${"vs tf.randomNormal".padStart(18)}`);
  for (const r of rows) {
    console.log(
      `${r.case.padEnd(w)}  ${r.value.toFixed(2).padStart(10)}  ${(r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`).padStart(18)}`,
    );
  }
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
