/**
 * Worker-thread sharding of the DP-SGD clipped sum (Node only): {@link createDpWorkerPool}.
 *
 * Per-example clipping is independent per example, so a batch's clipped sum is the sum of its
 * chunks' clipped sums. The pool keeps a copy of the model in each worker thread (own tfjs
 * instance, same backend), and for every step: writes the weights (when they changed) and the
 * batch into shared memory once, hands each worker a contiguous run of the fixed chunks (see
 * ./chunks.ts) through its shared control arrays (no message unless the configuration changed; see
 * ./protocol.ts), waits for their chunk sums (written into shared memory) and adds them in chunk
 * order. The Gaussian noise is added afterwards, once, on the calling thread, from dpkit's exact
 * sampler (its integers drawn while the workers compute, shared among the computing threads with
 * `callerComputes`, each from its own secure source): workers never receive the Rng.
 *
 * With `callerComputes` the calling thread first computes its own share of the chunks. It then
 * blocks (`Atomics.wait`) while the workers compute, so `dpGradients` stays
 * synchronous; browsers forbid that on their main thread, and `createDpWorkerPool` refuses to run
 * outside Node.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { activeBackend, type BackendName } from "../../backend/index.js";
import { DpError, requireInteger, requireObject, requireOneOf, requirePositiveInteger } from "../../errors.js";
import type { ClippingStrategy, PerExampleLoss } from "../engine/index.js";
import type { MetricSpec } from "../fit-metrics.js";
import type { ClippedSumParts } from "../gradients.js";
import { addInto, type Chunk, type ChunkResult, computeChunk, makeChunks, reduceChunks, trainableSizes } from "./chunks.js";
import { secureRng, type Rng } from "../../random/rng.js";
import { valuesOf } from "./heap-view.js";
import {
  SIGNAL,
  SIGNAL_LENGTH,
  VALUE,
  VALUE_LENGTH,
  type SharedBatch,
  type SharedResults,
  type StepReply,
  type WorkerConfig,
  type WorkerFault,
  type WorkerInit,
  type WorkerStepProfile,
} from "./protocol.js";

type WorkerThreads = typeof import("node:worker_threads");
type NodeWorker = import("node:worker_threads").Worker;
type NodePort = import("node:worker_threads").MessagePort;

/** Default number of examples per chunk. */
export const DEFAULT_CHUNK_SIZE = 128;

/** Options for {@link createDpWorkerPool}. */
export interface DpWorkerPoolOptions {
  /** The model to train; each worker rebuilds it from `model.toJSON()` (its weights are sent every step). */
  model: tf.LayersModel;
  /** Number of worker threads: an integer from 1 to twice the number of cores (`os.availableParallelism()`). */
  workers: number;
  /**
   * Examples per chunk (default 128). The batch is cut into chunks of this size in order, whatever
   * the number of workers; each chunk's clipped sum is computed the same way and the sums are
   * added in chunk order, so the result depends on `chunkSize` but not on `workers`.
   */
  chunkSize?: number;
  /** tfjs backend in the workers. Default: the calling thread's active backend, else "cpu". */
  backend?: BackendName;
  /** Milliseconds a worker may take to start (load tfjs, rebuild the model). Default 120 000. */
  startupTimeoutMs?: number;
  /** Milliseconds a step may take before the pool gives up on its workers. Default 600 000. */
  stepTimeoutMs?: number;
  /**
   * Whether the calling thread computes a share of the chunks itself instead of only waiting
   * (default false). After handing the workers their chunks, it computes the first
   * ⌈chunks / (workers + 1)⌉ chunks with the same function ({@link DpWorkerPool} adds them in
   * chunk order as always), so the result is the same bytes as without it; `workers: 1` with
   * `callerComputes: true` uses two threads on two cores (the calling thread and one worker).
   */
  callerComputes?: boolean;
}

interface Slot {
  worker: NodeWorker;
  port: NodePort;
  signal: Int32Array;
  /** The worker's Float64 control array (the step's clip bound and noise sigma; its profile). */
  values: Float64Array;
  seq: number;
  /** Configuration messages posted to this worker so far. */
  configs: number;
  /** The configuration this worker holds (the last one posted). */
  config?: WorkerConfig;
  exited: boolean;
  /** The weights version this worker holds (see PoolState.weightsVersion). */
  weightsVersion: number;
}

/** Internal state of a pool, out of the public type. */
interface PoolState {
  threads: WorkerThreads;
  slots: Slot[];
  chunkSize: number;
  stepTimeoutMs: number;
  /** Whether the calling thread computes the first chunks itself. */
  callerComputes: boolean;
  weightSizes: number[];
  weights: Float32Array;
  /** Bumped whenever the model's weights are written into `weights` (they changed since the last step). */
  weightsVersion: number;
  /** The tensor data of each of `model.weights` when they were last written (tfjs replaces it on every update). */
  weightsData: object[];
  /** Where the workers write the chunk sums and norms (grown when a batch needs more). */
  out?: SharedResults;
  /** The float64 accumulator of the reduction, reused. */
  scratch?: Float64Array;
  x?: Float32Array | Int32Array;
  y?: Float32Array | Int32Array;
  failure?: string;
  closing?: Promise<void>;
  /** Each busy worker's own time on the last step (ms). */
  lastWorkerMs: number[];
  /** Where the last step's time went. */
  lastProfile?: StepProfile;
  /** The step's exact noise Z, drawn in shares by the calling thread and the workers (shared memory, grown when needed). */
  noiseZ?: Float64Array;
  /** Whether the workers draw their noise shares from seeded sources (the internal test hook). */
  testNoiseSeeded: boolean;
  /** The test-only faults the workers were started with (by worker index). */
  faults: Record<number, WorkerFault>;
  /** The share f of the noise's coordinates the calling thread draws, balanced step by step (see balanceNoise). */
  noiseSplit?: number;
  /** Whether the split is balanced by the threads' timings (setNoiseBalance; default false: proportional). */
  noiseBalance: boolean;
  /** A share fixed by a test (setNoiseSplitForTests). */
  noiseSplitFixed?: number;
  /** Milliseconds per coordinate of the exact noise on the calling thread and on a worker (moving averages). */
  noiseRate?: { caller: number; worker: number };
}

