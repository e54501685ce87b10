/**
 * Federated benchmark: time per FedAvg round against clients per round, sequential (this
 * thread) versus a worker pool of 1 and 2 threads; plus aggregation and compression throughput.
 * Comparisons are measured side by side, alternating, median of several repetitions.
 *
 *   npm run bench -- federated
 */
import { prepareBackend } from "../src/backend/index.js";
import { loadMnist } from "../src/data/mnist.js";
import { mnistModel } from "../src/dpsgd/mnist-models.js";
import type { ClientUpdate, FederatedClient } from "../src/federated/index.js";
import {
  DpFedAvgAggregator,
  FedAvgServer,
  StochasticQuantizer,
  createSimulatedClients,
  flattenWeights,
  partitionIid,
  partitionToDatasets,
  probabilityCrossEntropyLoss,
} from "../src/federated/index.js";
import { SeededRng, fillGaussian } from "../src/random/index.js";
import { median } from "./report.js";
import { createWorkerPoolClients } from "../src/experiments/index.js";

async function main(): Promise<void> {
  const backend = await prepareBackend({ announce: false });
  const results: { case: string; metric: string; value: number; unit: string; baseline?: number; ratio?: number }[] = [];
  const REPS = 3;

  // --- time per round vs clients per round, 1 vs 2 workers -----------------------------------
  const N = 16;
  const train = loadMnist({ split: "train", count: N * 100 });
  const datasets = partitionToDatasets(train.images, train.labels, partitionIid(train.count, N, new SeededRng(1)));
  const model = mnistModel("mlp");
  const w0 = flattenWeights(model);
  const local = { localEpochs: 1, localBatchSize: 10, learningRate: 0.1 };
  const sequential = createSimulatedClients({ datasets, model, inputShape: [784], ...local, loss: probabilityCrossEntropyLoss });
  const pool1 = await createWorkerPoolClients({
    workers: 1,
    datasets,
    model: mnistModel("mlp"),
    inputShape: [784],
    ...local,
    outputs: "probabilities",
    backend: backend.name,
  });
  const pool2 = await createWorkerPoolClients({
    workers: 2,
    datasets,
    model: mnistModel("mlp"),
    inputShape: [784],
    ...local,
    outputs: "probabilities",
    backend: backend.name,
  });
  const roundTime = async (clients: FederatedClient[], executor: typeof pool1.executor | undefined, K: number): Promise<number> => {
    const server = new FedAvgServer({
      initialWeights: w0,
      totalClients: N,
      selection: { kind: "fixed", clientsPerRound: K },
      seed: 5,
      executor,
    });
    const t0 = performance.now();
    await server.runRound(clients);
    return (performance.now() - t0) / 1000;
  };
  console.log(`FedAvg round time (MLP 784-128-10, ${backend.name}, 100 examples per client, E=1, B=10), median of ${REPS}`);
  console.log("clients/round  sequential s  1 worker s  2 workers s  speed-up (2 vs seq)");
  for (const K of [2, 4, 8]) {
    const t: Record<string, number[]> = { seq: [], w1: [], w2: [] };
    await roundTime(pool2.clients, pool2.executor, 2); // warm-up
    for (let r = 0; r < REPS; r++) {
      t.seq.push(await roundTime(sequential, undefined, K));
      t.w1.push(await roundTime(pool1.clients, pool1.executor, K));
      t.w2.push(await roundTime(pool2.clients, pool2.executor, K));
    }
    const [s, a, b] = [median(t.seq), median(t.w1), median(t.w2)];
    console.log(
      `${String(K).padStart(13)}  ${s.toFixed(2).padStart(12)}  ${a.toFixed(2).padStart(10)}  ${b.toFixed(2).padStart(11)}  ${(s / b).toFixed(2).padStart(19)}`,
    );
    results.push({ case: `round K=${K} sequential`, metric: "seconds_per_round", value: s, unit: "s" });
    results.push({ case: `round K=${K} 1 worker`, metric: "seconds_per_round", value: a, unit: "s", baseline: s, ratio: a / s });
    results.push({ case: `round K=${K} 2 workers`, metric: "seconds_per_round", value: b, unit: "s", baseline: s, ratio: b / s });
  }
  await pool1.close();
  await pool2.close();

  // --- aggregation and compression throughput -----------------------------------------------
  const d = w0.length;
  const updates: ClientUpdate[] = Array.from({ length: 100 }, (_, i) => ({
    clientId: `c${i}`,
    delta: Float32Array.from(fillGaussian(new Float64Array(d), 0.01, new SeededRng(i))),
    numExamples: 60,
  }));
  const ctx = {
    round: 0,
    dimension: d,
    totalClients: 1000,
    selectedClients: 100,
    expectedClients: 100,
    selection: { kind: "poisson" as const, samplingProbability: 0.1 },
  };
  const agg = new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1 });
  const q = new StochasticQuantizer({ bits: 2, rotate: true });
  const tAgg: number[] = [];
  const tEnc: number[] = [];
  const tDec: number[] = [];
  for (let r = 0; r < REPS; r++) {
    let t0 = performance.now();
    agg.aggregate(updates, ctx);
    tAgg.push(performance.now() - t0);
    t0 = performance.now();
    const bytes = q.encode(updates[0].delta);
    tEnc.push(performance.now() - t0);
    t0 = performance.now();
    q.decode(bytes, d);
    tDec.push(performance.now() - t0);
  }
  console.log(`\nDP aggregation of 100 updates of ${d} parameters (server noise): ${median(tAgg).toFixed(1)} ms`);
  console.log(
    `2-bit rotated quantisation of one update: encode ${median(tEnc).toFixed(1)} ms, decode ${median(tDec).toFixed(1)} ms, ${q.encodedBytes(d)} bytes vs ${4 * d} (${((4 * d) / q.encodedBytes(d)).toFixed(1)}x smaller)`,
  );
  results.push({ case: "dp aggregate 100 x MLP", metric: "time", value: median(tAgg), unit: "ms" });
  results.push({ case: "quantize 2-bit rotated encode", metric: "time", value: median(tEnc), unit: "ms" });
  results.push({ case: "quantize 2-bit rotated decode", metric: "time", value: median(tDec), unit: "ms" });
  results.push({
    case: "quantize 2-bit rotated",
    metric: "uplink_bytes",
    value: q.encodedBytes(d),
    unit: "bytes",
    baseline: 4 * d,
    ratio: q.encodedBytes(d) / (4 * d),
  });
  console.log(JSON.stringify({ bench: "federated", results }));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
