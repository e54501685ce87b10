/**
 * DP-SGD worker threads (createDpWorkerPool, `workers` in dpGradients / makePrivate), with real
 * worker threads on the cpu backend:
 * - the clipped sum is byte-identical with 1 worker, 2 workers, 3 workers and the in-process
 *   chunked path; negative controls: another chunk size, another chunk order and a worker that
 *   perturbs one bit of its shard all change the bytes;
 * - the noise is added exactly once, on the calling thread: with a seeded source the sharded step
 *   equals the in-process step bit for bit, and the noise (result − sum of shards) has standard
 *   deviation σC (a second draw, the negative control, gives √2·σC); the messages sent to the
 *   workers never contain the Rng (control: the scanner finds one planted in a message);
 * - a worker that throws or exits surfaces as a DpError naming the worker; a worker that cannot
 *   rebuild the model fails the start; bad options are refused; an unclosed pool does not keep
 *   a process alive.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { MessagePort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { SeededRng } from "../../src/random/index.js";
import { createDpWorkerPool, dpGradients, DpWorkerPool, makePrivate } from "../../src/dpsgd/index.js";
import { computeClippedSum, privatizeParts, type ClippedSumParts } from "../../src/dpsgd/gradients.js";
import { chunkedClippedSum, computeChunk, makeChunks, reduceChunks } from "../../src/dpsgd/workers/chunks.js";
import { startDpWorkerPool } from "../../src/dpsgd/workers/pool.js";
import { projectRoot } from "../helpers/cli.js";
import { batch, CHUNK, CLIP, LOSS, model, raw } from "../helpers/dp-workers.js";

const N = 37; // not a multiple of the chunk size: the last chunk is shorter

function bytes(parts: ClippedSumParts): Buffer {
  return Buffer.concat([...parts.sums.map(raw), raw(parts.norms)]);
}

/** Whether `value` (a message) holds `needle` anywhere inside it, or any function. */
function holds(value: unknown, needle: object, seen = new Set<unknown>()): boolean {
  if (value === needle || typeof value === "function") return true;
  if (typeof value !== "object" || value === null || seen.has(value) || ArrayBuffer.isView(value)) return false;
  seen.add(value);
  return Object.values(value).some((v) => holds(v, needle, seen));
}

