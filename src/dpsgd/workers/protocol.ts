/**
 * What passes between the calling thread and a DP-SGD worker thread (see ./pool.ts). Nothing here
 * carries the calling thread's randomness: a worker that draws a share of the noise does so from
 * its own secure source.
 *
 * A step needs no message in the steady state: its few numbers (batch size, the worker's chunks,
 * the clip bound, the noise range) are written into the worker's shared control arrays
 * ({@link SIGNAL}, {@link VALUE}), and the worker answers in shared memory (the chunk sums, norms
 * and mean losses in {@link SharedResults}, its profile in {@link VALUE}). A message
 * ({@link WorkerConfig}) is posted only when what it holds changed since the worker's last one —
 * a shared array grown, another loss, strategy or input shape — and a worker answers with a
 * message only for the model's outputs (training metrics) or an error.
 * @module
 */
import type { BackendName } from "../../backend/index.js";
import type { ClippingStrategy, PerExampleLoss } from "../engine/index.js";

/** Slots of a worker's signal array (an Int32Array over a SharedArrayBuffer). @internal */
export const SIGNAL = {
  /** Sequence number of the last request posted by the calling thread. */
  request: 0,
  /** Sequence number of the last request answered by the worker. */
  response: 1,
  /** 1 once the worker thread is exiting. */
  dead: 2,
  /** Its exit code. */
  exitCode: 3,
  /** Number of configuration messages posted so far (the worker reads one when this moved). */
  config: 4,
  /** The step's number of examples. */
  n: 5,
  /** Index of the first of this worker's chunks among the batch's chunks. */
  firstChunk: 6,
  /** Number of chunks this worker computes (contiguous, from `firstChunk`). */
  chunkCount: 7,
  /** 1 when the weights changed since this worker's previous step. */
  weightsChanged: 8,
  /** 1 when this worker draws a share of the step's noise, into `z[noiseFrom, noiseTo)`. */
  hasNoise: 9,
  noiseFrom: 10,
  noiseTo: 11,
  /** Set by the worker: 1 when its answer comes with a message ({@link StepReply}), else 0. */
  reply: 12,
} as const;

/** Number of Int32 slots of a worker's signal array. @internal */
export const SIGNAL_LENGTH = 16;

/**
 * Slots of a worker's Float64 control array: the step's numbers the calling thread writes, and
 * the worker's profile of its last step (milliseconds; benchmarks read it). @internal
 */
export const VALUE = {
  /** The step's clip bound. */
  l2NormClip: 0,
  /** The grid sigma of the worker's noise share. */
  gridSigma: 1,
  total: 2,
  receive: 3,
  weights: 4,
  inputs: 5,
  compute: 6,
  /** NaN when the worker drew no noise. */
  noise: 7,
  /** The worker's Linux thread id, NaN if unknown. */
  tid: 8,
  /**
   * When the worker finished its chunks and began its noise share (`performance.timeOrigin +
   * performance.now()`: milliseconds comparable across the threads), NaN without a share.
   */
  readyAt: 9,
  /**
   * The worker's timeline of its last step (`performance.timeOrigin + performance.now()`, like
   * `readyAt`): when it woke for the request, when its first chunk began (weights and inputs
   * done), when its last chunk ended, and when it answered. For benchmarks only.
   */
  wokeAt: 10,
  computeFrom: 11,
  computeTo: 12,
  doneAt: 13,
} as const;

/** Number of Float64 slots of a worker's control array. @internal */
export const VALUE_LENGTH = 16;

/**
 * A deliberate fault, for tests of the failure paths only ("noise-skip": draw nothing into the
 * worker's noise range; "noise-twice": add a second draw to it; "stale-config": ignore every
 * configuration after the first; "stale-clip": keep the first step's clip bound; "split-gap": the
 * calling thread gives this worker a noise range that starts 5 coordinates late; "slow": the worker
 * sleeps 80 ms before its chunks: a margin no scheduler delay of the calling thread under a loaded test run reaches). @internal
 */
export type WorkerFault =
  "throw" | "exit" | "perturb" | "noise-skip" | "noise-twice" | "stale-config" | "stale-clip" | "split-gap" | "slow";

