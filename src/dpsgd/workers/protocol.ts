/**
 * Messages between the calling thread and a DP-SGD worker thread (see ./pool.ts). Nothing here
 * carries randomness: the step's noise is drawn on the calling thread, never in a worker.
 * @module
 */
import type { BackendName } from "../../backend/index.js";
import type { ClippingStrategy, PerExampleLoss } from "../engine/index.js";
import type { Chunk } from "./chunks.js";

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
} as const;

/**
 * A deliberate fault, for tests of the failure paths only ("noise-skip": draw nothing into the
 * worker's noise range; "noise-twice": add a second draw to it). @internal
 */
export type WorkerFault = "throw" | "exit" | "perturb" | "noise-skip" | "noise-twice";

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

/**
 * A worker's share of the step's exact noise: it draws Z ~ N_ℤ(0, gridSigma²) into `z[from, to)`
 * (shared memory) with its own secure source, after its chunks. The ranges of the calling thread
 * and the workers are disjoint and cover the vector, so each coordinate gets one draw. @internal
 */
export interface NoiseShare {
  z: Float64Array;
  from: number;
  to: number;
  gridSigma: number;
}

/** A typed array that lives in a SharedArrayBuffer, with its dtype and shape. @internal */
export interface SharedTensor {
  data: Float32Array | Int32Array;
  dtype: "float32" | "int32";
  shape: number[];
}

/**
 * Where the workers write the chunks' results (shared memory, read by the calling thread once
 * every worker answered): chunk c's clipped sum at `sums[c * total …]`, the norms of the batch's
 * examples in order. @internal
 */
export interface SharedResults {
  sums: Float32Array;
  norms: Float32Array;
}

/** One step: weights and batch in shared memory, the chunks this worker computes. @internal */
export interface StepRequest {
  kind: "step";
  /** All of `model.weights`, flattened in order (shared memory: written by the calling thread). */
  weights: Float32Array;
  /** Whether `weights` changed since this worker's previous step (else it keeps its copy). */
  weightsChanged: boolean;
  x: SharedTensor;
  y: SharedTensor;
  chunks: Chunk[];
  /** Index of `chunks[0]` among the batch's chunks. */
  firstChunk: number;
  /** Number of trainable values (the length of one chunk's sum). */
  total: number;
  out: SharedResults;
  loss: PerExampleLoss;
  l2NormClip: number;
  strategy?: ClippingStrategy;
  keepOutput: boolean;
  /** This worker's share of the step's noise, if it draws one. */
  noise?: NoiseShare;
}

/** Ends the worker's loop. @internal */
export interface StopRequest {
  kind: "stop";
}

/**
 * Where a worker's time went in one step (milliseconds; benchmarks read it, nothing else does).
 * `cpu` and `wait` are the worker thread's own CPU time and time runnable but not running
 * (Linux only; absent elsewhere). @internal
 */
export interface WorkerStepProfile {
  /** From reading the request to posting the answer (wall clock). */
  total: number;
  /** Reading the request message. */
  receive: number;
  /** Uploading the weights into the worker's model. */
  weights: number;
  /** Making the input tensors of the chunks. */
  inputs: number;
  /** The engine on the chunks, the clipped sums downloaded included. */
  compute: number;
  /** Drawing its share of the noise. */
  noise?: number;
  cpu?: number;
  wait?: number;
  /** The worker's Linux thread id (for a benchmark to read its clock while it sleeps; see thread-clock.ts). */
  tid?: number;
}

/** What a chunk's answer carries besides the shared sums and norms. @internal */
export interface ChunkAnswer {
  lossValue: number;
  output?: Float32Array;
  outputShape?: number[];
}

/** A worker's answer to a step. @internal */
export type StepResponse =
  | {
      kind: "result";
      /** Per chunk: the mean loss and (when asked for) the model's output; sums and norms are in `out`. */
      results: ChunkAnswer[];
      /** Milliseconds the worker spent on the step, from reading the request to posting the answer. */
      ms: number;
      profile: WorkerStepProfile;
    }
  | { kind: "error"; message: string };