const pools: DpWorkerPool[] = [];
async function pool(m: tf.LayersModel, workers: number, chunkSize = CHUNK): Promise<DpWorkerPool> {
  const p = await createDpWorkerPool({ model: m, workers, chunkSize, startupTimeoutMs: 90_000, stepTimeoutMs: 60_000 });
  pools.push(p);
  return p;
}

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe("the sharded clipped sum does not depend on the number of workers", () => {
  const m = model(1);
  const { x, y } = batch(N, 2);
  let p1: DpWorkerPool, p2: DpWorkerPool, p3: DpWorkerPool;
  beforeAll(async () => {
    [p1, p2, p3] = await Promise.all([pool(m, 1), pool(m, 2), pool(m, 3)]);
  }, 150_000);

  it("1, 2 and 3 workers and the in-process chunked path give the same bytes", () => {
    const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
    for (const p of [p1, p2, p3]) {
      const got = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: p });
      expect(bytes(got).equals(bytes(ref))).toBe(true);
      expect(got.lossSum).toBe(ref.lossSum);
      expect(got.batchSize).toBe(N);
    }
    // Not vacuous: some examples are clipped, some are not, and the sum is not zero.
    expect(ref.norms.some((v) => v > CLIP) && ref.norms.some((v) => v < CLIP)).toBe(true);
    expect(ref.sums.some((s) => s.some((v) => v !== 0))).toBe(true);
  });

  it("equals the unchunked clipped sum up to float32 rounding", () => {
    const ref = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP });
    const got = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: p2 });
    got.sums.forEach((s, k) => s.forEach((v, i) => expect(Math.abs(v - ref.sums[k][i])).toBeLessThan(1e-5 + 1e-5 * Math.abs(v))));
  });

  it("negative controls: another chunk size or another chunk order changes the bytes", () => {
    const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
    const other = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: 5 });
    expect(bytes(other).equals(bytes(ref))).toBe(false);
    const chunks = makeChunks(N, CHUNK);
    const results = chunks.map(([start, size]) => {
      const [xs, ys] = [x.slice(start, size), y.slice(start, size)];
      try {
        return computeChunk({ model: m, x: xs, y: ys, loss: LOSS, l2NormClip: CLIP, keepOutput: false });
      } finally {
        tf.dispose([xs, ys]);
      }
    });
    const inOrder = reduceChunks({ model: m, chunks, results, n: N, y });
    expect(bytes(inOrder).equals(bytes(ref))).toBe(true);
    // With real chunk sums the float64 accumulation is often exact, so the order rarely shows;
    // chunks whose float64 sum does round show that reduceChunks depends on the order it is given.
    const one = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 1, useBias: false })] });
    const parts = [2 ** 60, 1, -(2 ** 60)].map((v) => ({ sum: Float32Array.of(v), norms: Float32Array.of(0), lossValue: 0 }));
    const three = makeChunks(3, 1);
    const yy = tf.zeros([3]);
    const fwd = reduceChunks({ model: one, chunks: three, results: parts, n: 3, y: yy }).sums[0][0];
    const rev = reduceChunks({ model: one, chunks: three, results: [parts[0], parts[2], parts[1]], n: 3, y: yy }).sums[0][0];
    expect([fwd, rev]).toEqual([0, 1]);
    tf.dispose([yy]);
    one.dispose();
  });

  it("negative control: a worker that flips one bit of its shard is detected", async () => {
    const bad = await startDpWorkerPool({ model: m, workers: 2, chunkSize: CHUNK, startupTimeoutMs: 90_000 }, { 1: "perturb" });
    pools.push(bad);
    const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
    const got = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: bad });
    expect(bytes(got).equals(bytes(ref))).toBe(false);
  }, 120_000);

  it("follows the weights: after an update the workers compute with the new weights", () => {
    const before = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: p2 });
    const saved = m.getWeights().map((w) => w.clone());
    m.setWeights(saved.map((w) => tf.mul(w, 0.9)));
    try {
      const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
      const got = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: p2 });
      expect(bytes(got).equals(bytes(ref))).toBe(true);
      expect(bytes(got).equals(bytes(before))).toBe(false);
    } finally {
      m.setWeights(saved);
      tf.dispose(saved);
    }
  });

  it("adds the noise exactly once, on the calling thread, and never sends the Rng", async () => {
    const sigma = 1.3;
    const clip = CLIP;
    // A fresh pool: a worker gets a configuration message on its first step (later steps with the
    // same shared arrays, loss and shapes are only numbers in its control arrays).
    const fresh = await pool(m, 2);
    const spy = vi.spyOn(MessagePort.prototype, "postMessage");
    const rng = new SeededRng(11);
    let step;
    try {
      step = dpGradients({
        model: m,
        loss: LOSS,
        x,
        y,
        l2NormClip: clip,
        noiseMultiplier: sigma,
        expectedBatchSize: 1,
        workers: fresh,
        rng,
        allowInsecureRng: true,
      });
      const sent = spy.mock.calls.map((c) => c[0]);
      expect(sent.filter((msg) => (msg as { kind?: string }).kind === "config").length).toBe(2); // one per worker
      expect(sent.some((msg) => holds(msg, rng))).toBe(false);
      expect(holds({ kind: "config", extra: { rng } }, rng)).toBe(true); // the scanner's control
    } finally {
      spy.mockRestore();
    }
    const got = Object.values(step.gradientValues());
    // The same seeded draw added to the in-process chunked sum: bit for bit the same.
    const shards = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: clip, chunkSize: CHUNK });
    const once = privatizeParts(
      { ...shards, sums: shards.sums.map((v) => v.slice()) },
      {
        l2NormClip: clip,
        noiseMultiplier: sigma,
        expectedBatchSize: 1,
        rng: new SeededRng(11),
        allowInsecureRng: true,
      },
    );
    const want = Object.values(once).map((t) => t.dataSync() as Float32Array);
    tf.dispose(once);
    got.forEach((g, k) => expect(raw(g).equals(raw(want[k]))).toBe(true));
    // One draw of N(0, (σC)²): the noise's sample deviation is σC, not √2·σC (a second draw).
    const noise = got.flatMap((g, k) => Array.from(g, (v, i) => v - shards.sums[k][i]));
    const sd = Math.sqrt(noise.reduce((a, v) => a + v * v, 0) / noise.length);
    const se = sigma * clip * Math.sqrt(1 / (2 * noise.length)); // standard error of the deviation
    expect(Math.abs(sd - sigma * clip)).toBeLessThan(5 * se);
    const twice = privatizeParts(
      { ...shards, sums: want.map((w) => w.slice()) },
      { l2NormClip: clip, noiseMultiplier: sigma, expectedBatchSize: 1, rng: new SeededRng(12), allowInsecureRng: true },
    );
    const noise2 = Object.values(twice).flatMap((t, k) => Array.from(t.dataSync(), (v, i) => v - shards.sums[k][i]));
    tf.dispose(twice);
    const sd2 = Math.sqrt(noise2.reduce((a, v) => a + v * v, 0) / noise2.length);
    expect(Math.abs(sd2 - sigma * clip)).toBeGreaterThan(5 * se);
  }, 120_000);

  it("refuses a function loss, maxPhysicalBatchSize, a pool of another model and a closed pool", async () => {
    const fn = (yt: tf.Tensor, yp: tf.Tensor) => tf.sum(tf.square(tf.sub(yp, tf.oneHot(tf.cast(yt, "int32"), 4))), 1) as tf.Tensor1D;
    const common = { model: m, x, y, l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: N, workers: p2 };
    expect(() => dpGradients({ ...common, loss: fn })).toThrow(/function cannot be sent/);
    expect(() => dpGradients({ ...common, loss: LOSS, maxPhysicalBatchSize: 8 })).toThrow(/chunkSize/);
    expect(() => dpGradients({ ...common, loss: LOSS, model: model(1) })).toThrow(/another model/);
    const closed = await pool(m, 1);
    await closed.close();
    expect(closed.closed).toBe(true);
    await closed.close(); // idempotent
    expect(() => dpGradients({ ...common, loss: LOSS, workers: closed })).toThrow(/closed/);
    // The pools above still work after the refusals.
    expect(dpGradients({ ...common, loss: LOSS }).batchSize).toBe(N);
  }, 120_000);
});

