/**
 * The fixed chunking that defines a sharded DP-SGD step, whatever the number of workers.
 *
 * A batch of n examples is cut into chunks of `chunkSize` examples in order (the last one may be
 * shorter). Each chunk's clipped sum is computed by {@link computeChunk} — the same function in a
 * worker thread and in the calling thread — and the chunk sums are added by {@link reduceChunks}
 * in chunk order, in float64, rounded once to float32. Which thread computed a chunk does not
 * enter the arithmetic, so 1 worker, 2 workers and the in-process path
 * ({@link chunkedClippedSum}) give the same bytes.
 *
 * Nothing here is private by itself: the noise is added afterwards, once, on the calling thread.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError, requirePositiveInteger } from "../../errors.js";
import { type ClippedGradientsOptions } from "../engine/index.js";
import { clippedGradientsWithHostSums } from "../engine/clipped-gradients.js";
import { metricSums, type MetricSpec } from "../fit-metrics.js";
import type { ClippedSumParts } from "../gradients.js";
import { valuesOf } from "./heap-view.js";

/** One chunk: [first example, number of examples]. @internal */
export type Chunk = [start: number, size: number];

/** What one chunk contributes. Plain arrays, so it can cross a thread boundary (transferred). @internal */
export interface ChunkResult {
  /** Clipped sum over the chunk, all trainable variables flattened in `model.trainableWeights` order. */
  sum: Float32Array;
  /** Each example's gradient norm before clipping. */
  norms: Float32Array;
  /** Mean loss over the chunk. */
  lossValue: number;
  /** The model's output for the chunk (when asked for, for training metrics), flattened. */
  output?: Float32Array;
  /** Shape of `output`. */
  outputShape?: number[];
}

/** The fixed chunking of n examples: chunks of `chunkSize` in order, the last one shorter. @internal */
export function makeChunks(n: number, chunkSize: number): Chunk[] {
  const k = requirePositiveInteger("chunkSize", chunkSize);
  const out: Chunk[] = [];
  for (let start = 0; start < n; start += k) out.push([start, Math.min(k, n - start)]);
  return out;
}

/** Total number of values in each trainable variable, in `model.trainableWeights` order. @internal */
export function trainableSizes(model: tf.LayersModel): number[] {
  return model.trainableWeights.map((w) => w.shape.reduce<number>((a, b) => a * (b as number), 1));
}

/** The engine inputs of a chunked clipped sum. */
type ChunkInputs = Pick<ClippedGradientsOptions, "model" | "x" | "y" | "loss" | "l2NormClip" | "strategy">;

/**
 * Where {@link computeChunk} writes a chunk's clipped sum and norms instead of new arrays (a
 * worker writes them straight into the pool's shared memory). @internal
 */
export interface ChunkTarget {
  /** Receives the clipped sum (all trainable variables flattened, in order). */
  sum: Float32Array;
  /** Receives the chunk's per-example norms. */
  norms: Float32Array;
}

/**
 * One chunk's clipped sum, norms and mean loss, through the engine. The same code runs in a
 * worker thread and in the calling thread. With `into`, the sum and the norms are written there
 * (and the result's arrays are those views). @internal
 */
export function computeChunk(o: ChunkInputs & { keepOutput: boolean; into?: ChunkTarget }): ChunkResult {
  // The sums a rule forms on the host come back as arrays (no upload into a tensor and download
  // again): the same values either way.
  const r = clippedGradientsWithHostSums(
    { model: o.model, x: o.x, y: o.y, loss: o.loss, l2NormClip: o.l2NormClip, strategy: o.strategy, keepOutput: o.keepOutput },
    true,
  );
  try {
    const sizes = trainableSizes(o.model);
    const total = sizes.reduce((a, b) => a + b, 0);
    const n = o.x.shape[0] ?? 0;
    if (o.into && (o.into.sum.length !== total || o.into.norms.length !== n)) {
      throw new DpError("invalid_state", "A chunk's target arrays do not match the model and the chunk.", "workers");
    }
    const sum = o.into?.sum ?? new Float32Array(total);
    let off = 0;
    o.model.trainableWeights.forEach((w, k) => {
      const name = (w.read() as tf.Variable).name;
      const host = r.hostSums[name];
      const t = r.clippedSum[name];
      if (host) sum.set(host, off);
      else if (t)
        sum.set(valuesOf(t) as Float32Array, off); // copied at once: a heap view lives until the next tfjs call
      else throw new DpError("invalid_state", `The engine returned no gradient for trainable variable "${name}".`, "model");
      off += sizes[k];
    });
    let norms: Float32Array;
    if (o.into) {
      norms = o.into.norms;
      norms.set(r.norms.subarray(0, n));
    } else norms = r.norms.slice(0, n);
    const result: ChunkResult = { sum, norms, lossValue: r.lossValue };
    if (r.output) {
      result.output = new Float32Array(r.output.dataSync() as Float32Array);
      result.outputShape = r.output.shape.slice();
    }
    return result;
  } finally {
    tf.dispose(r.clippedSum);
    r.output?.dispose();
  }
}

