/**
 * The DP engine's copy savings on wasm, side by side in one process (issue 19): the small CNN's
 * clipped sum (`computeClippedSum`, in-process) with
 *
 * - "both": the shared Identity (src/dpsgd/kernels/shared-identity.ts: the tape's clones share
 *   their buffers) and the unsaved ops (src/dpsgd/engine/layers/activation.ts, `addProbe`),
 * - "no shared Identity": the unsaved ops only,
 * - "neither": tfjs's copying clones and saving ops, as before issue 19's eighth wave,
 *
 * alternated step by step (the order rotates every repetition) after a shared warm-up; medians
 * and 10th percentiles of each case's steps, and the ratio to "neither". The same bits in every
 * case (test/dpsgd/kernels/shared-identity.test.ts, test/dpsgd/engine/unsaved-ops.test.ts).
 *
 * Usage: npm run bench -- dpsgd-copies   (env: BATCH=256 or a list such as 128,256, REPS=300,
 * WARMUP=200, MODELS=cnn or a list such as cnn,papernot)
 */
import * as tf from "@tensorflow/tfjs";
import { loadavg } from "node:os";
import { prepareBackend } from "../src/backend/index.js";
import { setUnsavedOps } from "../src/dpsgd/engine/layers/activation.js";
import { computeClippedSum } from "../src/dpsgd/gradients.js";
import { mnistInputShape, mnistModel, type MnistModelKind } from "../src/dpsgd/index.js";
import { setSharedIdentity } from "../src/dpsgd/kernels/shared-identity.js";
import { type BenchRow, median } from "./report.js";

const BATCHES = (process.env.BATCH ?? "256").split(",").map(Number);
const REPS = Number(process.env.REPS ?? 300);
const WARMUP = Number(process.env.WARMUP ?? 200);
const MODELS = (process.env.MODELS ?? "cnn").split(",") as MnistModelKind[];
for (const b of BATCHES)
  if (!Number.isInteger(b) || b < 1 || b > 4096) throw new Error(`BATCH must be integers from 1 to 4096; found ${b}`);
if (!Number.isInteger(REPS) || REPS < 1 || REPS > 100_000) throw new Error(`REPS must be an integer from 1 to 100000; found ${REPS}`);
if (!Number.isInteger(WARMUP) || WARMUP < 0 || WARMUP > 100_000)
  throw new Error(`WARMUP must be an integer from 0 to 100000; found ${WARMUP}`);

const info = await prepareBackend({ backend: "wasm", announce: false });
tf.enableProdMode();
const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");
console.log(`backend ${info.name}, load average before: ${load()}`);

const CASES: { name: string; shared: boolean; unsaved: boolean }[] = [
  { name: "both", shared: true, unsaved: true },
  { name: "no shared Identity", shared: false, unsaved: true },
  { name: "neither", shared: false, unsaved: false },
];
const rows: BenchRow[] = [];
const p10 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 10)];
const prevShared = setSharedIdentity({});
const prevUnsaved = setUnsavedOps({});
try {
  for (const kind of MODELS) {
    const model = mnistModel(kind);
    for (const n of BATCHES) {
      const x = tf.randomUniform([n, ...mnistInputShape(kind)], 0, 1, "float32", 7);
      const y = tf.tensor1d(
        Array.from({ length: n }, (_, i) => i % 10),
        "float32",
      );
      const step = (c: (typeof CASES)[number]) => {
        setSharedIdentity({ enabled: c.shared });
        setUnsavedOps({ enabled: c.unsaved });
        const t = performance.now();
        computeClippedSum({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1 });
        return performance.now() - t;
      };
      for (let r = 0; r < WARMUP; r++) for (const c of CASES) step(c);
      const times = CASES.map(() => [] as number[]);
      for (let r = 0; r < REPS; r++) {
        for (let k = 0; k < CASES.length; k++) {
          const i = (k + r) % CASES.length;
          times[i].push(step(CASES[i]));
        }
      }
      const base = median(times[CASES.length - 1]);
      const baseP10 = p10(times[CASES.length - 1]);
      console.log(`\n${kind}, batch ${n} (${REPS} steps per case, alternated):`);
      console.log("case                 | median ms | ratio  | p10 ms | ratio");
      console.log("---------------------|-----------|--------|--------|------");
      CASES.forEach((c, i) => {
        const m = median(times[i]);
        const q = p10(times[i]);
        console.log(
          `${c.name.padEnd(20)} | ${m.toFixed(2).padStart(9)} | ${(m / base).toFixed(3)} | ${q.toFixed(2).padStart(6)} | ${(q / baseP10).toFixed(3)}`,
        );
        rows.push({
          case: `${kind} batch ${n} wasm clipped sum: ${c.name}`,
          metric: "time",
          value: +m.toFixed(3),
          unit: "ms",
          baseline: +base.toFixed(3),
          ratio: +(m / base).toFixed(4),
        });
      });
      tf.dispose([x, y]);
    }
    model.dispose();
  }
} finally {
  setSharedIdentity(prevShared);
  setUnsavedOps(prevUnsaved);
}
console.log(`load average after: ${load()}`);
console.log(JSON.stringify({ bench: "dpsgd-copies", backend: info.name, reps: REPS, warmup: WARMUP, results: rows }));
