/**
 * A CNN trains in the worker pool on the wasm backend: the workers register dpkit's wasm gradient
 * kernels (Conv2DBackpropFilter, which tfjs-backend-wasm lacks, and the faster replacements), so
 * every selected client is accepted and the round equals sequential simulation on wasm bit for
 * bit. Without the registration in simulation-worker.ts every client fails ("Kernel
 * 'Conv2DBackpropFilter' not registered"), accepted drops to 0 and this test fails.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { createSimulatedClients, flattenWeights, runFedAvg } from "../../../src/federated/index.js";
import { SeededRng } from "../../../src/random/index.js";
import { createWorkerPoolClients } from "../../../src/experiments/index.js";

beforeAll(async () => {
  await prepareBackend({ backend: "wasm", announce: false });
});

describe("worker pool on wasm with a CNN", () => {
  it("trains conv + max-pool + dense clients in one worker, identical to sequential", async () => {
    const rng = new SeededRng(4);
    const datasets = [0, 1, 2].map(() => {
      const x = Float32Array.from({ length: 20 * 8 * 8 }, () => rng.nextUint32() / 2 ** 32);
      const y = Uint8Array.from({ length: 20 }, (_, i) => (x[i * 64 + 9] > 0.5 ? 1 : 0));
      return { x, y, count: 20 };
    });
    const mk = (): tf.LayersModel =>
      tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: [8, 8, 1],
            filters: 3,
            kernelSize: 3,
            padding: "same",
            activation: "relu",
            kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
          }),
          tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        ],
      });
    const local = { localEpochs: 1, localBatchSize: 5, learningRate: 0.1 };
    const common = { rounds: 2, totalClients: 3, selection: { kind: "fixed" as const, clientsPerRound: 2 }, seed: 9 };
    const seqModel = mk();
    const w0 = flattenWeights(seqModel);
    const seq = await runFedAvg({
      ...common,
      clients: createSimulatedClients({ datasets, model: seqModel, inputShape: [8, 8, 1], ...local }),
      initialWeights: w0,
    });
    const lines: string[] = [];
    const pool = await createWorkerPoolClients({ workers: 1, datasets, model: mk(), inputShape: [8, 8, 1], backend: "wasm", ...local });
    try {
      const par = await runFedAvg({
        ...common,
        clients: pool.clients,
        executor: pool.executor,
        initialWeights: w0,
        log: (l) => lines.push(l),
      });
      expect(lines).toEqual([]);
      expect(par.rounds.map((r) => r.accepted)).toEqual([2, 2]);
      expect(Array.from(par.weights)).toEqual(Array.from(seq.weights));
      expect(Array.from(par.weights)).not.toEqual(Array.from(w0));
    } finally {
      await pool.close();
    }
  }, 60_000);
});
