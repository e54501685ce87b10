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
 * Ratios are DP step / tfjs minimize and DP step / tfjs fit. Usage: `npm run bench -- dpsgd`
 * (env DPSGD_BENCH_REPS, DPSGD_BENCH_BACKENDS=wasm,cpu, DPSGD_BENCH_MODELS=mlp,cnn,embedding,lstm).
 */
import { prepareBackend, tf } from "../src/backend/index.js";
import {
  dpApplyGradients,
  dpGradients,
  mnistInputShape,
  mnistModel,
  poissonSampleIndices,
  type MnistModelKind,
} from "../src/dpsgd/index.js";
import { type BenchRow as Row, median } from "./report.js";
import { textBatch, textModel } from "./dpsgd-models.js";
import { loadMnist } from "../src/data/index.js";

const reps = Number(process.env.DPSGD_BENCH_REPS ?? 7);
const backends = (process.env.DPSGD_BENCH_BACKENDS ?? "wasm,cpu").split(",") as ("wasm" | "cpu")[];
const models = (process.env.DPSGD_BENCH_MODELS ?? "mlp,cnn,embedding,lstm").split(",") as ("mlp" | "cnn" | "embedding" | "lstm")[];
const batchSize = 256;

const results: Row[] = [];
const table: string[][] = [];

async function timeIt(f: () => void | Promise<void>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

const mnist = loadMnist({ split: "train", count: batchSize });

for (const backend of backends) {
  await prepareBackend({ backend, announce: false });
  for (const kind of models) {
    // The cpu backend is slow for convolutions and recurrences: fewer repetitions there.
    const r = backend === "cpu" && (kind === "cnn" || kind === "lstm") ? Math.min(reps, 3) : reps;
    const text = kind === "embedding" || kind === "lstm";
    const model = text ? textModel(kind) : mnistModel(kind as MnistModelKind);
    const x = text
      ? textBatch(batchSize, kind === "lstm" ? 32 : 64)
      : tf.tensor(mnist.images, [batchSize, ...mnistInputShape(kind as MnistModelKind)]);
    const y = text
      ? tf.tensor1d(
          Array.from({ length: batchSize }, (_, i) => i % 2),
          "float32",
        )
      : tf.tensor1d(mnist.labels, "float32");
    const classes = text ? 2 : 10;
    const yOneHot = tf.oneHot(tf.cast(y, "int32"), classes);
    const optMin = tf.train.sgd(0.01);
    const optDp = tf.train.sgd(0.01);
    model.compile({ optimizer: tf.train.sgd(0.01), loss: "sparseCategoricalCrossentropy" });
    const cases: Record<string, () => void | Promise<void>> = {
      "tfjs minimize": () => {
        const l = optMin.minimize(() => tf.losses.softmaxCrossEntropy(yOneHot, model.predict(x) as tf.Tensor) as tf.Scalar, true);
        l?.dataSync();
        l?.dispose();
      },
      "tfjs fit": async () => {
        await model.fit(x, y, { batchSize, epochs: 1, verbose: 0, shuffle: false });
      },
      "dpkit DP step": () => {
        const g = dpGradients({
          model,
          loss: "sparseCategoricalCrossentropy",
          x,
          y,
          l2NormClip: 1,
          noiseMultiplier: 1.1,
          expectedBatchSize: batchSize,
          samplingProbability: batchSize / 60000,
        });
        dpApplyGradients(optDp, g);
      },
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    for (const f of Object.values(cases)) await f(); // warm-up
    for (let i = 0; i < r; i++) for (const [name, f] of Object.entries(cases)) times[name].push(await timeIt(f));
    // Naive per-example loop, for scale.
    const naive: number[] = [];
    const naiveReps = text ? 0 : backend === "cpu" ? 1 : 2;
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
    results.push({ case: `${tag} tfjs minimize`, metric: "step time", value: mMin, unit: "ms" });
    results.push({ case: `${tag} tfjs fit`, metric: "step time", value: mFit, unit: "ms" });
    results.push({
      case: `${tag} dpkit DP step vs minimize`,
      metric: "step time",
      value: mDp,
      unit: "ms",
      baseline: mMin,
      ratio: mDp / mMin,
    });
    results.push({ case: `${tag} dpkit DP step vs fit`, metric: "step time", value: mDp, unit: "ms", baseline: mFit, ratio: mDp / mFit });
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
    table.push([
      kind,
      backend,
      mMin.toFixed(1),
      mFit.toFixed(1),
      mDp.toFixed(1),
      (mDp / mMin).toFixed(2),
      (mDp / mFit).toFixed(2),
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

const header = ["model", "backend", "minimize ms", "fit ms", "DP step ms", "DP/minimize", "DP/fit", "naive ms", "naive/minimize", "reps"];
const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j].length)));
console.log(header.map((h, j) => h.padStart(widths[j])).join("  "));
for (const row of table) console.log(row.map((c, j) => c.padStart(widths[j])).join("  "));
if (dpWasm && dpCpu) console.log(`CNN DP step: wasm ${(dpCpu.value / dpWasm.value).toFixed(1)}x faster than cpu`);
console.log(JSON.stringify({ bench: "dpsgd", results }));
