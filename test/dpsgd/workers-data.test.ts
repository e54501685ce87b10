/**
 * The worker pool's data movement (src/dpsgd/workers: heap-view.ts, the shared result arrays,
 * weights uploaded only when they change), with real worker threads on cpu and wasm:
 * - batches of changing sizes, one after another, give the in-process chunked bytes (the shared
 *   arrays are reused and grown; control: consecutive batches' results differ, so a stale read
 *   would show);
 * - repeated steps on unchanged weights give the same bytes, and after an optimizer update the
 *   workers compute with the new weights (control: the bytes change);
 * - `valuesOf` reads the same bytes as `dataSync`, and a tensor made by `tensorFrom` does not alias
 *   the shared array it came from (control: `tf.tensor` on the cpu backend does alias it).
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareBackend, type BackendName } from "../../src/backend/index.js";
import { batch, bytesWithLoss, CHUNK, CLIP, LOSS, model } from "../helpers/dp-workers.js";
import { createDpWorkerPool, type DpWorkerPool } from "../../src/dpsgd/index.js";
import { computeClippedSum } from "../../src/dpsgd/gradients.js";
import { chunkedClippedSum } from "../../src/dpsgd/workers/chunks.js";
import { tensorFrom, valuesOf } from "../../src/dpsgd/workers/heap-view.js";

const pools: DpWorkerPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await prepareBackend({ backend: "cpu", announce: false });
});

describe.each(["cpu", "wasm"] as BackendName[])("on the %s backend", (backend) => {
  let m: tf.LayersModel;
  let pool: DpWorkerPool;
  beforeAll(async () => {
    await prepareBackend({ backend, announce: false });
    m = model(5);
    pool = await createDpWorkerPool({ model: m, workers: 2, chunkSize: CHUNK, startupTimeoutMs: 90_000, stepTimeoutMs: 60_000 });
    pools.push(pool);
  }, 120_000);

  it("batches of changing sizes, one after another, give the in-process chunked bytes", () => {
    let previous: Buffer | undefined;
    for (const [k, n] of [37, 5, 61, 1, 37].entries()) {
      const { x, y } = batch(n, 40 + k);
      try {
        const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
        const got = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: pool });
        expect(got.batchSize).toBe(n);
        expect(got.norms).toHaveLength(n);
        expect(bytesWithLoss(got).equals(bytesWithLoss(ref))).toBe(true);
        // Control: consecutive batches differ, so reading a previous step's shared results would show.
        if (previous) expect(bytesWithLoss(got).equals(previous)).toBe(false);
        previous = bytesWithLoss(got);
      } finally {
        tf.dispose([x, y]);
      }
    }
  });

  it("unchanged weights give the same bytes step after step; after an optimizer update the workers follow", () => {
    const { x, y } = batch(29, 50);
    try {
      const a = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: pool });
      const b = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: pool });
      expect(bytesWithLoss(b).equals(bytesWithLoss(a))).toBe(true);
      // One SGD step through the optimizer (variables get new data, as in training).
      const optimizer = tf.train.sgd(0.05);
      const grads: tf.NamedTensorMap = {};
      m.trainableWeights.forEach((w, k) => {
        const v = w.read() as tf.Variable;
        grads[v.name] = tf.tensor(a.sums[k], a.shapes[k]);
      });
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
      optimizer.dispose();
      const ref = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
      const c = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: pool });
      expect(bytesWithLoss(c).equals(bytesWithLoss(ref))).toBe(true);
      expect(bytesWithLoss(c).equals(bytesWithLoss(a))).toBe(false); // control: the update changed the result
    } finally {
      tf.dispose([x, y]);
    }
  });

  it("valuesOf reads dataSync's bytes; tensorFrom does not alias the shared array it came from", () => {
    const t = tf.tensor([1.5, -2, 3.25, 4], [2, 2]);
    const i = tf.tensor([7, -8, 9], [3], "int32");
    try {
      expect(Array.from(valuesOf(t))).toEqual(Array.from(t.dataSync()));
      expect(Array.from(valuesOf(i))).toEqual(Array.from(i.dataSync()));
      expect(valuesOf(i)).toBeInstanceOf(Int32Array);
    } finally {
      tf.dispose([t, i]);
    }
    const shared = new Float32Array(new SharedArrayBuffer(16)).fill(1);
    const copy = tensorFrom(shared.subarray(0, 4), [4], "float32");
    const direct = tf.tensor(shared.subarray(0, 4), [4], "float32");
    try {
      shared.fill(2); // the calling thread rewrites the shared array for the next step
      expect(Array.from(copy.dataSync())).toEqual([1, 1, 1, 1]);
      // Control: the cpu backend keeps the array it is given, so without the copy the tensor would change.
      if (backend === "cpu") expect(Array.from(direct.dataSync())).toEqual([2, 2, 2, 2]);
    } finally {
      tf.dispose([copy, direct]);
    }
  });
});
