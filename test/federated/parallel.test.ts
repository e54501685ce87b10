import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  DpFedAvgAggregator,
  createSimulatedClients,
  flattenWeights,
  partitionIid,
  partitionToDatasets,
  runFedAvg,
} from "../../src/federated/index.js";
import { SeededRng } from "../../src/random/index.js";
import { createWorkerPoolClients } from "../../src/experiments/index.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function data(n: number): { x: Float32Array; y: Uint8Array } {
  const rng = new SeededRng(1);
  const x = Float32Array.from({ length: n * 6 }, () => rng.nextUint32() / 2 ** 32);
  const y = Uint8Array.from({ length: n }, (_, i) => (x[i * 6] > 0.5 ? 1 : 0) + (x[i * 6 + 1] > 0.5 ? 1 : 0));
  return { x, y };
}

describe("parallel simulation in worker threads", () => {
  it("gives results identical to sequential simulation for a fixed seed", async () => {
    const { x, y } = data(160);
    const datasets = partitionToDatasets(x, y, partitionIid(160, 8, new SeededRng(2)));
    const mk = (): tf.LayersModel =>
      tf.sequential({
        layers: [
          tf.layers.dense({ units: 5, inputShape: [6], activation: "tanh", kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
          tf.layers.dense({ units: 3 }),
        ],
      });
    const local = { localEpochs: 2, localBatchSize: 4, learningRate: 0.2 };
    const common = { rounds: 3, totalClients: 8, selection: { kind: "fixed" as const, clientsPerRound: 4 }, seed: 77 };
    const seqModel = mk();
    const w0 = flattenWeights(seqModel);
    const seq = await runFedAvg({
      ...common,
      clients: createSimulatedClients({ datasets, model: seqModel, inputShape: [6], ...local }),
      initialWeights: w0,
      aggregator: new DpFedAvgAggregator({ noiseMultiplier: 0.3, l2NormClip: 1, allowInsecureRng: true }),
    });
    const pool = await createWorkerPoolClients({ workers: 2, datasets, model: mk(), inputShape: [6], backend: "cpu", ...local });
    try {
      const par = await runFedAvg({
        ...common,
        clients: pool.clients,
        executor: pool.executor,
        initialWeights: w0,
        aggregator: new DpFedAvgAggregator({ noiseMultiplier: 0.3, l2NormClip: 1, allowInsecureRng: true }),
      });
      expect(Array.from(par.weights)).toEqual(Array.from(seq.weights));
      expect(par.rounds.map((r) => r.accepted)).toEqual(seq.rounds.map((r) => r.accepted));
    } finally {
      await pool.close();
    }
  });
});
