/**
 * DP-SGD engine speed: a non-private step through tfjs's own `optimizer.minimize`, dpkit's clipped
 * step (`clippedGradients` + `optimizer.applyGradients`) and the naive per-example loop, side by
 * side (alternating, median of repetitions), for an MLP 784-256-10 and the small CNN of
 * docs/performance.md at batch 256 on wasm, and the CNN briefly on cpu (wasm versus cpu speed-up).
 *
 * Usage: npm run bench -- dpsgd-engine   (env: REPS=7, CPU_BATCH=64)
 *
 * Noise generation (the optimiser's job) is reported on its own row: Gaussian noise for every
 * parameter from dpkit's secure sampler.
 */
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../src/backend/index.js";
import { clippedGradients } from "../src/dpsgd/engine/index.js";
import { perExampleLoss } from "../src/dpsgd/engine/losses.js";
import { fillGaussian } from "../src/random/index.js";
import { type BenchRow as Row, median } from "./report.js";

const REPS = Number(process.env.REPS ?? 7);
const CPU_BATCH = Number(process.env.CPU_BATCH ?? 64);
const BATCH = 256;

function mlp(): tf.Sequential {
  return tf.sequential({
    layers: [tf.layers.dense({ inputShape: [784], units: 256, activation: "relu" }), tf.layers.dense({ units: 10, activation: "softmax" })],
  });
}

function cnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 8, strides: 2, padding: "same", activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 4, strides: 2, padding: "valid", activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, activation: "relu" }),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
}

function batch(shape: number[], n: number, seed: number) {
  const x = tf.randomUniform([n, ...shape], 0, 1, "float32", seed);
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10));
  return { x, y };
}

type Step = () => void;

function steps(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): Record<string, Step> {
  const sgdA = tf.train.sgd(0.01);
  const sgdB = tf.train.sgd(0.01);
  const n = x.shape[0];
  return {
    "non-private (optimizer.minimize)": () => {
      const cost = sgdA.minimize(
        () => tf.mean(perExampleLoss("sparseCategoricalCrossentropy", y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
        true,
      );
      cost?.dataSync();
      cost?.dispose();
    },
    "dpkit clipped step": () => {
      const { clippedSum } = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 });
      const scaled = tf.tidy(() => {
        const out: tf.NamedTensorMap = {};
        for (const [k, g] of Object.entries(clippedSum)) out[k] = tf.div(g, n);
        return out;
      });
      tf.dispose(clippedSum);
      sgdB.applyGradients(scaled);
      Object.values(scaled)[0].dataSync();
      tf.dispose(scaled);
    },
    "naive per-example loop": () => {
      const { clippedSum } = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1, strategy: "naive" });
      const scaled = tf.tidy(() => {
        const out: tf.NamedTensorMap = {};
        for (const [k, g] of Object.entries(clippedSum)) out[k] = tf.div(g, n);
        return out;
      });
      tf.dispose(clippedSum);
      sgdB.applyGradients(scaled);
      tf.dispose(scaled);
    },
  };
}

/** Times each step alternately; `only` limits which steps run on each repetition. */
function measure(all: Record<string, Step>, reps: number, repsFor: Record<string, number> = {}): Record<string, number> {
  const times: Record<string, number[]> = {};
  for (const [name, f] of Object.entries(all)) {
    f(); // warm-up (kernels, caches)
    times[name] = [];
  }
  for (let r = 0; r < reps; r++) {
    for (const [name, f] of Object.entries(all)) {
      if (r >= (repsFor[name] ?? reps)) continue;
      const t0 = performance.now();
      f();
      times[name].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

const rows: Row[] = [];
const table: string[][] = [];

function report(label: string, backend: string, n: number, m: Record<string, number>) {
  const base = m["non-private (optimizer.minimize)"];
  for (const [name, ms] of Object.entries(m)) {
    const ratio = ms / base;
    rows.push({
      case: `${label} ${backend} batch ${n}: ${name}`,
      metric: "step time",
      value: +ms.toFixed(2),
      unit: "ms",
      baseline: +base.toFixed(2),
      ratio: +ratio.toFixed(3),
    });
    table.push([label, backend, String(n), name, ms.toFixed(1), `${ratio.toFixed(2)}x`]);
  }
}

await prepareBackend({ backend: "wasm", announce: false });
tf.enableProdMode();

// MLP on wasm
{
  const model = mlp();
  const { x, y } = batch([784], BATCH, 1);
  report("MLP 784-256-10", "wasm", BATCH, measure(steps(model, x, y), REPS, { "naive per-example loop": 3 }));
  const params = model.countParams();
  const noise = new Float32Array(params);
  const t: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    fillGaussian(noise, 1);
    t.push(performance.now() - t0);
  }
  rows.push({
    case: `MLP noise for ${params} parameters (fillGaussian, secure)`,
    metric: "time",
    value: +median(t).toFixed(2),
    unit: "ms",
  });
  table.push(["MLP 784-256-10", "-", "-", `secure Gaussian noise, ${params} params`, median(t).toFixed(1), "-"]);
  tf.dispose([x, y]);
  model.dispose();
}

// CNN on wasm
let wasmCnnSmall = 0;
{
  const model = cnn();
  const { x, y } = batch([28, 28, 1], BATCH, 2);
  report("small CNN", "wasm", BATCH, measure(steps(model, x, y), REPS, { "naive per-example loop": 2 }));
  tf.dispose([x, y]);
  const small = batch([28, 28, 1], CPU_BATCH, 3);
  const m = measure(steps(model, small.x, small.y), Math.min(REPS, 5), { "naive per-example loop": 0 });
  delete m["naive per-example loop"];
  report("small CNN", "wasm", CPU_BATCH, m);
  wasmCnnSmall = m["non-private (optimizer.minimize)"];
  const wasmDpSmall = m["dpkit clipped step"];
  tf.dispose([small.x, small.y]);
  model.dispose();

  // CNN on cpu, briefly
  await prepareBackend({ backend: "cpu", announce: false });
  const modelCpu = cnn();
  const c = batch([28, 28, 1], CPU_BATCH, 3);
  const mc = measure(steps(modelCpu, c.x, c.y), 1, { "naive per-example loop": 0 });
  delete mc["naive per-example loop"];
  report("small CNN", "cpu", CPU_BATCH, mc);
  const speedNp = mc["non-private (optimizer.minimize)"] / wasmCnnSmall;
  const speedDp = mc["dpkit clipped step"] / wasmDpSmall;
  rows.push({
    case: `small CNN batch ${CPU_BATCH}: wasm speed-up over cpu, non-private step`,
    metric: "speed-up",
    value: +speedNp.toFixed(1),
    unit: "x",
  });
  rows.push({
    case: `small CNN batch ${CPU_BATCH}: wasm speed-up over cpu, dpkit clipped step`,
    metric: "speed-up",
    value: +speedDp.toFixed(1),
    unit: "x",
  });
  table.push([
    "small CNN",
    "wasm/cpu",
    String(CPU_BATCH),
    "speed-up non-private / dpkit step",
    `${speedNp.toFixed(1)}x / ${speedDp.toFixed(1)}x`,
    "-",
  ]);
  tf.dispose([c.x, c.y]);
  modelCpu.dispose();
}

const header = ["model", "backend", "batch", "step", "median ms", "vs non-private"];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of table) console.log(line(r));
console.log(JSON.stringify({ bench: "dpsgd-engine", results: rows }));