/**
 * Where a sharded step's time went, in milliseconds (for benchmarks; see `lastStepProfile`).
 * @internal
 */
export interface StepProfile {
  /** Calling thread: writing the weights and the batch into shared memory. */
  write: number;
  /** Calling thread: posting the requests. */
  post: number;
  /** Calling thread: computing its own chunks (0 without `callerComputes`). */
  caller: number;
  /** Calling thread: adding its own chunks' sums and running `whileWaiting` (the step's noise), before it waits. */
  ahead: number;
  /** Calling thread: blocked until the last worker answered. */
  wait: number;
  /** Calling thread: adding the chunk sums. */
  reduce: number;
  /** Each busy worker's own account of the step. */
  workers: WorkerStepProfile[];
  /**
   * The calling thread's timeline (epoch ms: `performance.timeOrigin + performance.now()`,
   * comparable with the workers' `at`): entering the step, the first request posted, its own chunks done,
   * its noise share and `whileWaiting` done, the last answer seen, the reduction done.
   */
  at: { start: number; posted: number; callerDone: number; aheadDone: number; answered: number; reduced: number };
}

const states = new WeakMap<DpWorkerPool, PoolState>();

/** The largest worker count accepted: twice the cores reported by Node. */
function maxWorkers(): number {
  const os = process.getBuiltinModule("node:os") as typeof import("node:os");
  return 2 * Math.max(1, os.availableParallelism());
}

function nodeWorkerThreads(): WorkerThreads {
  const getBuiltin = typeof process !== "undefined" ? process.getBuiltinModule : undefined;
  if (typeof getBuiltin !== "function") {
    throw new DpError(
      "unsupported_backend",
      "`workers` needs Node's worker_threads (Node >= 20.16): DP-SGD worker threads are not available in a browser; leave `workers` unset there.",
      "workers",
    );
  }
  return getBuiltin("node:worker_threads") as WorkerThreads;
}

/** Starts one worker from the compiled .js, or from source through tsx's loader (tests, benches). */
function startWorker(threads: WorkerThreads, init: WorkerInit, transfer: NodePort[]): NodeWorker {
  const options = { workerData: init, transferList: transfer as unknown as import("node:worker_threads").Transferable[] };
  if (import.meta.url.endsWith(".ts")) {
    const url = new URL("./dp-worker.ts", import.meta.url).href;
    // Resolved from here, not from the process's working folder (an eval'd worker resolves bare names there).
    const tsx = import.meta.resolve("tsx/esm/api");
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
    return new threads.Worker(code, { ...options, eval: true });
  }
  return new threads.Worker(new URL("./dp-worker.js", import.meta.url), options);
}

function sizeOf(shape: readonly (number | null)[]): number {
  return shape.reduce<number>((a, b) => a * (b as number), 1);
}

/**
 * A pool of worker threads that compute DP-SGD clipped sums for one model; pass it as
 * `workers` to {@link dpGradients} or {@link makePrivate}. Create it with
 * {@link createDpWorkerPool}; close it with {@link DpWorkerPool.close}.
 */
export class DpWorkerPool {
  /** The model the workers hold a copy of. */
  readonly model: tf.LayersModel;
  /** Number of worker threads. */
  readonly size: number;
  /** Examples per chunk. */
  readonly chunkSize: number;
  /** Whether the calling thread computes a share of the chunks (see {@link DpWorkerPoolOptions.callerComputes}). */
  readonly callerComputes: boolean;

  /** @internal */
  constructor(model: tf.LayersModel, size: number, chunkSize: number, callerComputes = false) {
    this.model = model;
    this.size = size;
    this.chunkSize = chunkSize;
    this.callerComputes = callerComputes;
  }

  /** Whether {@link DpWorkerPool.close} was called. */
  get closed(): boolean {
    return states.get(this)?.closing !== undefined;
  }

  /**
   * Stops the worker threads and waits for them to exit. Idempotent. The workers do not keep the
   * process alive in any case (they are `unref`'d), but closing frees their memory.
   */
  close(): Promise<void> {
    const s = states.get(this);
    if (!s) return Promise.resolve();
    s.closing ??= (async () => {
      for (const slot of s.slots) {
        if (slot.exited || Atomics.load(slot.signal, SIGNAL.dead) === 1) continue;
        try {
          slot.port.postMessage({ kind: "stop" });
          Atomics.store(slot.signal, SIGNAL.config, ++slot.configs);
          Atomics.store(slot.signal, SIGNAL.request, ++slot.seq);
          Atomics.notify(slot.signal, SIGNAL.request);
        } catch {
          // The port is already closed: terminate() below ends the thread.
        }
      }
      await Promise.all(s.slots.map((slot) => slot.worker.terminate()));
      for (const slot of s.slots) slot.port.close();
    })();
    return s.closing;
  }

