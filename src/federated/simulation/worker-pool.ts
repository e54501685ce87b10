/**
 * Parallel simulation: the clients of a round train in worker threads (one tfjs instance per
 * worker), with results identical to sequential simulation for a fixed seed.
 * @module
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type * as tf from "@tensorflow/tfjs";
import { activeBackend } from "../../backend/index.js";
import type { BackendName } from "../../backend/index.js";
import { DpError, requirePositiveInteger } from "../../errors.js";
import type { ClientUpdate } from "../core/aggregator.js";
import type { ClientExecutor, FederatedClient, TrainRequest } from "../core/fedavg.js";
import { concurrentExecutor } from "../core/fedavg.js";
import type { ClientDataset } from "../client/local-training.js";
import type { WorkerInit } from "./simulation-worker.js";

/** Options for {@link createWorkerPoolClients}. */
export interface WorkerPoolClientsOptions {
  /** Number of worker threads (e.g. the number of cores). */
  workers: number;
  /** One dataset per client. */
  datasets: ClientDataset[];
  /** The model (its JSON topology is sent to the workers; weights come with every task). */
  model: tf.LayersModel;
  /** Shape of one example. */
  inputShape: number[];
  /** E. Default 1. */
  localEpochs?: number;
  /** B. Default 10. */
  localBatchSize?: number;
  /** Client learning rate. Default 0.05. */
  learningRate?: number;
  /** Whether the model outputs logits (default) or softmax probabilities. */
  outputs?: "logits" | "probabilities";
  /** tfjs backend in the workers. Default: the active backend here, else "cpu". */
  backend?: BackendName;
}

/** Clients backed by a worker pool, the executor that runs them concurrently, and a way to stop the workers. */
export interface WorkerPoolClients {
  clients: FederatedClient[];
  executor: ClientExecutor;
  /** Terminates the workers. */
  close(): Promise<void>;
}

/** Starts a simulation worker (from the compiled .js, or from source through tsx's loader API). */
function startWorker(): Worker {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) {
    // Running from source (tsx, vitest): register tsx's loader in the worker, then load the .ts entry.
    const url = new URL("./simulation-worker.ts", import.meta.url).href;
    const code = `import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
    return new Worker(code, { eval: true });
  }
  return new Worker(new URL("./simulation-worker.js", import.meta.url));
}

/**
 * Simulated clients whose local SGD runs in a pool of worker threads. With the server's `seed`,
 * each client receives the same derived seed as in sequential simulation, so the results are
 * bit-identical to `createSimulatedClients` (`dpkit/federated`) with the same model and options (same backend).
 *
 * @remarks
 * Client data is copied once into SharedArrayBuffers that all workers read. Each task carries the
 * global weights and returns the delta (transferred). Only the built-in local SGD runs in workers
 * (not custom trainers). Call `close()` when done.
 *
 * @param options - see {@link WorkerPoolClientsOptions}
 * @returns the clients, a concurrent executor for `FedAvgServer`/`runFedAvg`, and `close`
 * @throws {@link DpError} `invalid_parameter` for a bad worker count
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createWorkerPoolClients } from "dpkit/experiments";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2] })] });
 * const pool = await createWorkerPoolClients({ workers: 2, model, inputShape: [2],
 *   datasets: [{ x: new Float32Array([0, 1]), y: new Uint8Array([1]), count: 1 }] });
 * // runFedAvg({ clients: pool.clients, executor: pool.executor, ... })
 * await pool.close();
 * ```
 */
export async function createWorkerPoolClients(options: WorkerPoolClientsOptions): Promise<WorkerPoolClients> {
  const n = requirePositiveInteger("workers", options.workers);
  const width = options.inputShape.reduce((a, b) => a * b, 1);
  const total = options.datasets.reduce((s, d) => s + d.count, 0);
  const xs = new SharedArrayBuffer(Math.max(4, total * width * 4));
  const ys = new SharedArrayBuffer(Math.max(4, total * 4));
  const x = new Float32Array(xs);
  const y = new Int32Array(ys);
  const spans: [number, number][] = [];
  let off = 0;
  for (const d of options.datasets) {
    if (d.x.length !== d.count * width) {
      throw new DpError(
        "invalid_parameter",
        `Every dataset must hold count × ${width} features. Found ${d.x.length} for count ${d.count}.`,
        "datasets",
      );
    }
    x.set(d.x, off * width);
    for (let i = 0; i < d.count; i++) y[off + i] = d.y[i];
    spans.push([off, d.count]);
    off += d.count;
  }
  const init: WorkerInit = {
    kind: "init",
    backend: options.backend ?? activeBackend()?.name ?? "cpu",
    modelTopology: options.model.toJSON(null, false),
    inputShape: options.inputShape,
    localEpochs: options.localEpochs ?? 1,
    localBatchSize: options.localBatchSize ?? 10,
    learningRate: options.learningRate ?? 0.05,
    loss: options.outputs ?? "logits",
    x: xs,
    y: ys,
    spans,
    width,
  };
  const workers: Worker[] = [];
  const idle: Worker[] = [];
  const queue: (() => void)[] = [];
  const pending = new Map<
    number,
    { resolve: (u: ClientUpdate & { meanLoss?: number }) => void; reject: (e: Error) => void; clientId: string; worker: Worker }
  >();
  let nextId = 0;
  const release = (w: Worker): void => {
    idle.push(w);
    const job = queue.shift();
    if (job) job();
  };
  await Promise.all(
    Array.from({ length: n }, () => {
      const w = startWorker();
      workers.push(w);
      w.on(
        "message",
        (m: { kind: string; id: number; delta?: Float32Array; numExamples?: number; meanLoss?: number; message?: string }) => {
          if (m.kind !== "result" && m.kind !== "error") return;
          const p = pending.get(m.id);
          if (!p) return;
          pending.delete(m.id);
          if (m.kind === "result")
            p.resolve({ clientId: p.clientId, delta: m.delta as Float32Array, numExamples: m.numExamples as number, meanLoss: m.meanLoss });
          else p.reject(new Error(m.message));
          release(w);
        },
      );
      w.on("error", (e) => {
        for (const [id, p] of pending)
          if (p.worker === w) {
            pending.delete(id);
            p.reject(e);
          }
      });
      return new Promise<void>((resolve, reject) => {
        const onReady = (m: { kind: string; message?: string }): void => {
          if (m.kind === "ready") {
            w.off("message", onReady);
            idle.push(w);
            resolve();
          } else if (m.kind === "error") reject(new Error(m.message));
        };
        w.on("message", onReady);
        w.once("error", reject);
        w.postMessage(init);
      });
    }),
  );
  const clients: FederatedClient[] = options.datasets.map((_, i) => {
    const id = `client-${i}`;
    return {
      id,
      train(request: TrainRequest): Promise<ClientUpdate> {
        return new Promise((resolve, reject) => {
          const start = (): void => {
            const w = idle.pop() as Worker;
            const taskId = nextId++;
            pending.set(taskId, { resolve, reject, clientId: id, worker: w });
            w.postMessage({
              kind: "task",
              id: taskId,
              client: i,
              globalWeights: request.globalWeights,
              round: request.round,
              seed: request.seed,
            });
          };
          if (idle.length > 0) start();
          else queue.push(start);
        });
      },
    };
  });
  return {
    clients,
    executor: concurrentExecutor,
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
