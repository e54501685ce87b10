/**
 * The Dense rule's sparse-input path against its dense products, by input density: where the
 * crossover lies (the rule's default threshold `maxDensity` 0.4 is set below it).
 *
 * One Dense layer 784 → 128 (the MNIST MLP's first layer) at batch 256 on wasm: its forward
 * product (`denseRule.linear`) and its clipped sum as the DP step forms it (sparse: the host sum,
 * `weightedSumHost`; dense: `weightedSum` and the download), with the sparse path forced on
 * (`maxDensity` 1) and off, alternated, median of the repetitions. Inputs: the first 256 MNIST
 * training images (their own density) and random inputs whose entries are nonzero with
 * probability p at random positions.
 *
 * Usage: `npm run bench -- dpsgd-sparse` (env DPSGD_SPARSE_REPS, default 30).
 */
import { prepareBackend, tf } from "../src/backend/index.js";
import { denseRule } from "../src/dpsgd/engine/index.js";
import { setSparseDenseInputs, sparseDenseCalls } from "../src/dpsgd/engine/layers/dense.js";
import { benchModelAndBatch } from "./dpsgd-models.js";
import { type BenchRow as Row, median } from "./report.js";

const reps = Number(process.env.DPSGD_SPARSE_REPS ?? 30);
const n = 256;
const d = 784;
const units = 128;

await prepareBackend({ backend: "wasm", announce: false });

const layer = tf.layers.dense({ inputShape: [d], units, activation: "tanh" });
tf.sequential({ layers: [layer] });
const g = tf.randomNormal([n, units], 0, 0.1, "float32", 1) as tf.Tensor2D;
const c = Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 7) / 14);
const cTensor = tf.tensor1d(c);

function randomInput(p: number, seed: number): tf.Tensor2D {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const v = new Float32Array(n * d);
  for (let i = 0; i < v.length; i++) v[i] = next() < p ? 0.05 + next() : 0;
  return tf.tensor2d(v, [n, d]);
}

/** One forward product and one clipped sum of the layer, as the DP step runs them; returns ms. */
function products(x: tf.Tensor2D, sparse: boolean): number {
  const previous = setSparseDenseInputs({ enabled: sparse, maxDensity: 1 });
  const calls = sparseDenseCalls.forward;
  const t = performance.now();
  tf.tidy(() => {
    const z = denseRule.linear(layer, x);
    const terms = denseRule.perExample(layer, { input: x, outputGradient: g, mode: "auto" });
    if (terms.weightedSumHost) terms.weightedSumHost(c);
    else for (const s of terms.weightedSum(cTensor)) s.dataSync();
    z.dataSync();
  });
  const ms = performance.now() - t;
  setSparseDenseInputs(previous);
  if (sparseDenseCalls.forward > calls !== sparse) throw new Error(`the sparse path was ${sparse ? "not " : ""}taken`);
  return ms;
}

const b = benchModelAndBatch("mlp", n);
const inputs: { name: string; x: tf.Tensor2D }[] = [{ name: "MNIST", x: b.x as tf.Tensor2D }];
for (const p of [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8]) inputs.push({ name: `random p=${p}`, x: randomInput(p, Math.round(p * 1000)) });

const rows: Row[] = [];
const table: string[][] = [];
for (const { name, x } of inputs) {
  const v = x.dataSync();
  let nz = 0;
  for (const e of v) if (e !== 0) nz++;
  const density = nz / v.length;
  for (let i = 0; i < 3; i++) {
    products(x, true);
    products(x, false);
  }
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < reps; i++) {
    on.push(products(x, true));
    off.push(products(x, false));
  }
  const s = median(on);
  const dd = median(off);
  rows.push({
    case: `dense 784→128 b${n} wasm ${name} (density ${density.toFixed(3)}) sparse vs dense`,
    metric: "forward + clipped sum",
    value: s,
    unit: "ms",
    baseline: dd,
    ratio: s / dd,
  });
  table.push([name, density.toFixed(3), s.toFixed(2), dd.toFixed(2), (s / dd).toFixed(2)]);
}
const header = ["input", "density", "sparse ms", "dense ms", "sparse/dense"];
const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j].length)));
console.log(`\nDense 784→128, batch ${n}, wasm: forward product + clipped sum (host), medians of ${reps}, alternated`);
console.log(header.map((h, j) => h.padStart(widths[j])).join("  "));
for (const r of table) console.log(r.map((c2, j) => c2.padStart(widths[j])).join("  "));
console.log(JSON.stringify({ bench: "dpsgd-sparse", batchSize: n, reps, results: rows }));