  /** The same as {@link DpWorkerPool.close}. */
  dispose(): Promise<void> {
    return this.close();
  }
}

/**
 * Starts worker threads that share the DP-SGD per-example clipping of each batch (Node only).
 *
 * @remarks
 * Each worker loads tfjs on the same backend as the calling thread and rebuilds `model` from its
 * JSON topology. At every step the calling thread writes the current weights and the batch into
 * shared memory, each worker computes the clipped sums of a contiguous run of fixed chunks of
 * `chunkSize` examples, and the calling thread adds the chunk sums in chunk order (float64, one
 * rounding to float32). The Gaussian noise is then added once, on the calling thread, from
 * dpkit's secure sampler (the Rng never leaves it): the privacy guarantee is that of the step
 * without workers.
 *
 * With `callerComputes: true` the calling thread, instead of only waiting, computes the first
 * ⌈chunks / (workers + 1)⌉ chunks itself with the same function while the workers compute the rest
 * (on 2 cores: `workers: 1` and the calling thread); the chunks and their order of addition do not
 * change, so neither do the bytes.
 *
 * The result is bit-identical for any number of workers with the same `chunkSize`, and equal
 * to the in-process computation with that chunking (same backend, a model without Dropout or
 * other randomness in the forward pass). It is not bit-identical to a step without `workers`
 * (that one adds the batch in one piece), only equal up to float32 rounding.
 *
 * Losses must be names or `{ name, fromLogits: true }` (a loss function cannot be sent to a
 * thread); custom layers must be registered in the workers too (they are rebuilt from JSON) and
 * are therefore refused. A worker that fails makes the step throw a `DpError` naming it, and the
 * pool unusable; `close()` it.
 *
 * @param options - the model, the number of workers, the chunk size
 * @returns the started pool
 * @throws {@link DpError} `invalid_parameter` for a bad option; `unsupported_backend` outside
 *   Node; `invalid_state` when a worker fails to start
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createDpWorkerPool, dpGradients, dpApplyGradients } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "softmax" })] });
 * const pool = await createDpWorkerPool({ model, workers: 2, chunkSize: 4 });
 * try {
 *   const x = tf.ones([8, 4]);
 *   const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1]);
 *   const step = dpGradients({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: 8, workers: pool });
 *   dpApplyGradients(tf.train.sgd(0.1), step);
 * } finally {
 *   await pool.close();
 * }
 * ```
 */
export function createDpWorkerPool(options: DpWorkerPoolOptions): Promise<DpWorkerPool> {
  return startDpWorkerPool(options);
}

/**
 * {@link createDpWorkerPool} with a deliberate fault in one worker, or seeded sources for the
 * workers' noise shares, for tests (never through the public API). @internal
 */
export async function startDpWorkerPool(
  options: DpWorkerPoolOptions,
  faults: Record<number, WorkerFault> = {},
  testNoiseSeeds?: Record<number, number>,
): Promise<DpWorkerPool> {
  requireObject<DpWorkerPoolOptions>("options", options);
  const threads = nodeWorkerThreads();
  const { model } = options;
  if (typeof model !== "object" || model === null || typeof (model as tf.LayersModel).toJSON !== "function") {
    throw new DpError("invalid_parameter", "`model` must be a tf.LayersModel.", "model");
  }
  const size = requireInteger("workers", options.workers, { min: 1, max: maxWorkers() });
  const chunkSize = requirePositiveInteger("chunkSize", options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const backend = requireOneOf("backend", options.backend ?? activeBackend()?.name ?? "cpu", ["tensorflow", "wasm", "cpu"] as const);
  const startupTimeoutMs = requirePositiveInteger("startupTimeoutMs", options.startupTimeoutMs ?? 120_000);
  const stepTimeoutMs = requirePositiveInteger("stepTimeoutMs", options.stepTimeoutMs ?? 600_000);
  const callerComputes = options.callerComputes ?? false;
  if (typeof callerComputes !== "boolean") {
    throw new DpError("invalid_parameter", `\`callerComputes\` must be true or false. Found ${String(callerComputes)}.`, "callerComputes");
  }
  const weightSizes = model.weights.map((w) => sizeOf(w.shape));
  let topology: unknown;
  try {
    topology = model.toJSON(null, false);
  } catch (e) {
    throw new DpError("invalid_parameter", `\`model\` cannot be serialised for the workers: ${(e as Error).message}`, "model");
  }
  const slots: Slot[] = [];
  const startOne = (index: number): Promise<void> => {
    const channel = new threads.MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4 * SIGNAL_LENGTH));
    const values = new Float64Array(new SharedArrayBuffer(8 * VALUE_LENGTH));
    const init: WorkerInit = {
      backend,
      modelTopology: topology,
      weightSizes,
      signal,
      values,
      port: channel.port2,
      index,
      prod: tf.env().getBool("PROD"),
      fault: faults[index],
      testNoiseSeed: testNoiseSeeds?.[index],
    };
    const worker = startWorker(threads, init, [channel.port2]);
    const slot: Slot = { worker, port: channel.port1, signal, values, seq: 0, configs: 0, exited: false, weightsVersion: -1 };
    slots.push(slot);
    let lastError: string | undefined;
    // Always listened to: an unhandled 'error' event would crash the calling process.
    worker.on("error", (e) => (lastError = e.message));
    worker.on("exit", () => (slot.exited = true));
    return new Promise<void>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(new DpError("invalid_state", `DP worker ${index} failed to start: ${why}`, "workers"));
      };
      const timer = setTimeout(() => fail(`no answer within ${startupTimeoutMs} ms`), startupTimeoutMs);
      worker.on("message", (m: { kind: string; message?: string }) => {
        if (m.kind === "ready") {
          clearTimeout(timer);
          worker.unref();
          resolve();
        } else if (m.kind === "error") fail(m.message ?? "unknown error");
      });
      worker.once("exit", (code) => fail(lastError ?? `it exited with code ${code}`));
    });
  };
  const started = await Promise.allSettled(Array.from({ length: size }, (_, i) => startOne(i)));
  const pool = new DpWorkerPool(model, size, chunkSize, callerComputes);
  const total = weightSizes.reduce((a, b) => a + b, 0);
  states.set(pool, {
    threads,
    slots,
    chunkSize,
    stepTimeoutMs,
    callerComputes,
    weightSizes,
    weights: new Float32Array(new SharedArrayBuffer(Math.max(4, 4 * total))),
    weightsVersion: 0,
    weightsData: [],
    lastWorkerMs: [],
    testNoiseSeeded: testNoiseSeeds !== undefined,
    faults,
    noiseBalance: false,
  });
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await pool.close();
    throw failed.reason;
  }
  return pool;
}

