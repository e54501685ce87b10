import { describe, expect, it } from "vitest";
import { runFedAvg } from "../../../src/federated/core/fedavg.js";
import { simulateFederatedService, trainerOfSimulatedClient } from "../../../src/federated/simulation/service-simulation.js";

const D = 5;
// deterministic clients: the delta depends on the client and on the global weights it receives
const clients = [0, 1, 2, 3].map((i) => ({
  id: `c${i}`,
  train: ({ globalWeights }: { globalWeights: Float32Array }) => ({
    clientId: `c${i}`,
    delta: Float32Array.from(globalWeights, (w, k) => 0.1 * (i + 1) * (k + 1) - 0.5 * w),
    numExamples: 10 * (i + 1),
  }),
}));

describe("the simulator on the service's code path", () => {
  it("gives the same model as runFedAvg for deterministic clients (dp none, every client every round)", async () => {
    const initialWeights = new Float32Array(D);
    const classic = await runFedAvg({
      clients,
      rounds: 3,
      initialWeights,
      totalClients: 4,
      selection: { kind: "fixed", clientsPerRound: 4 },
    });
    const service = await simulateFederatedService({
      model: { name: "toy", dimension: D },
      initialWeights,
      training: { localEpochs: 1, batchSize: 1, learningRate: 0.1, minExamples: 1 },
      rounds: 3,
      clientsPerRound: 4,
      minClients: 4,
      dp: "none",
      trainers: clients.map(trainerOfSimulatedClient),
    });
    expect(service.status.rounds).toBe(3);
    for (let k = 0; k < D; k++) expect(service.weights[k]).toBeCloseTo(classic.weights[k], 5);
    expect(service.bytesUp).toBeGreaterThan(3 * 4 * 4 * D);
  }, 30_000);

  it("runs distributed noise behind secure aggregation, with epsilon per round", async () => {
    const rounds: number[] = [];
    const r = await simulateFederatedService({
      model: { name: "toy", dimension: D },
      initialWeights: new Float32Array(D),
      training: { localEpochs: 1, batchSize: 1, learningRate: 0.1, minExamples: 1 },
      rounds: 2,
      clientsPerRound: 4,
      minClients: 3,
      dp: "client",
      noiseMultiplier: 1,
      l2NormClip: 1,
      secureAggregation: true,
      trainers: clients.map(trainerOfSimulatedClient),
      onRound: (s) => rounds.push(s.epsilon!),
    });
    expect(r.status.rounds).toBe(2);
    expect(r.status.history.every((h) => h.accepted >= 3)).toBe(true);
    expect(rounds).toHaveLength(2);
    expect(rounds[1]).toBeGreaterThan(rounds[0]);
    expect(r.status.ledgerEpsilon).toBeCloseTo(r.status.epsilon!, 9);
  }, 30_000);
});