/**
 * acc[i] += values[i] in float64. One small function called with the same types every time, so
 * V8 optimises it once (a loop inside a fresh closure per call was deoptimised and re-entered
 * unoptimised on every step). @internal
 */
export function addInto(acc: Float64Array, values: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] += values[i];
}

/**
 * Adds chunk results in chunk order (float64 accumulation, one rounding to float32 at the end)
 * into the clipped sum of the whole batch. `results[c]` belongs to `chunks[c]`. @internal
 */
export function reduceChunks(o: {
  model: tf.LayersModel;
  chunks: Chunk[];
  results: ChunkResult[];
  n: number;
  y: tf.Tensor;
  metrics?: MetricSpec[];
  /** A float64 accumulator to reuse (at least as long as the model's trainable values); zeroed here. */
  scratch?: Float64Array;
  /**
   * The first `preReduced` chunks' sums are already in `scratch` (added in order into zeros, by the
   * calling thread while the workers computed): it is not zeroed and they are not added again.
   */
  preReduced?: number;
}): ClippedSumParts {
  const vars = o.model.trainableWeights;
  const names = vars.map((w) => (w.read() as tf.Variable).name);
  const shapes = vars.map((w) => w.shape.slice() as number[]);
  const sizes = trainableSizes(o.model);
  const total = sizes.reduce((a, b) => a + b, 0);
  const pre = o.preReduced ?? 0;
  if (pre > 0 && !(o.scratch && o.scratch.length >= total && pre <= o.chunks.length)) {
    throw new DpError("invalid_state", "Pre-reduced chunks need the accumulator they were added into.", "workers");
  }
  const acc = o.scratch && o.scratch.length >= total ? o.scratch.subarray(0, total) : new Float64Array(total);
  if (pre === 0) acc.fill(0);
  const norms = new Float32Array(o.n);
  let lossSum = 0;
  for (let c = 0; c < o.chunks.length; c++) {
    const [start, size] = o.chunks[c];
    const r = o.results[c];
    if (!r || r.sum.length !== total || r.norms.length !== size) {
      throw new DpError("invalid_state", `Chunk ${c} (examples ${start}..${start + size - 1}) came back malformed.`, "workers");
    }
    if (c >= pre) addInto(acc, r.sum);
    norms.set(r.norms, start);
    lossSum += r.lossValue * size;
  }
  const sums: Float32Array[] = [];
  let off = 0;
  for (const len of sizes) {
    sums.push(new Float32Array(acc.subarray(off, off + len))); // one rounding to float32
    off += len;
  }
  const specs = o.metrics ?? [];
  let metricTotals = specs.map(() => 0);
  if (specs.length > 0 && o.n > 0) {
    const shape = o.results[0]?.outputShape;
    if (!shape) throw new DpError("invalid_state", "Training metrics need the model's output, which no chunk returned.", "metrics");
    const width = shape.slice(1).reduce((a, b) => a * b, 1);
    const flat = new Float32Array(o.n * width);
    o.chunks.forEach(([start], c) => flat.set(o.results[c].output as Float32Array, start * width));
    const out = tf.tensor(flat, [o.n, ...shape.slice(1)], "float32");
    try {
      metricTotals = metricSums(specs, o.y, out);
    } finally {
      out.dispose();
    }
  }
  return { names, shapes, sums, norms, lossSum, batchSize: o.n, metricSums: metricTotals };
}

/**
 * The in-process reference of a sharded step: the batch's clipped sum computed chunk by chunk in
 * the calling thread, with the same chunking and the same reduction as the worker pool. @internal
 */
export function chunkedClippedSum(o: ChunkInputs & { chunkSize: number; metrics?: MetricSpec[] }): ClippedSumParts {
  const n = o.x.shape[0] ?? 0;
  const chunks = makeChunks(n, o.chunkSize);
  const keepOutput = (o.metrics ?? []).length > 0;
  const results = chunks.map(([start, size]) => {
    const xs = o.x.slice(start, size);
    const ys = o.y.slice(start, size);
    try {
      return computeChunk({ model: o.model, x: xs, y: ys, loss: o.loss, l2NormClip: o.l2NormClip, strategy: o.strategy, keepOutput });
    } finally {
      tf.dispose([xs, ys]);
    }
  });
  return reduceChunks({ model: o.model, chunks, results, n, y: o.y, metrics: o.metrics });
}