/** Checks that `value` is an open pool for `model`. @internal */
export function requireDpWorkerPool(value: unknown, model: tf.LayersModel): DpWorkerPool {
  if (!(value instanceof DpWorkerPool) || !states.has(value)) {
    throw new DpError("invalid_parameter", "`workers` must be a pool from createDpWorkerPool().", "workers");
  }
  if (value.model !== model) {
    throw new DpError("invalid_parameter", "`workers` holds a copy of another model: create the pool with this `model`.", "workers");
  }
  const s = states.get(value) as PoolState;
  if (s.closing) throw new DpError("invalid_state", "`workers` is closed.", "workers");
  if (s.failure)
    throw new DpError("invalid_state", `\`workers\` is unusable after an earlier failure (${s.failure}); close it.`, "workers");
  return value;
}

/**
 * Copies a tensor's values into a (reused, grown when needed) SharedArrayBuffer: the examples from
 * `from` on (the others' places are left as they were: no worker reads them).
 */
function share(t: tf.Tensor, previous: Float32Array | Int32Array | undefined, from: number): SharedBatch {
  if (t.dtype !== "float32" && t.dtype !== "int32") {
    throw new DpError("invalid_parameter", `With \`workers\`, \`x\` and \`y\` must be float32 or int32. Found ${t.dtype}.`, "workers");
  }
  const values = valuesOf(t); // copied into `data` below, before any other tfjs call
  const float = t.dtype === "float32";
  let data = previous;
  if (!data || data instanceof Float32Array !== float || data.byteLength < values.byteLength) {
    const bytes = Math.max(4, Math.ceil(values.byteLength * 1.25));
    const buffer = new SharedArrayBuffer(bytes - (bytes % 4));
    data = float ? new Float32Array(buffer) : new Int32Array(buffer);
  }
  const width = t.shape.slice(1).reduce<number>((a, b) => a * b, 1);
  data.set(from === 0 ? values : values.subarray(from * width), from * width);
  return { data, dtype: t.dtype, inner: t.shape.slice(1) };
}

/** The shared result arrays, grown (with room to spare) when a step needs more. */
function sharedResults(s: PoolState, sumValues: number, examples: number, chunks: number): SharedResults {
  const have = s.out;
  if (have && have.sums.length >= sumValues && have.norms.length >= examples && have.losses.length >= chunks) return have;
  const grow = (len: number, old: number): number => Math.max(1, len > old ? Math.ceil(len * 1.25) : old);
  s.out = {
    sums: new Float32Array(new SharedArrayBuffer(4 * grow(sumValues, have?.sums.length ?? 0))),
    norms: new Float32Array(new SharedArrayBuffer(4 * grow(examples, have?.norms.length ?? 0))),
    losses: new Float64Array(new SharedArrayBuffer(8 * grow(chunks, have?.losses.length ?? 0))),
  };
  return s.out;
}

function fail(s: PoolState, why: string): never {
  s.failure = why;
  throw new DpError("invalid_state", why, "workers");
}

/** Waits (blocking) for a worker's answer to request `slot.seq`; its message, if it posted one. */
function awaitAnswer(s: PoolState, slot: Slot, index: number, deadline: number): StepReply | undefined {
  for (;;) {
    const answered = Atomics.load(slot.signal, SIGNAL.response) === slot.seq;
    if (answered) break;
    if (Atomics.load(slot.signal, SIGNAL.dead) === 1) {
      fail(s, `DP worker ${index} exited during a step (exit code ${Atomics.load(slot.signal, SIGNAL.exitCode)}).`);
    }
    const left = deadline - Date.now();
    if (left <= 0) fail(s, `DP worker ${index} did not answer within ${s.stepTimeoutMs} ms.`);
    Atomics.wait(slot.signal, SIGNAL.response, slot.seq - 1, Math.min(left, 1000));
  }
  if (Atomics.load(slot.signal, SIGNAL.reply) === 0) return undefined;
  const got = s.threads.receiveMessageOnPort(slot.port);
  if (!got) fail(s, `DP worker ${index} answered without its message.`);
  return got.message as StepReply;
}

