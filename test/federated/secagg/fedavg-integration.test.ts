import { describe, expect, it } from "vitest";
import { runFedAvg, type FederatedClient } from "../../../src/federated/index.js";
import { DistributedDiscreteGaussianAggregator, SecureAggregator } from "../../../src/federated/secagg/index.js";
import { SeededRng } from "../../../src/random/index.js";
import { privatizeUpload } from "../../../src/federated/client/privatize.js";

const D = 8;
const clients: FederatedClient[] = Array.from({ length: 6 }, (_, i) => ({
  id: `c${i}`,
  train: () => ({ clientId: `c${i}`, delta: new Float32Array(D).fill(0.05 * (i + 1)), numExamples: 10 }),
}));

function run(secure: boolean) {
  const ddg = new DistributedDiscreteGaussianAggregator({
    l2NormClip: 1,
    granularity: 2 ** -12,
    localNoiseStddev: 8,
    allowInsecureRng: true,
  });
  const aggregator = secure ? new SecureAggregator({ aggregator: ddg, rng: new SeededRng(3) }) : ddg;
  return runFedAvg({
    clients,
    rounds: 2,
    initialWeights: new Float32Array(D),
    totalClients: 6,
    selection: { kind: "fixed", clientsPerRound: 6 },
    aggregator,
    seed: 11,
    privatize: privatizeUpload,
  });
}

describe("SecureAggregator inside runFedAvg", () => {
  it("gives exactly the weights of the same client-noise run without secure aggregation", async () => {
    const [a, b] = await Promise.all([run(true), run(false)]);
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
    expect(a.rounds.map((r) => r.event)).toEqual(b.rounds.map((r) => r.event));
    // mean delta 0.175 per round, tiny noise (8 grid steps of 2^-12 per client)
    for (const w of a.weights) expect(Math.abs(w - 0.35)).toBeLessThan(0.01);
  });
});