describe("worker failures and bad options", () => {
  const m = model(3);
  const { x, y } = batch(20, 4);
  const step = (workers: DpWorkerPool) =>
    dpGradients({ model: m, loss: LOSS, x, y, l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 20, workers });

  it("a worker that throws surfaces as a DpError naming it; the pool is then unusable", async () => {
    const p = await startDpWorkerPool({ model: m, workers: 2, chunkSize: 8, startupTimeoutMs: 90_000 }, { 1: "throw" });
    pools.push(p);
    let err: unknown;
    try {
      step(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DpError);
    expect((err as DpError).code).toBe("invalid_state");
    expect((err as DpError).message).toMatch(/DP worker 1 failed: deliberate fault in worker 1/);
    expect(() => step(p)).toThrow(/unusable after an earlier failure/);
  }, 120_000);

  it("a worker that exits mid-step surfaces as a DpError naming it, without waiting for the step timeout", async () => {
    const p = await startDpWorkerPool(
      { model: m, workers: 2, chunkSize: 8, startupTimeoutMs: 90_000, stepTimeoutMs: 600_000 },
      { 1: "exit" },
    );
    pools.push(p);
    const t0 = Date.now();
    expect(() => step(p)).toThrow(/DP worker 1 exited during a step \(exit code 3\)/);
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 120_000);

  it("a worker that cannot rebuild the model fails the start with a DpError", async () => {
    class Doubler extends tf.layers.Layer {
      static className = "DpkitTestDoubler";
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
      }
    }
    tf.serialization.registerClass(Doubler); // registered here only, not in the workers
    const custom = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 }), new Doubler({})] });
    await expect(createDpWorkerPool({ model: custom, workers: 1, startupTimeoutMs: 90_000 })).rejects.toThrow(
      /DP worker 0 failed to start: .*DpkitTestDoubler/,
    );
  }, 120_000);

  it("refuses bad worker counts and chunk sizes, naming the option", async () => {
    for (const workers of [0, 1.5, -1, 2 * availableParallelism() + 1, Number.NaN]) {
      await expect(createDpWorkerPool({ model: m, workers })).rejects.toThrow(expect.objectContaining({ argument: "workers" }));
    }
    await expect(createDpWorkerPool({ model: m, workers: 1, chunkSize: 0 })).rejects.toThrow(
      expect.objectContaining({ argument: "chunkSize" }),
    );
    expect(() =>
      makePrivate(m, {
        l2NormClip: 1,
        noiseMultiplier: 1,
        targetDelta: 1e-5,
        batchSize: 8,
        loss: LOSS,
        optimizer: tf.train.sgd(0.1),
        workers: 0,
      }),
    ).toThrow(expect.objectContaining({ argument: "workers" }));
  });
});