/**
 * The share f of the step's noise coordinates that the calling thread draws (the workers draw the
 * rest). The split does not change the result's distribution — every coordinate gets exactly one
 * draw of the same exact sampler from a secure source, whichever thread draws it — so it can follow
 * the threads' speed. By default it is the calling thread's share of the chunks (`proportional`);
 * with {@link setNoiseBalance} it starts there and is balanced after every step (balanceNoise) — not
 * the default, because on the loaded machine it did not measure better (docs/dpsgd-engine.md, "Sixth
 * wave"). With test-seeded worker sources it stays proportional (deterministic bytes), unless a test
 * fixed it.
 */
function noiseSplitOf(s: PoolState, proportional: number): number {
  if (s.noiseSplitFixed !== undefined) return s.noiseSplitFixed;
  if (s.testNoiseSeeded || !s.noiseBalance) return proportional;
  s.noiseSplit ??= proportional;
  return s.noiseSplit;
}

/** One thread's noise timing in a step: when it was ready to draw (ms, comparable across threads), how long it drew, how many coordinates. */
interface NoiseTiming {
  readyAt: number;
  noiseMs: number;
  drawn: number;
}

/**
 * How much later than the last worker the calling thread should finish its noise (ms): a calling
 * thread that finishes first sleeps in `Atomics.wait` and pays a wake-up when the worker answers,
 * one that finishes a little later finds the answer waiting.
 */
const BALANCE_MARGIN_MS = 0.1;

/**
 * Moves the calling thread's noise share f towards the value at which it finishes its noise
 * {@link BALANCE_MARGIN_MS} after the last worker to be ready: tC + rC·f·T = tW + rW·(1 − f)·T·p + m
 * (tC, tW: when each finished its chunks; rC, rW: each one's milliseconds per coordinate; T
 * coordinates; p: the worker's share of the workers' chunks), by a quarter of the way per step (the
 * timings are noisy). Affects only which thread draws which coordinates, never how many draws a
 * coordinate gets.
 */
function balanceNoise(s: PoolState, caller: NoiseTiming, workers: (NoiseTiming & { share: number })[], total: number): void {
  if (!s.noiseBalance || s.noiseSplitFixed !== undefined || s.testNoiseSeeded || s.noiseSplit === undefined || total === 0) return;
  const ok = (t: NoiseTiming): boolean => Number.isFinite(t.readyAt) && Number.isFinite(t.noiseMs) && t.noiseMs >= 0;
  if (!ok(caller) || !workers.every(ok)) return;
  const rate = (t: NoiseTiming): number | undefined => (t.drawn > 0 ? t.noiseMs / t.drawn : undefined);
  const rc = rate(caller);
  const rws = workers.map(rate).filter((r): r is number => r !== undefined);
  const rw = rws.length > 0 ? rws.reduce((a, b) => a + b, 0) / rws.length : undefined;
  const prev = s.noiseRate;
  const mix = (old: number | undefined, now: number | undefined): number | undefined =>
    now === undefined ? old : old === undefined ? now : 0.8 * old + 0.2 * now;
  const caller1 = mix(prev?.caller, rc) ?? mix(prev?.worker, rw);
  const worker1 = mix(prev?.worker, rw) ?? caller1;
  if (caller1 === undefined || worker1 === undefined || !(caller1 > 0) || !(worker1 > 0)) return;
  s.noiseRate = { caller: caller1, worker: worker1 };
  const last = workers.reduce((a, b) => (b.readyAt > a.readyAt ? b : a));
  const cost = worker1 * total * last.share;
  const target = (last.readyAt - caller.readyAt + cost + BALANCE_MARGIN_MS) / (caller1 * total + cost);
  const f = Math.min(1, Math.max(0, Number.isFinite(target) ? target : s.noiseSplit));
  s.noiseSplit += 0.25 * (f - s.noiseSplit);
}

/** Fixes the calling thread's noise share f (undefined: balanced again) — for tests only. @internal */
export function setNoiseSplitForTests(pool: DpWorkerPool, f: number | undefined): void {
  const s = states.get(pool);
  if (!s) throw new DpError("invalid_parameter", "`pool` must be a pool from createDpWorkerPool().", "pool");
  if (f !== undefined && !(f >= 0 && f <= 1)) throw new DpError("invalid_parameter", `\`f\` must be in [0, 1]. Found ${f}.`, "f");
  s.noiseSplitFixed = f;
}

/**
 * Balances the shared noise's split by the threads' timings (true) or keeps it at the calling
 * thread's share of the chunks (false, the default) — for benchmarks and tests. @internal
 */
export function setNoiseBalance(pool: DpWorkerPool, on: boolean): void {
  const s = states.get(pool);
  if (!s) throw new DpError("invalid_parameter", "`pool` must be a pool from createDpWorkerPool().", "pool");
  s.noiseBalance = on;
  if (!on) s.noiseSplit = undefined;
}

/** The calling thread's current noise share f when fixed or balanced (for tests and benchmarks). @internal */
export function noiseSplit(pool: DpWorkerPool): number | undefined {
  const s = states.get(pool);
  return s?.noiseSplitFixed ?? s?.noiseSplit;
}

