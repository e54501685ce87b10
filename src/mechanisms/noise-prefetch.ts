/**
 * Exact DP-SGD noise drawn ahead of time on a second thread (Node `worker_threads`, opt-in):
 * {@link createNoiseWorker}.
 *
 * The exact discrete Gaussian integers Z that a DP-SGD step adds do not depend on the data, so a
 * worker thread can draw the next step's Z while the calling thread computes the step's gradients.
 * The calling thread still rounds the clipped sum onto the grid, checks it and adds Z
 * (`addGaussianNoiseInPlace`); only the sampling moves.
 * @module
 */
import { DpError } from "../errors.js";

type WorkerThreads = typeof import("node:worker_threads");
type NodeWorker = import("node:worker_threads").Worker;
type NodePort = import("node:worker_threads").MessagePort;

/** A request for one vector of noise. @internal */
export interface NoiseRequest {
  id: number;
  gridSigma: number;
  dimension: number;
}

/** One vector of noise, transferred from the worker. @internal */
export interface NoiseReply extends NoiseRequest {
  z: Float64Array;
  /** Milliseconds the worker took to draw it. */
  ms: number;
}

/** What the worker is started with. @internal */
export interface NoiseWorkerInit {
  /** Int32Array[1]: the id of the last reply posted (raised after the post, notified). */
  flag: SharedArrayBuffer;
  port: unknown;
  /** Tests only (never through the public API): draw from a seeded, insecure source. */
  testSeed?: number;
}

/** How long a take waits at most for a vector still being drawn, in ms (bounds the estimate below). */
const MAX_WAIT_MS = 50;

/**
 * A worker thread that draws the exact noise of the next DP-SGD step ahead of time; pass it as
 * `noiseWorker` to `dpGradients`, `privatizeClippedSum` or `makePrivate` (`dpkit/dpsgd`).
 *
 * @remarks
 * The worker has its own secure source (a `SecureRng` on the platform CSPRNG) and the same exact
 * sampler as the calling thread. Each vector is requested for one (grid sigma, dimension), used
 * exactly once and zeroed after use; a vector for another (grid sigma, dimension) is zeroed and
 * discarded. Right after a take the next vector is requested. When the vector is not there yet,
 * a take waits for it (`Atomics.wait`, at most about as long as the worker's last draw took,
 * capped at 50 ms) and otherwise returns nothing, so the caller draws in-process (the vector still
 * coming serves the next step). Where Node's `worker_threads` are not available (a browser) the
 * object is inert: `available` is false and every step draws in-process. The thread is `unref`'d
 * (it never keeps a process alive); {@link NoiseWorker.dispose} stops it.
 */
export class NoiseWorker {
  private worker: NodeWorker | undefined;
  private port: NodePort | undefined;
  private threads: WorkerThreads | undefined;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  /** Requests posted and not yet received, in order. */
  private readonly inFlight: NoiseRequest[] = [];
  /** A received vector not yet used. */
  private ready: NoiseReply | undefined;
  private waitMs = MAX_WAIT_MS;
  /** Counters, for tests and benches: vectors used, vectors discarded, takes that found none. */
  readonly stats = { used: 0, discarded: 0, missed: 0 };

  /** @internal */
  constructor(threads: WorkerThreads | undefined, testSeed?: number) {
    if (threads === undefined) return;
    try {
      const { port1, port2 } = new threads.MessageChannel();
      const init: NoiseWorkerInit = { flag: this.flag.buffer as SharedArrayBuffer, port: port2, testSeed };
      const options = { workerData: init, transferList: [port2] as unknown as import("node:worker_threads").Transferable[] };
      let worker: NodeWorker;
      if (import.meta.url.endsWith(".ts")) {
        const url = new URL("./noise-worker.ts", import.meta.url).href;
        const tsx = import.meta.resolve("tsx/esm/api");
        const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
        worker = new threads.Worker(code, { ...options, eval: true });
      } else worker = new threads.Worker(new URL("./noise-worker.js", import.meta.url), options);
      worker.unref();
      port1.unref();
      worker.on("error", () => this.dispose());
      worker.on("exit", () => this.dispose());
      this.worker = worker;
      this.port = port1;
      this.threads = threads;
    } catch {
      this.dispose();
    }
  }

  /** Whether a worker thread is running (false in a browser, after an error, or after dispose). */
  get available(): boolean {
    return this.worker !== undefined;
  }

  /**
   * The next unused vector of Z ~ N_ℤ(0, gridSigma²) of length `dimension`, or `undefined` if
   * none is ready in time (the caller then draws in-process). The caller owns the vector, uses it
   * once and zeroes it. The next vector is requested before this returns. @internal
   */
  take(gridSigma: number, dimension: number): Float64Array | undefined {
    if (this.port === undefined) return undefined;
    this.receive(gridSigma, dimension);
    if (this.ready === undefined && this.inFlight.some((r) => r.gridSigma === gridSigma && r.dimension === dimension)) {
      const last = this.inFlight.find((r) => r.gridSigma === gridSigma && r.dimension === dimension) as NoiseRequest;
      const deadline = performance.now() + this.waitMs;
      for (;;) {
        const seen = Atomics.load(this.flag, 0);
        if (seen >= last.id) break;
        const left = deadline - performance.now();
        if (left <= 0) break;
        Atomics.wait(this.flag, 0, seen, left);
      }
      this.receive(gridSigma, dimension);
    }
    const got = this.ready;
    this.ready = undefined;
    if (got === undefined) this.stats.missed++;
    else {
      this.stats.used++;
      this.waitMs = Math.min(MAX_WAIT_MS, Math.max(1, got.ms));
    }
    this.request(gridSigma, dimension);
    return got?.z;
  }

