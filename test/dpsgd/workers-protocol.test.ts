/**
 * The worker pool's step protocol (src/dpsgd/workers/protocol.ts): a step is a few numbers in each
 * worker's shared control arrays, and a configuration message is posted only when what it holds
 * changed (a shared array grown or reallocated, another loss, strategy, label dtype, or training
 * metrics). Real worker threads on the cpu backend, the calling thread computing a share and a
 * plain 2-worker pool:
 * - a sequence of steps that changes one thing at a time (clip bound, loss, strategy, metrics on
 *   and off, a larger batch, int32 labels, a smaller batch) gives the in-process chunked bytes at
 *   every step (control: consecutive steps' bytes differ, so a stale parameter would show);
 * - steps whose configuration is unchanged post no message; a change posts one per busy worker;
 * - a Dense layer on mostly-zero inputs, whose clipped sum comes back as a host array (the sparse
 *   path; the chunk takes it without a tensor round trip): the pool gives the chunked bytes, and
 *   the calling thread's chunks took that path (its counter moved);
 * - negative controls, each failing the sequence: a worker that ignores every configuration after
 *   its first ("stale-config" fault: wrong bytes or a DpError at the loss change) and one that keeps
 *   the first step's clip bound ("stale-clip": wrong bytes at the clip change).
 */