/** Whether a worker holding configuration `a` can run a step of configuration `b` without a message. */
function sameConfig(a: WorkerConfig | undefined, b: WorkerConfig): boolean {
  if (a === undefined) return false;
  const sameBatch = (p: SharedBatch, q: SharedBatch): boolean =>
    p.data === q.data && p.dtype === q.dtype && p.inner.length === q.inner.length && p.inner.every((d, i) => d === q.inner[i]);
  return (
    a.weights === b.weights &&
    sameBatch(a.x, b.x) &&
    sameBatch(a.y, b.y) &&
    a.out === b.out &&
    a.z === b.z &&
    a.chunkSize === b.chunkSize &&
    a.total === b.total &&
    a.strategy === b.strategy &&
    a.keepOutput === b.keepOutput &&
    (a.loss === b.loss || JSON.stringify(a.loss) === JSON.stringify(b.loss))
  );
}

/** A worker's profile of its last step, from its control array. */
function readProfile(v: Float64Array): WorkerStepProfile {
  const opt = (x: number): number | undefined => (Number.isNaN(x) ? undefined : x);
  return {
    total: v[VALUE.total],
    receive: v[VALUE.receive],
    weights: v[VALUE.weights],
    inputs: v[VALUE.inputs],
    compute: v[VALUE.compute],
    noise: opt(v[VALUE.noise]),
    tid: opt(v[VALUE.tid]),
    at: { woke: v[VALUE.wokeAt], computeFrom: v[VALUE.computeFrom], computeTo: v[VALUE.computeTo], done: v[VALUE.doneAt] },
  };
}

/**
 * The batch's clipped sum, computed by the pool's workers (the hook behind `workers` in
 * `dpGradients` and `makePrivate`). Blocks the calling thread until every worker answered. @internal
 */
