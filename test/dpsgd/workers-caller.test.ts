/**
 * `callerComputes` (issue 19): the calling thread computes the first ⌈chunks / (workers + 1)⌉
 * chunks itself, with the same `computeChunk`, while the workers compute the rest; real worker
 * threads on cpu and wasm:
 * - the clipped sum, norms and loss are the in-process chunked bytes for batches smaller than one
 *   chunk, of exactly one chunk and of several chunks, with the caller + 1 worker and the caller +
 *   2 workers, and the calling thread really computes its share (the workers answer only for the
 *   rest; none is asked when the caller's share is the whole batch);
 * - negative controls: a worker that flips one bit of its shard changes the bytes (the workers'
 *   chunks are in the result), and another chunk size changes them;
 * - with a seeded source the step equals the one of a plain 1-worker pool bit for bit, and
 *   `makePrivate` with such a pool trains to the same weights and accuracies as with a plain one
 *   (control: another seed gives other weights);
 * - a failing worker still surfaces as a DpError naming it; a non-boolean option is refused.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareBackend, type BackendName } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { SeededRng } from "../../src/random/index.js";
import { batch, bytesWithLoss, CHUNK, CLIP, LOSS, model } from "../helpers/dp-workers.js";
import { createDpWorkerPool, dpGradients, makePrivate, type DpWorkerPool } from "../../src/dpsgd/index.js";
import { computeClippedSum } from "../../src/dpsgd/gradients.js";
import { chunkedClippedSum } from "../../src/dpsgd/workers/chunks.js";
import { lastStepProfile, startDpWorkerPool } from "../../src/dpsgd/workers/pool.js";

const OPTIONS = { chunkSize: CHUNK, startupTimeoutMs: 90_000, stepTimeoutMs: 60_000 };

const pools: DpWorkerPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await prepareBackend({ backend: "cpu", announce: false });
});

describe.each(["cpu", "wasm"] as BackendName[])("callerComputes on the %s backend", (backend) => {
  let m: tf.LayersModel;
  let c1: DpWorkerPool, c2: DpWorkerPool, plain: DpWorkerPool;
  beforeAll(async () => {
    await prepareBackend({ backend, announce: false });
    m = model(7);
    [c1, c2, plain] = await Promise.all([
      createDpWorkerPool({ model: m, workers: 1, callerComputes: true, ...OPTIONS }),
      createDpWorkerPool({ model: m, workers: 2, callerComputes: true, ...OPTIONS }),
      createDpWorkerPool({ model: m, workers: 1, ...OPTIONS }),
    ]);
    pools.push(c1, c2, plain);
  }, 150_000);

  it("the caller + 1 or 2 workers give the in-process chunked bytes, batches smaller than one chunk included", () => {
    expect(c1.callerComputes && c2.callerComputes && !plain.callerComputes).toBe(true);
    // n → chunks → the caller's share; the workers answer for the rest.
    for (const [k, n] of [3, 8, 9, 17, 37, 1].entries()) {
      const { x, y } = batch(n, 60 + k);
      try {
        const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
        const chunks = Math.ceil(n / CHUNK);
        for (const [p, workers] of [
          [c1, 1],
          [c2, 2],
        ] as const) {
          const got = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: p });
          expect(got.batchSize).toBe(n);
          expect(bytesWithLoss(got).equals(bytesWithLoss(ref))).toBe(true);
          // The calling thread computed its ⌈chunks / (workers + 1)⌉ chunks: only the workers with chunks left answered.
          const own = Math.ceil(chunks / (workers + 1));
          const busy = Math.min(workers, chunks - own);
          const profile = lastStepProfile(p);
          expect(profile?.workers).toHaveLength(busy);
          expect(profile?.caller).toBeGreaterThan(0);
          // The step's timeline (bench only) is in order on each thread, and a worker woke after the request was posted.
          const at = profile!.at;
          const seq = [at.start, at.posted, at.callerDone, at.aheadDone, at.answered, at.reduced];
          expect(seq.every((v, i) => Number.isFinite(v) && (i === 0 || v >= seq[i - 1]))).toBe(true);
          // (Across threads the epoch clocks may differ by a little: 0.5 ms of slack there.)
          for (const w of profile!.workers) {
            const ws = [w.at!.woke, w.at!.computeFrom, w.at!.computeTo, w.at!.done];
            expect(ws.every((v, i) => Number.isFinite(v) && (i === 0 || v >= ws[i - 1]))).toBe(true);
            expect(w.at!.woke).toBeGreaterThanOrEqual(at.start - 0.5);
            expect(w.at!.done).toBeLessThanOrEqual(at.answered + 0.5);
          }
        }
      } finally {
        tf.dispose([x, y]);
      }
    }
  });

  it("negative controls: a worker that flips one bit of its shard, or another chunk size, changes the bytes", async () => {
    const bad = await startDpWorkerPool({ model: m, workers: 1, callerComputes: true, ...OPTIONS }, { 0: "perturb" });
    pools.push(bad);
    const { x, y } = batch(37, 80);
    try {
      const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
      expect(
        bytesWithLoss(computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: c1 })).equals(bytesWithLoss(ref)),
      ).toBe(true);
      expect(
        bytesWithLoss(computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: bad })).equals(bytesWithLoss(ref)),
      ).toBe(false);
      const other = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: 5 });
      expect(bytesWithLoss(other).equals(bytesWithLoss(ref))).toBe(false);
    } finally {
      tf.dispose([x, y]);
    }
  }, 120_000);

  it("with a seeded source, the noisy step equals a plain 1-worker pool's bit for bit", () => {
    const { x, y } = batch(37, 81);
    try {
      const step = (workers: DpWorkerPool, seed = 99) =>
        dpGradients({
          model: m,
          loss: LOSS,
          x,
          y,
          l2NormClip: CLIP,
          noiseMultiplier: 1.1,
          expectedBatchSize: 37,
          workers,
          rng: new SeededRng(seed),
          allowInsecureRng: true,
        });
      const flat = (workers: DpWorkerPool, seed?: number) =>
        Buffer.concat(Object.values(step(workers, seed).gradientValues()).map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
      expect(flat(c1).equals(flat(plain))).toBe(true);
      // Control: another draw gives other bytes.
      expect(flat(c1, 100).equals(flat(plain))).toBe(false);
    } finally {
      tf.dispose([x, y]);
    }
  });
});

describe("makePrivate with a callerComputes pool", () => {
  it("trains to the same bytes (weights, accuracy) as with a plain 1-worker pool (seeded source)", async () => {
    await prepareBackend({ backend: "cpu", announce: false });
    const { x, y } = batch(64, 83);
    const run = async (workers: DpWorkerPool, m: tf.LayersModel, seed = 21) => {
      const priv = makePrivate(m, {
        l2NormClip: 1,
        noiseMultiplier: 1.1,
        targetDelta: 1e-5,
        batchSize: 24,
        optimizer: tf.train.sgd(0.1),
        loss: LOSS,
        metrics: ["accuracy"],
        rng: new SeededRng(seed),
        allowInsecureRng: true,
        workers,
      });
      const history = await priv.fit(x, y, { epochs: 2, verbose: 0 });
      const weights = m.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).slice().buffer));
      return { weights: Buffer.concat(weights), acc: history.history.acc as number[] };
    };
    const start = async (m: tf.LayersModel, callerComputes: boolean) => {
      const p = await createDpWorkerPool({ model: m, workers: 1, callerComputes, ...OPTIONS });
      pools.push(p);
      return p;
    };
    const [mA, mB, mC] = [model(11), model(11), model(11)];
    const a = await run(await start(mA, true), mA);
    const b = await run(await start(mB, false), mB);
    expect(a.weights.equals(b.weights)).toBe(true);
    expect(a.acc).toEqual(b.acc);
    expect(a.acc).toHaveLength(2);
    const c = await run(await start(mC, true), mC, 22);
    expect(c.weights.equals(a.weights)).toBe(false);
    tf.dispose([x, y]);
  }, 240_000);
});

describe("callerComputes: failures and bad options", () => {
  it("a failing worker surfaces as a DpError naming it; a non-boolean callerComputes is refused", async () => {
    await prepareBackend({ backend: "cpu", announce: false });
    const m = model(9);
    const p = await startDpWorkerPool({ model: m, workers: 1, callerComputes: true, ...OPTIONS }, { 0: "throw" });
    pools.push(p);
    const { x, y } = batch(20, 82);
    try {
      expect(() => computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: p })).toThrow(
        /DP worker 0 failed: deliberate fault in worker 0/,
      );
    } finally {
      tf.dispose([x, y]);
    }
    let err: unknown;
    try {
      await createDpWorkerPool({ model: m, workers: 1, callerComputes: "yes" as unknown as boolean });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DpError);
    expect((err as DpError).argument).toBe("callerComputes");
  }, 120_000);
});