import { MessagePort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { prepareBackend } from "../../src/backend/index.js";
import type { DpWorkerPool } from "../../src/dpsgd/index.js";
import { computeClippedSum, type ClippedSumParts } from "../../src/dpsgd/gradients.js";
import { chunkedClippedSum } from "../../src/dpsgd/workers/chunks.js";
import type { MetricSpec } from "../../src/dpsgd/fit-metrics.js";
import type { PerExampleLoss } from "../../src/dpsgd/engine/index.js";
import { startDpWorkerPool } from "../../src/dpsgd/workers/pool.js";
import type { WorkerFault } from "../../src/dpsgd/workers/protocol.js";
import { batch, bytesWithLoss, CHUNK, CLIP, LOSS, model } from "../helpers/dp-workers.js";
import { sparseDenseCalls } from "../../src/dpsgd/engine/layers/dense.js";
import { denseStackCalls } from "../../src/dpsgd/engine/dense-stack.js";
import { SeededRng } from "../../src/random/index.js";

const pools: DpWorkerPool[] = [];
async function start(m: tf.LayersModel, workers: number, callerComputes: boolean, fault?: WorkerFault): Promise<DpWorkerPool> {
  const p = await startDpWorkerPool(
    { model: m, workers, chunkSize: CHUNK, callerComputes, startupTimeoutMs: 90_000, stepTimeoutMs: 60_000 },
    fault ? { 0: fault } : {},
  );
  pools.push(p);
  return p;
}

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

const accuracy: MetricSpec[] = [{ key: "acc", fn: (t, p) => tf.metrics.sparseCategoricalAccuracy(t, p) }];

interface Step {
  what: string;
  n: number;
  clip: number;
  loss: PerExampleLoss;
  strategy?: "auto" | "naive";
  metrics?: MetricSpec[];
  intLabels?: boolean;
}

/** One thing changes from each step to the next. */
const STEPS: Step[] = [
  { what: "first", n: 37, clip: CLIP, loss: LOSS },
  { what: "same again", n: 37, clip: CLIP, loss: LOSS },
  { what: "clip", n: 37, clip: CLIP / 7, loss: LOSS },
  { what: "loss", n: 37, clip: CLIP / 7, loss: "sparseCategoricalCrossentropy" },
  { what: "strategy", n: 37, clip: CLIP / 7, loss: "sparseCategoricalCrossentropy", strategy: "naive" },
  { what: "metrics", n: 37, clip: CLIP / 7, loss: LOSS, metrics: accuracy },
  { what: "metrics off", n: 37, clip: CLIP, loss: LOSS },
  { what: "larger batch", n: 61, clip: CLIP, loss: LOSS },
  { what: "int32 labels", n: 61, clip: CLIP, loss: LOSS, intLabels: true },
  { what: "smaller batch", n: 9, clip: CLIP, loss: LOSS },
];

function bytes(parts: ClippedSumParts): Buffer {
  return Buffer.concat([bytesWithLoss(parts), Buffer.from(Float64Array.from(parts.metricSums).buffer)]);
}

/** Runs STEPS on `pool`: for each, whether it gave the in-process chunked bytes (or the error it threw). */
function run(m: tf.LayersModel, pool: DpWorkerPool): { what: string; same: boolean | string; ref: Buffer }[] {
  return STEPS.map((s) => {
    const b = batch(s.n, 70 + s.n + (s.intLabels ? 1000 : 0)); // "same again" repeats the first step's batch
    const y = s.intLabels ? tf.cast(b.y, "int32") : b.y;
    const o = { model: m, loss: s.loss, x: b.x, y, l2NormClip: s.clip, strategy: s.strategy, metrics: s.metrics };
    try {
      const ref = bytes(chunkedClippedSum({ ...o, chunkSize: CHUNK }));
      try {
        return { what: s.what, same: bytes(computeClippedSum({ ...o, workers: pool })).equals(ref), ref };
      } catch (e) {
        return { what: s.what, same: (e as Error).message, ref };
      }
    } finally {
      tf.dispose([b.x, b.y, y]);
    }
  });
}

describe("a step's numbers and configuration reach the workers", () => {
  const m = model(9);

  it.each([
    ["the caller + 1 worker", 1, true],
    ["2 workers", 2, false],
  ] as const)(
    "%s: every step of a sequence that changes one thing at a time gives the in-process chunked bytes",
    async (_name, workers, caller) => {
      const p = await start(m, workers, caller);
      const got = run(m, p);
      expect(got.map((g) => [g.what, g.same])).toEqual(STEPS.map((s) => [s.what, true]));
      // Control: each change changes the bytes (so a worker that missed it would show), and an
      // unchanged step repeats them.
      const changed = got.slice(1).map((g, k) => [g.what, !g.ref.equals(got[k].ref)]);
      expect(changed).toEqual(STEPS.slice(1).map((s) => [s.what, s.what !== "same again"]));
    },
    120_000,
  );

  it("posts no message while the configuration is unchanged, one per busy worker when it changes", async () => {
    const p = await start(m, 2, false);
    const { x, y } = batch(37, 80);
    const spy = vi.spyOn(MessagePort.prototype, "postMessage");
    try {
      const step = (loss: PerExampleLoss, clip = CLIP) => computeClippedSum({ model: m, loss, x, y, l2NormClip: clip, workers: p });
      const posted = (): number => spy.mock.calls.filter((c) => (c[0] as { kind?: string }).kind === "config").length;
      step(LOSS);
      expect(posted()).toBe(2); // the first step: one configuration per worker
      for (let k = 0; k < 4; k++) step(LOSS, CLIP * (1 + k));
      expect(posted()).toBe(2); // the same configuration (the clip bound is a number): no message
      step("sparseCategoricalCrossentropy");
      expect(posted()).toBe(4); // control: another loss posts one per worker
    } finally {
      spy.mockRestore();
      tf.dispose([x, y]);
    }
  }, 120_000);

  it("negative controls: a worker that ignores later configurations, or keeps the first clip bound, fails the sequence", async () => {
    const [stale, clip] = await Promise.all([start(m, 1, true, "stale-config"), start(m, 1, true, "stale-clip")]);
    const a = run(m, stale);
    // Correct until the first change of configuration (the clip bound is not one), wrong from the loss change on.
    expect(a.slice(0, 3).map((g) => g.same)).toEqual([true, true, true]);
    expect(a[3].same).not.toBe(true);
    // (after the first failure the pool is unusable: every later step is refused)
    const b = run(m, clip);
    expect(b.slice(0, 2).map((g) => g.same)).toEqual([true, true]);
    expect(b[2].same).toBe(false);
  }, 120_000);
});

describe("a rule's host-array sums through the pool", () => {
  // The plain MLP takes the fused Dense-stack route; with a LayerNormalization between its Dense layers
  // (which that route refuses) the first Dense layer takes the per-layer rule's sparse path. Both hand the
  // DP step host arrays, on the calling thread and in the worker alike.
  const cases = [
    { name: "the fused Dense-stack route (plain MLP)", layerNorm: false, counter: () => denseStackCalls.taken },
    { name: "the Dense rule's sparse path (LayerNormalization between)", layerNorm: true, counter: () => sparseDenseCalls.clippedSum },
  ];
  it.each(cases)(
    "$name: the caller + 1 worker give the chunked bytes, the calling thread's chunks through it",
    async ({ layerNorm, counter }) => {
      const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.1, seed });
      const mlp = tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [784], units: 128, activation: "tanh", kernelInitializer: init(1) }),
          ...(layerNorm ? [tf.layers.layerNormalization()] : []),
          tf.layers.dense({ units: 10, kernelInitializer: init(2) }),
        ],
      });
      const p = await startDpWorkerPool({ model: mlp, workers: 1, chunkSize: 16, callerComputes: true, startupTimeoutMs: 90_000 });
      pools.push(p);
      const r = new SeededRng(3);
      const n = 40;
      // MNIST-like: 85% zeros (16 examples × 784 × 128 units is above the sparse path's minimum work).
      const xs = Float32Array.from({ length: n * 784 }, () => (r.nextUint32() / 2 ** 32 < 0.85 ? 0 : r.nextUint32() / 2 ** 32));
      const x = tf.tensor2d(xs, [n, 784]);
      const y = tf.tensor1d(Array.from({ length: n }, (_, i) => i % 10));
      try {
        const ref = bytes(chunkedClippedSum({ model: mlp, loss: LOSS, x, y, l2NormClip: 1, chunkSize: 16 }));
        const before = counter();
        const got = bytes(computeClippedSum({ model: mlp, loss: LOSS, x, y, l2NormClip: 1, workers: p }));
        expect(counter()).toBeGreaterThan(before);
        expect(got.equals(ref)).toBe(true);
      } finally {
        tf.dispose([x, y]);
        mlp.dispose();
      }
    },
    120_000,
  );
});