/** What a worker is started with (`workerData`). @internal */
export interface WorkerInit {
  /** The tfjs backend to prepare in the worker (the calling thread's). */
  backend: BackendName;
  /** `model.toJSON(null, false)` of the calling thread's model. */
  modelTopology: unknown;
  /** Number of values of each of `model.weights` (checked against the rebuilt model). */
  weightSizes: number[];
  /** Signal array shared with the calling thread (see {@link SIGNAL}). */
  signal: Int32Array;
  /** Float64 control array shared with the calling thread (see {@link VALUE}). */
  values: Float64Array;
  /** This worker's end of its message channel (a MessagePort). */
  port: unknown;
  /** Index of this worker (for messages). */
  index: number;
  /** tfjs's production mode (`tf.enableProdMode()`), mirrored from the calling thread. */
  prod: boolean;
  /** Test-only fault. */
  fault?: WorkerFault;
  /** Tests only (never through the public API): draw this worker's noise share from a seeded, insecure source. */
  testNoiseSeed?: number;
}

/** A typed array that lives in a SharedArrayBuffer, its dtype, and the shape of one example. @internal */
export interface SharedBatch {
  data: Float32Array | Int32Array;
  dtype: "float32" | "int32";
  /** The shape of one example (the batch's shape without its first axis). */
  inner: number[];
}

/**
 * Where the workers write the chunks' results (shared memory, read by the calling thread once
 * every worker answered): chunk c's clipped sum at `sums[c * total …]`, the norms of the batch's
 * examples in order, chunk c's mean loss at `losses[c]`. @internal
 */
export interface SharedResults {
  sums: Float32Array;
  norms: Float32Array;
  losses: Float64Array;
}

/**
 * What a worker's steps read besides their numbers: posted when any of it changed since the
 * worker's previous configuration (the arrays are compared by identity). @internal
 */
export interface WorkerConfig {
  kind: "config";
  /** All of `model.weights`, flattened in order (shared memory: written by the calling thread). */
  weights: Float32Array;
  x: SharedBatch;
  y: SharedBatch;
  out: SharedResults;
  /**
   * The step's exact noise Z (shared memory): a worker with a share draws Z ~ N_ℤ(0, gridSigma²)
   * into `z[noiseFrom, noiseTo)` with its own secure source, after its chunks. The ranges of the
   * calling thread and the workers are disjoint and cover the vector, so each coordinate gets one
   * draw.
   */
  z?: Float64Array;
  /** Examples per chunk: chunk c is examples [c·chunkSize, min((c + 1)·chunkSize, n)). */
  chunkSize: number;
  /** Number of trainable values (the length of one chunk's sum). */
  total: number;
  loss: PerExampleLoss;
  strategy?: ClippingStrategy;
  keepOutput: boolean;
}

/** Ends the worker's loop. @internal */
export interface StopRequest {
  kind: "stop";
}

/**
 * Where a worker's time went in one step (milliseconds; benchmarks read it, nothing else does),
 * read from its {@link VALUE} slots. The worker does not read its own CPU clock (a file read per
 * step on its critical path, and one that lags by up to a scheduler tick): a benchmark reads it
 * from outside while the worker sleeps, by `tid` (see thread-clock.ts). @internal
 */
export interface WorkerStepProfile {
  /** From waking up to answering (wall clock). */
  total: number;
  /** Reading the step: its numbers, and a configuration message when one was posted. */
  receive: number;
  /** Uploading the weights into the worker's model. */
  weights: number;
  /** Making the input tensors of the chunks. */
  inputs: number;
  /** The engine on the chunks, the clipped sums downloaded included. */
  compute: number;
  /** Drawing its share of the noise. */
  noise?: number;
  /** The worker's Linux thread id (for a benchmark to read its clock while it sleeps; see thread-clock.ts). */
  tid?: number;
  /** When it woke, began and ended its chunks, and answered (epoch ms, comparable across threads; see {@link VALUE}). */
  at?: { woke: number; computeFrom: number; computeTo: number; done: number };
}

/**
 * A worker's answer message, posted only when the step needs more than shared memory holds: the
 * model's outputs (training metrics), or an error. @internal
 */
export type StepReply =
  { kind: "outputs"; outputs: { output: Float32Array; outputShape: number[] }[] } | { kind: "error"; message: string };