export function workerClippedSum(
  pool: DpWorkerPool,
  o: {
    model: tf.LayersModel;
    loss: PerExampleLoss;
    x: tf.Tensor;
    y: tf.Tensor;
    l2NormClip: number;
    strategy?: ClippingStrategy;
    metrics?: MetricSpec[];
    maxPhysicalBatchSize?: number;
    /**
     * Work for the calling thread once its own chunks are done, before it blocks for the workers
     * (dpGradients draws the step's noise here). Must not depend on the clipped sum.
     */
    whileWaiting?: () => void;
    /**
     * Share the step's exact noise: the coordinates are cut into one range per computing thread
     * (calling thread first, its share balanced by the threads' timings — see balanceNoise — then
     * the workers in order, in proportion to their chunks); each worker
     * draws Z for its range from its own secure source after its chunks, the calling thread draws
     * its range with `drawOwn` (from the step's rng) while it waits. The vector comes back as
     * `presampled`. Only for `callerComputes` pools (see {@link sharesNoise}).
     */
    noise?: { gridSigma: number; drawOwn(z: Float64Array, from: number, to: number): void };
  },
): ClippedSumParts {
  requireDpWorkerPool(pool, o.model);
  const s = states.get(pool) as PoolState;
  if (typeof o.loss === "function") {
    throw new DpError(
      "invalid_parameter",
      "With `workers`, `loss` must be a loss name or { name, fromLogits: true }: a function cannot be sent to a worker thread (class weights make one).",
      "loss",
    );
  }
  if (o.maxPhysicalBatchSize !== undefined) {
    throw new DpError(
      "invalid_parameter",
      "With `workers`, give the chunk size to createDpWorkerPool({ chunkSize }) instead of `maxPhysicalBatchSize`.",
      "maxPhysicalBatchSize",
    );
  }
  const n = o.x.shape[0] ?? 0;
  if ((o.y.shape[0] ?? 0) !== n) {
    throw new DpError("invalid_parameter", `\`x\` and \`y\` must hold the same number of examples. Found ${n} and ${o.y.shape[0]}.`, "y");
  }
  const chunks = makeChunks(n, s.chunkSize);
  const keepOutput = (o.metrics ?? []).length > 0;
  let t = performance.now();
  const at = { start: performance.timeOrigin + t, posted: NaN, callerDone: NaN, aheadDone: NaN, answered: NaN, reduced: NaN };
  const lap = (): number => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d;
  };
  const stamp = (): number => performance.timeOrigin + t;
  // Weights: all of model.weights, in order, into shared memory (read by every worker) — when they
  // changed since the last step (tfjs gives a variable new data on every update; a worker then
  // uploads them again).
  const data = o.model.weights.map((w) => w.read().dataId as object);
  if (data.length !== s.weightsData.length || data.some((d, k) => d !== s.weightsData[k])) {
    let off = 0;
    o.model.weights.forEach((w, k) => {
      const values = valuesOf(w.read());
      if (values.length !== s.weightSizes[k]) fail(s, `The model's weight ${w.name} changed shape since the pool started.`);
      s.weights.set(values, off);
      off += values.length;
    });
    s.weightsData = data;
    s.weightsVersion++;
  }
  const total = trainableSizes(o.model).reduce((a, b) => a + b, 0);
  const out = sharedResults(s, chunks.length * total, n, chunks.length);
  // The workers read only their own examples: those after the calling thread's chunks.
  const firstShared = s.callerComputes ? Math.min(n, Math.ceil(chunks.length / (s.slots.length + 1)) * s.chunkSize) : 0;
  const x = share(o.x, s.x, firstShared);
  const y = share(o.y, s.y, firstShared);
  s.x = x.data;
  s.y = y.data;
  const write = lap();
  // With callerComputes the calling thread takes the first ⌈chunks / (workers + 1)⌉ chunks; the
  // workers get contiguous runs of the rest, as even as possible. (The split does not enter the
  // arithmetic: the chunks and their order of addition are fixed.)
  const k = s.slots.length;
  const own = s.callerComputes ? Math.ceil(chunks.length / (k + 1)) : 0;
  const rest = chunks.length - own;
  const firsts = s.slots.map((_, w) => own + Math.floor((w * rest) / k));
  const runs: Chunk[][] = s.slots.map((_, w) => chunks.slice(firsts[w], own + Math.floor(((w + 1) * rest) / k)));
  // The noise ranges: thread k (0 = the calling thread, then the workers) draws coordinates
  // [bound(k), bound(k + 1)), bound ∝ the chunks before it: disjoint, and together all of them.
  const noise = o.noise;
  let z: Float64Array | undefined;
  // The calling thread draws the first ⌊f·total⌋ coordinates (f: see noiseSplitOf), the workers
  // the rest, cut in proportion to their chunks: disjoint ranges that together cover the vector,
  // whatever f is.
  const split = noise ? noiseSplitOf(s, chunks.length === 0 ? 1 : own / chunks.length) : 1;
  const callerTo = Math.min(total, Math.floor(total * split));
  const bound = (k: number): number => {
    if (k === 0) return 0;
    if (k === 1) return callerTo;
    let before = 0;
    for (let w = 0; w < k - 1; w++) before += runs[w].length;
    return rest === 0 ? total : callerTo + Math.floor(((total - callerTo) * before) / rest);
  };
  if (noise) {
    if (!s.noiseZ || s.noiseZ.length < total) s.noiseZ = new Float64Array(new SharedArrayBuffer(8 * Math.max(1, total)));
    z = s.noiseZ;
  }
  const busy: number[] = [];
  runs.forEach((run, w) => {
    if (run.length === 0) return;
    const slot = s.slots[w];
    if (Atomics.load(slot.signal, SIGNAL.dead) === 1)
      fail(s, `DP worker ${w} has exited (exit code ${Atomics.load(slot.signal, SIGNAL.exitCode)}).`);
    // A configuration message only when something in it changed (a shared array grown, another
    // loss…); the step itself is a few numbers in the worker's control arrays.
    const config: WorkerConfig = {
      kind: "config",
      weights: s.weights,
      x,
      y,
      out,
      z: s.noiseZ,
      chunkSize: s.chunkSize,
      total,
      loss: o.loss,
      strategy: o.strategy,
      keepOutput,
    };
    if (!sameConfig(slot.config, config)) {
      slot.port.postMessage(config);
      slot.config = config;
      Atomics.store(slot.signal, SIGNAL.config, ++slot.configs);
    }
    const sig = slot.signal;
    sig[SIGNAL.n] = n;
    sig[SIGNAL.firstChunk] = firsts[w];
    sig[SIGNAL.chunkCount] = run.length;
    sig[SIGNAL.weightsChanged] = slot.weightsVersion !== s.weightsVersion ? 1 : 0;
    sig[SIGNAL.hasNoise] = noise && z ? 1 : 0;
    sig[SIGNAL.noiseFrom] = noise && z ? bound(w + 1) + (s.faults[w] === "split-gap" ? 5 : 0) : 0;
    sig[SIGNAL.noiseTo] = noise && z ? bound(w + 2) : 0;
    slot.values[VALUE.l2NormClip] = o.l2NormClip;
    slot.values[VALUE.gridSigma] = noise ? noise.gridSigma : NaN;
    slot.weightsVersion = s.weightsVersion;
    // (Atomics.store is a full barrier: the worker sees every write above once it sees the request.)
    if (Number.isNaN(at.posted)) at.posted = performance.timeOrigin + performance.now();
    Atomics.store(sig, SIGNAL.request, ++slot.seq);
    Atomics.notify(sig, SIGNAL.request);
    busy.push(w);
  });
  const post = lap();
  if (Number.isNaN(at.posted)) at.posted = stamp(); // no worker asked
  const deadline = Date.now() + s.stepTimeoutMs;
  const results: ChunkResult[] = [];
  // The calling thread's own chunks, computed while the workers compute theirs: the same function
  // and the same targets (the shared result array) as in a worker.
  let callerError: unknown;
  try {
    for (let c = 0; c < own; c++) {
      const [start, size] = chunks[c];
      const xs = o.x.slice(start, size);
      const ys = o.y.slice(start, size);
      try {
        const into = { sum: out.sums.subarray(c * total, (c + 1) * total), norms: out.norms.subarray(start, start + size) };
        results.push(
          computeChunk({ model: o.model, x: xs, y: ys, loss: o.loss, l2NormClip: o.l2NormClip, strategy: o.strategy, keepOutput, into }),
        );
      } finally {
        tf.dispose([xs, ys]);
      }
    }
  } catch (e) {
    callerError = e; // thrown once the workers have answered (the pool stays in step with them)
  }
  const caller = lap();
  at.callerDone = stamp();
  // While the workers compute: the calling thread adds its own chunks (the first ones, so the order
  // of addition is unchanged) into the accumulator, then does `whileWaiting`.
  s.scratch ??= new Float64Array(total);
  let preReduced = 0;
  let callerReadyAt = NaN;
  let callerNoiseMs = NaN;
  let callerDrawn = 0;
  if (callerError === undefined) {
    try {
      if (own > 0) {
        if (s.scratch.length < total) s.scratch = new Float64Array(total);
        const acc = s.scratch.subarray(0, total).fill(0);
        for (; preReduced < own; preReduced++) addInto(acc, out.sums.subarray(preReduced * total, (preReduced + 1) * total));
      }
      // The calling thread's noise range: its own, plus the range of any worker with no chunks (none asked).
      if (noise && z) {
        callerReadyAt = performance.timeOrigin + performance.now();
        noise.drawOwn(z, 0, bound(1));
        callerDrawn = bound(1);
        runs.forEach((run, w) => {
          if (run.length === 0) {
            noise.drawOwn(z as Float64Array, bound(w + 1), bound(w + 2));
            callerDrawn += bound(w + 2) - bound(w + 1);
          }
        });
        callerNoiseMs = performance.timeOrigin + performance.now() - callerReadyAt;
      }
      o.whileWaiting?.();
    } catch (e) {
      callerError = e;
    }
  }
  const ahead = lap();
  at.aheadDone = stamp();
  const errors: string[] = [];
  const profiles: WorkerStepProfile[] = [];
  s.lastWorkerMs = [];
  for (const w of busy) {
    const slot = s.slots[w];
    const answer = awaitAnswer(s, slot, w, deadline);
    if (answer?.kind === "error") {
      errors.push(`DP worker ${w} failed: ${answer.message}`);
      continue;
    }
    const profile = readProfile(slot.values);
    s.lastWorkerMs.push(profile.total);
    profiles.push(profile);
    const outputs = answer?.kind === "outputs" ? answer.outputs : [];
    if (keepOutput && outputs.length !== runs[w].length)
      errors.push(`DP worker ${w} returned the outputs of ${outputs.length} chunks for ${runs[w].length}.`);
    // The sums, norms and losses are in shared memory: the results are views of it, read before the next step rewrites it.
    runs[w].forEach(([start, size], i) => {
      const c = firsts[w] + i;
      results.push({
        sum: out.sums.subarray(c * total, (c + 1) * total),
        norms: out.norms.subarray(start, start + size),
        lossValue: out.losses[c],
        output: outputs[i]?.output,
        outputShape: outputs[i]?.outputShape,
      });
    });
  }
  if (errors.length > 0 || callerError !== undefined) z?.fill(0); // a failed step's noise is never used
  if (errors.length > 0) fail(s, errors.join(" "));
  if (callerError !== undefined) throw callerError;
  const wait = lap();
  at.answered = stamp();
  if (noise && z && busy.length > 0) {
    balanceNoise(
      s,
      { readyAt: callerReadyAt, noiseMs: callerNoiseMs, drawn: callerDrawn },
      busy.map((w) => ({
        readyAt: s.slots[w].values[VALUE.readyAt],
        noiseMs: s.slots[w].values[VALUE.noise],
        drawn: bound(w + 2) - bound(w + 1),
        share: rest === 0 ? 0 : runs[w].length / rest,
      })),
      total,
    );
  }
  const reduced = reduceChunks({ model: o.model, chunks, results, n, y: o.y, metrics: o.metrics, scratch: s.scratch, preReduced });
  const reduce = lap();
  at.reduced = stamp();
  s.lastProfile = { write, post, caller, ahead, wait, reduce, workers: profiles, at };
  return noise && z ? { ...reduced, presampled: { gridSigma: noise.gridSigma, z: z.subarray(0, total) } } : reduced;
}