  /** Whether a vector for (gridSigma, dimension) has arrived (for tests and benches; drains replies like a take). @internal */
  hasReady(gridSigma: number, dimension: number): boolean {
    if (this.port === undefined) return false;
    this.receive(gridSigma, dimension);
    return this.ready !== undefined;
  }

  /** Stops the worker and zeroes any vector not used; later takes return nothing. Idempotent. */
  dispose(): void {
    if (this.ready) this.ready.z.fill(0);
    this.ready = undefined;
    this.inFlight.length = 0;
    this.port?.close();
    this.port = undefined;
    const w = this.worker;
    this.worker = undefined;
    if (w) void w.terminate().catch(() => undefined);
  }

  /** Drains the replies that arrived: keeps the first one that matches (and is newest), zeroes the rest. */
  private receive(gridSigma: number, dimension: number): void {
    const threads = this.threads as WorkerThreads;
    for (;;) {
      const m = threads.receiveMessageOnPort(this.port as NodePort);
      if (m === undefined) break;
      const reply = m.message as NoiseReply;
      this.inFlight.shift();
      if (this.ready === undefined && reply.gridSigma === gridSigma && reply.dimension === dimension) this.ready = reply;
      else {
        reply.z.fill(0);
        this.stats.discarded++;
      }
    }
    if (this.ready !== undefined && !(this.ready.gridSigma === gridSigma && this.ready.dimension === dimension)) {
      this.ready.z.fill(0);
      this.ready = undefined;
      this.stats.discarded++;
    }
  }

  /** Makes sure one vector for (gridSigma, dimension) is on its way. */
  private request(gridSigma: number, dimension: number): void {
    if (this.port === undefined) return;
    if (this.inFlight.some((r) => r.gridSigma === gridSigma && r.dimension === dimension)) return;
    const req: NoiseRequest = { id: this.nextId++, gridSigma, dimension };
    this.inFlight.push(req);
    this.port.postMessage(req);
  }
}

function workerThreads(): WorkerThreads | undefined {
  const getBuiltin = typeof process !== "undefined" ? process.getBuiltinModule : undefined;
  if (typeof getBuiltin !== "function") return undefined;
  try {
    return getBuiltin("node:worker_threads") as WorkerThreads;
  } catch {
    return undefined;
  }
}

/**
 * Starts a {@link NoiseWorker}: a worker thread that draws the exact noise of the next DP-SGD step
 * while the current one computes its gradients. Pass it as `noiseWorker` to `dpGradients` /
 * `privatizeClippedSum` in a custom loop and call `dispose()` when done (`makePrivate(...).fit`
 * with `noiseWorker: true` starts and stops its own).
 *
 * @returns the worker; `available` is false (in-process drawing) where Node's worker_threads are missing
 * @example
 * ```ts
 * import { createNoiseWorker } from "dpkit/mechanisms";
 * const noise = createNoiseWorker();
 * // dpGradients({ ..., noiseWorker: noise }) in each step of a custom loop
 * noise.dispose();
 * ```
 */
export function createNoiseWorker(): NoiseWorker {
  return new NoiseWorker(workerThreads());
}

/** A worker whose source is seeded (insecure): tests only, never exported from a barrel. @internal */
export function startNoiseWorkerForTests(options: { seed?: number; unavailable?: boolean }): NoiseWorker {
  return new NoiseWorker(options.unavailable === true ? undefined : workerThreads(), options.seed);
}

let shared: NoiseWorker | undefined;

/** The process-wide worker behind `noiseWorker: true` outside `fit` (started on first use, `unref`'d). @internal */
export function sharedNoiseWorker(): NoiseWorker {
  if (shared === undefined || !shared.available) shared = createNoiseWorker();
  return shared;
}

/**
 * Checks a `noiseWorker` option: `undefined`/`false` (none), `true` or a {@link NoiseWorker}; it needs
 * exact noise and the default secure source (an insecure `rng` is refused, naming `noiseWorker`).
 * @internal
 */
export function checkNoiseWorkerOption(value: unknown, rng: { secure?: boolean } | undefined, noise: string | undefined): void {
  if (value === undefined || value === false) return;
  if (value !== true && !(value instanceof NoiseWorker)) {
    throw new DpError(
      "invalid_parameter",
      `\`noiseWorker\` must be true, false or a NoiseWorker from createNoiseWorker(). Found ${String(value)}.`,
      "noiseWorker",
    );
  }
  if (rng !== undefined && rng.secure !== true) {
    throw new DpError(
      "invalid_parameter",
      "`noiseWorker` draws from its own secure source and cannot be combined with an insecure `rng`; leave `noiseWorker` unset for a seeded run.",
      "noiseWorker",
    );
  }
  if (noise === "continuous") {
    throw new DpError(
      "invalid_parameter",
      '`noiseWorker` prefetches exact noise only; it cannot be used with `noise: "continuous"`.',
      "noiseWorker",
    );
  }
}
