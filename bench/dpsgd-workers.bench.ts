/**
 * DP-SGD worker scaling: one full DP step (clipped sum, secure Gaussian noise, SGD update) at
 * batch 256 for the MNIST MLP and the small CNN (`mnistModel("mlp" | "cnn")`) on wasm, computed
 * in the calling thread (the default, no `workers`) and with a pool of worker threads
 * (`createDpWorkerPool`, chunks of CHUNK examples), side by side: the cases alternate within
 * each repetition and the table gives medians. The speed-up is in-process / workers. Also
 * printed: the CPU time of all threads per step (the total work: sharding's overhead shows here
 * whatever the load) and the slowest worker's own time per step.
 *
 * Usage: npm run bench -- dpsgd-workers   (env: REPS=15, WORKERS=2 or a list such as 1,2, CHUNK=128, MODELS=mlp,cnn,
 * DPKIT_BACKEND=wasm|cpu). The load average is printed before and after: on a loaded machine
 * the workers compete with other processes for the cores and the speed-up is understated.
 */
import { availableParallelism, loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../src/backend/index.js";
import { lastWorkerTimes } from "../src/dpsgd/workers/pool.js";
import { chunkedClippedSum } from "../src/dpsgd/workers/chunks.js";
import { issueDpGradients, privatizeParts } from "../src/dpsgd/gradients.js";
import { sampledGaussianStep } from "../src/accounting/index.js";
import { createDpWorkerPool, dpApplyGradients, dpGradients, mnistInputShape, mnistModel, type MnistModelKind } from "../src/dpsgd/index.js";
import { SeededRng } from "../src/random/index.js";
import { type BenchRow as Row, median } from "./report.js";

const REPS = Number(process.env.REPS ?? 15);
const WORKERS = (process.env.WORKERS ?? "2").split(",").map(Number);
const CHUNK = Number(process.env.CHUNK ?? 128);
const MODELS = (process.env.MODELS ?? "mlp,cnn").split(",") as MnistModelKind[];
const BATCH = 256;

const info = await prepareBackend({ announce: false });
tf.enableProdMode();
const load = (): string =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");
const loadBefore = load();
console.log(`backend ${info.name}, ${availableParallelism()} cores, load average before: ${loadBefore}`);

const rows: Row[] = [];
const table: string[][] = [];

for (const kind of MODELS) {
  const model = mnistModel(kind);
  const rng = new SeededRng(1);
  const x = tf.tensor(
    Float32Array.from({ length: BATCH * 784 }, () => rng.nextUint32() / 2 ** 32),
    [BATCH, ...mnistInputShape(kind)],
  );
  const y = tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 7) % 10));
  const pools = await Promise.all(WORKERS.map((w) => createDpWorkerPool({ model, workers: w, chunkSize: CHUNK })));
  const optimizer = tf.train.sgd(0.01);
  // Secure noise (the default source) in every case, as in training.
  const step = (workers?: (typeof pools)[number]) => () =>
    dpApplyGradients(
      optimizer,
      dpGradients({
        model,
        loss: "sparseCategoricalCrossentropy",
        x,
        y,
        l2NormClip: 1,
        noiseMultiplier: 1.1,
        expectedBatchSize: BATCH,
        workers,
      }),
    );
  const label = (w: number): string => `${w} worker${w > 1 ? "s" : ""}`;
  // The same chunking as the pools, in the calling thread: separates the cost of chunking from
  // the cost of the threads (copies, messages).
  const chunked = (): void => {
    const parts = chunkedClippedSum({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1, chunkSize: CHUNK });
    const grads = privatizeParts(parts, { l2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: BATCH });
    const event = sampledGaussianStep(1.1).event;
    dpApplyGradients(optimizer, issueDpGradients({ grads, norms: parts.norms, event, lossValue: parts.lossSum / BATCH, batchSize: BATCH }));
  };
  const cases: [string, () => void][] = [
    ["in-process (no workers)", step()],
    [`in-process, chunks of ${CHUNK}`, chunked],
    ...pools.map((p, i): [string, () => void] => [label(WORKERS[i]), step(p)]),
  ];
  const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  // CPU time of the whole process (all threads) per step: the total work, whatever the load.
  const cpu = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  // Inside the workers: the slowest worker's own time per step (the critical path without the
  // calling thread's copies, noise and update, and without waiting to be scheduled).
  const inside = new Map<string, number[]>(pools.map((_, i) => [label(WORKERS[i]), []]));
  for (const [, f] of cases) f(); // warm-up
  for (let r = 0; r < REPS; r++) {
    for (const [name, f] of r % 2 === 0 ? cases : [...cases].reverse()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      f();
      (times.get(name) as number[]).push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      (cpu.get(name) as number[]).push((c.user + c.system) / 1000);
      const p = pools[cases.findIndex(([n]) => n === name) - 2];
      if (p) inside.get(name)?.push(Math.max(...lastWorkerTimes(p)));
    }
  }
  const base = median(times.get(cases[0][0]) as number[]);
  for (const [name] of cases) {
    const ms = median(times.get(name) as number[]);
    const speedUp = base / ms;
    rows.push({
      case: `${kind} batch ${BATCH} ${info.name}: ${name}`,
      metric: "DP step time",
      value: +ms.toFixed(2),
      unit: "ms",
      baseline: +base.toFixed(2),
      ratio: +speedUp.toFixed(3),
    });
    const own = inside.get(name);
    const cpuMs = median(cpu.get(name) as number[]);
    rows.push({
      case: `${kind} batch ${BATCH} ${info.name}: ${name}, CPU time of all threads`,
      metric: "CPU time",
      value: +cpuMs.toFixed(2),
      unit: "ms",
    });
    table.push([kind, name, ms.toFixed(1), `${speedUp.toFixed(2)}x`, cpuMs.toFixed(1), own ? median(own).toFixed(1) : "-"]);
    if (own)
      rows.push({
        case: `${kind} batch ${BATCH} ${info.name}: ${name}, slowest worker's own time`,
        metric: "time",
        value: +median(own).toFixed(2),
        unit: "ms",
      });
  }
  await Promise.all(pools.map((p) => p.close()));
  tf.dispose([x, y]);
  model.dispose();
}

const loadAfter = load();
const w = [5, 26, 10, 9, 12, 20];
const line = (c: string[]) => c.map((s, i) => s.padEnd(w[i])).join(" | ");
console.log(line(["model", "case", "median ms", "speed-up", "CPU ms", "slowest worker, ms"]));
console.log(w.map((n) => "-".repeat(n)).join("-|-"));
for (const r of table) console.log(line(r));
console.log(`chunk size ${CHUNK}, ${REPS} repetitions alternating; load average after: ${loadAfter}`);
console.log(
  JSON.stringify({
    bench: "dpsgd-workers",
    backend: info.name,
    cores: availableParallelism(),
    chunkSize: CHUNK,
    reps: REPS,
    loadBefore,
    loadAfter,
    rows,
  }),
);