/**
 * Checks `makePrivate`'s `workers` option: a count (1 = none, in the calling thread) or a pool
 * for `model`. @internal
 */
export function checkWorkersOption(value: unknown, model: tf.LayersModel): void {
  if (value === undefined) return;
  if (typeof value === "number") requireInteger("workers", value, { min: 1, max: maxWorkers() });
  else requireDpWorkerPool(value, model);
}

/**
 * The pool one `fit` uses: none for `undefined` or 1, the given pool, or a pool of `value`
 * threads started now and closed by `release`. @internal
 */
export async function leaseDpWorkers(
  value: number | DpWorkerPool | undefined,
  model: tf.LayersModel,
): Promise<{ pool?: DpWorkerPool; release(): Promise<void> }> {
  checkWorkersOption(value, model);
  if (value === undefined || value === 1) return { release: async () => {} };
  if (typeof value !== "number") return { pool: value, release: async () => {} };
  const pool = await createDpWorkerPool({ model, workers: value });
  return { pool, release: () => pool.close() };
}

/**
 * Whether a step on `pool` with this `rng` shares its exact noise among the computing threads: a
 * `callerComputes` pool with workers, and the default secure source (each worker then draws from
 * its own secure source) — or, for tests only, workers started with seeded noise sources. With
 * any other `rng` the calling thread draws all of the noise from it. @internal
 */
export function sharesNoise(pool: DpWorkerPool, rng: Rng | undefined): boolean {
  const s = states.get(pool);
  if (!s || !pool.callerComputes || s.slots.length === 0) return false;
  return rng === undefined || rng === secureRng() || s.testNoiseSeeded;
}

/** Where the pool's last step's time went (for benchmarks). @internal */
export function lastStepProfile(pool: DpWorkerPool): StepProfile | undefined {
  return states.get(pool)?.lastProfile;
}

/** Each busy worker's own time on the pool's last step, in ms (for benchmarks). @internal */
export function lastWorkerTimes(pool: DpWorkerPool): number[] {
  return [...(states.get(pool)?.lastWorkerMs ?? [])];
}