describe("makePrivate with workers", () => {
  it("trains bit-identically with 1 and 2 worker threads (seeded source), metrics included, and stops its own threads", async () => {
    const { x, y } = batch(64, 5);
    const run = async (workers: number | DpWorkerPool, m: tf.LayersModel): Promise<{ weights: Float32Array[]; acc: number[] }> => {
      const priv = makePrivate(m, {
        l2NormClip: 1,
        noiseMultiplier: 1.1,
        targetDelta: 1e-5,
        batchSize: 24,
        optimizer: tf.train.sgd(0.1),
        loss: LOSS,
        metrics: ["accuracy"],
        rng: new SeededRng(21),
        allowInsecureRng: true,
        workers,
      });
      const history = await priv.fit(x, y, { epochs: 2, verbose: 0 });
      return { weights: m.getWeights().map((w) => w.dataSync() as Float32Array), acc: history.history.acc as number[] };
    };
    const same = (u: { weights: Float32Array[]; acc: number[] }, v: { weights: Float32Array[]; acc: number[] }): void => {
      u.weights.forEach((w, k) => expect(raw(w).equals(raw(v.weights[k]))).toBe(true));
      expect(u.acc).toEqual(v.acc);
    };
    // Batches of ~24 in chunks of 8: both threads of the 2-thread pool get chunks.
    const [mA, mB] = [model(7), model(7)];
    const a = await run(await pool(mA, 2, 8), mA);
    const b = await run(await pool(mB, 1, 8), mB);
    same(a, b);
    expect(a.acc).toHaveLength(2);
    expect(a.acc.every((v) => v >= 0 && v <= 1)).toBe(true);
    // `workers: 2`: fit starts a pool (default chunk size) and closes it when it returns.
    const [mD, mE] = [model(7), model(7)];
    const closeSpy = vi.spyOn(DpWorkerPool.prototype, "close");
    let d;
    try {
      d = await run(2, mD);
      expect(closeSpy).toHaveBeenCalledTimes(1);
    } finally {
      closeSpy.mockRestore();
    }
    same(d, await run(await pool(mE, 1, 128), mE));
    // In the calling thread, unchunked: equal up to float32 rounding only.
    const mC = model(7);
    const c = await run(1, mC);
    c.weights.forEach((w, k) => w.forEach((v, i) => expect(Math.abs(v - a.weights[k][i])).toBeLessThan(1e-4)));
  }, 240_000);

  it("an unclosed pool does not keep the process alive", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dpkit-workers-"));
    try {
      const script = path.join(dir, "forget.mts");
      const src = (p: string) => JSON.stringify(path.join(projectRoot, p));
      writeFileSync(
        script,
        [
          `const { prepareBackend, tf } = await import(${src("src/backend/index.ts")});`,
          `const { createDpWorkerPool } = await import(${src("src/dpsgd/index.ts")});`,
          `await prepareBackend({ backend: "cpu", announce: false });`,
          `const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] });`,
          `await createDpWorkerPool({ model, workers: 2 });`,
          `console.log("started");`,
        ].join("\n"),
      );
      const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: projectRoot, timeout: 90_000, encoding: "utf8" });
      expect(r.error).toBeUndefined();
      expect(r.stdout).toContain("started");
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("on the wasm backend", () => {
  it("2 workers and the in-process chunked path give the same bytes", async () => {
    await prepareBackend({ backend: "wasm", announce: false });
    try {
      const m = model(9);
      const { x, y } = batch(N, 10);
      const p = await pool(m, 2);
      const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
      const got = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: p });
      expect(bytes(got).equals(bytes(ref))).toBe(true);
      expect(ref.sums.some((s) => s.some((v) => v !== 0))).toBe(true);
    } finally {
      await prepareBackend({ backend: "cpu", announce: false });
    }
  }, 120_000);
});
