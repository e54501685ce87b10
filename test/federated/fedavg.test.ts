import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { ClientDataset, FederatedClient } from "../../src/federated/index.js";
import type { DpEvent, PrivacyAccountant } from "../../src/accounting/index.js";
import {
  DpFedAvgAggregator,
  ExampleLevelDpAggregator,
  FedAvgServer,
  createFederatedAccountant,
  dpSgdLocalEvent,
  dpSgdLocalTrainer,
  createSimulatedClients,
  flattenWeights,
  partitionIid,
  partitionToDatasets,
  randomDropouts,
  runFedAvg,
  setFlatWeights,
  trainLocalUpdate,
} from "../../src/federated/index.js";
import { SeededRng } from "../../src/random/index.js";

function makeModel(seed = 1): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ units: 8, inputShape: [4], activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

function toyData(n: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const rng = new SeededRng(seed);
  const x = new Float32Array(n * 4);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.nextUint32() % 3;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = (j === y[i] ? 1 : 0) + (rng.nextUint32() / 2 ** 32 - 0.5) * 0.5;
  }
  return { x, y };
}

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("weights", () => {
  it("flatten/set round-trips", () => {
    const a = makeModel(1);
    const b = makeModel(7);
    setFlatWeights(b, flattenWeights(a));
    expect(Array.from(flattenWeights(b))).toEqual(Array.from(flattenWeights(a)));
    expect(() => setFlatWeights(b, new Float32Array(3))).toThrow(/length/);
  });
});

describe("FedAvg rounds", () => {
  it("a round with one client reproduces local training", async () => {
    const { x, y } = toyData(30, 1);
    const data: ClientDataset = { x, y, count: 30 };
    const model = makeModel();
    const w0 = flattenWeights(model);
    const clients = createSimulatedClients({
      datasets: [data],
      model,
      inputShape: [4],
      localEpochs: 2,
      localBatchSize: 5,
      learningRate: 0.1,
    });
    const server = new FedAvgServer({ initialWeights: w0, totalClients: 1, selection: { kind: "fixed", clientsPerRound: 1 }, seed: 42 });
    await server.runRound(clients);
    // The same local training with the rng the server derives for client 0 in round 0.
    const { mixSeed } = await import("../../src/federated/core/fedavg.js");
    const local = trainLocalUpdate({
      model,
      globalWeights: w0,
      data,
      inputShape: [4],
      localEpochs: 2,
      localBatchSize: 5,
      learningRate: 0.1,
      rng: new SeededRng(mixSeed(42, 0xc11e47, 0, 0)),
    });
    const expected = w0.map((v, i) => v + local.delta[i]);
    expect(Array.from(server.weights)).toEqual(Array.from(expected));
    expect(local.steps).toBe(12);
  });

  it("dropped, late and malformed clients do not change the result of the others", async () => {
    const { x, y } = toyData(60, 2);
    const datasets = partitionToDatasets(x, y, partitionIid(60, 4, new SeededRng(3)));
    const model = makeModel();
    const w0 = flattenWeights(model);
    const clients = createSimulatedClients({ datasets, model, inputShape: [4], localEpochs: 1, localBatchSize: 5 });
    // Reference: only clients 0 and 1 exist in effect (2 and 3 fail in every way).
    const run = async (faulty: boolean): Promise<{ w: Float32Array; log: string[] }> => {
      const log: string[] = [];
      const cl: FederatedClient[] = clients.map((c, i) =>
        !faulty && i >= 2
          ? {
              id: c.id,
              train: () => {
                throw new Error("absent");
              },
            }
          : c,
      );
      const hang: FederatedClient = { id: cl[3].id, train: () => new Promise(() => {}) }; // never answers
      if (faulty) cl[3] = hang;
      const server = new FedAvgServer({
        initialWeights: w0,
        totalClients: 4,
        selection: { kind: "fixed", clientsPerRound: 4 },
        seed: 9,
        roundDeadlineMs: 3000,
        log: (l) => log.push(l),
        faults: faulty
          ? (id) => (id === "client-2" ? { corruptUpload: (u) => ({ ...u, delta: u.delta.map(() => NaN) }) } : undefined)
          : undefined,
      });
      const report = await server.runRound(cl);
      expect(report.accepted).toBe(2);
      return { w: server.weights, log };
    };
    const ref = await run(false);
    const bad = await run(true);
    expect(Array.from(bad.w)).toEqual(Array.from(ref.w));
    expect(bad.log.join("\n")).toMatch(/client-2 rejected: non-finite/);
    expect(bad.log.join("\n")).toMatch(/client-3 late/);
    expect(ref.log.join("\n")).toMatch(/client-2 dropped: dropped: absent/);
  });

  it("simulated delays beyond the deadline and wrong-length uploads are refused, the round completes", async () => {
    const mk = (i: number): FederatedClient => ({
      id: `c${i}`,
      train: () => ({ clientId: `c${i}`, delta: new Float32Array([i]), numExamples: 1 }),
    });
    const clients = [0, 1, 2, 3].map(mk);
    const log: string[] = [];
    const server = new FedAvgServer({
      initialWeights: new Float32Array([0]),
      totalClients: 4,
      selection: { kind: "fixed", clientsPerRound: 4 },
      roundDeadlineMs: 1000,
      log: (l) => log.push(l),
      faults: (id) =>
        id === "c3"
          ? { delayMs: 5000 }
          : id === "c2"
            ? { corruptUpload: (u) => ({ ...u, delta: new Float32Array(2) }) }
            : id === "c0"
              ? { dropout: true }
              : undefined,
    });
    const r = await server.runRound(clients);
    expect(r.accepted).toBe(1);
    expect(server.weights[0]).toBe(1);
    expect(r.failures.map((f) => `${f.clientId}:${f.status}`).sort()).toEqual(["c0:dropped", "c2:rejected", "c3:late"]);
  });

  it("is reproducible for a fixed seed, trains, and random dropouts are tolerated", async () => {
    const { x, y } = toyData(120, 4);
    const datasets = partitionToDatasets(x, y, partitionIid(120, 6, new SeededRng(3)));
    const go = async (): Promise<Float32Array> => {
      const model = makeModel();
      const clients = createSimulatedClients({ datasets, model, inputShape: [4], localEpochs: 1, localBatchSize: 5, learningRate: 0.2 });
      const h = await runFedAvg({
        clients,
        rounds: 4,
        initialWeights: flattenWeights(model),
        totalClients: 6,
        selection: { kind: "poisson", samplingProbability: 0.5 },
        seed: 5,
        faults: randomDropouts(0.3, 1),
      });
      return h.weights;
    };
    const a = await go();
    const b = await go();
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it("accounts every round and stops before the target epsilon", async () => {
    // A stand-in accountant: epsilon = number of Gaussian events seen (monotone, easy to check).
    const count = (e: DpEvent): number =>
      e.kind === "composed"
        ? e.events.reduce((s, x) => s + count(x), 0)
        : e.kind === "selfComposed"
          ? e.count * count(e.event)
          : e.kind === "poissonSampled"
            ? 1
            : 0;
    class CountingAccountant implements PrivacyAccountant {
      readonly neighboringRelation = "addOrRemoveOne" as const;
      readonly ledger: DpEvent[] = [];
      n = 0;
      compose(e: DpEvent): this {
        this.n += count(e);
        return this;
      }
      supports = (): boolean => true;
      getEpsilon = (): number => this.n;
      getDelta = (): number => 0;
      clone(): CountingAccountant {
        return Object.assign(new CountingAccountant(), { n: this.n });
      }
    }
    const factory = (): PrivacyAccountant => new CountingAccountant();
    const clients = [0, 1, 2, 3].map((i) => ({
      id: `c${i}`,
      train: () => ({ clientId: `c${i}`, delta: new Float32Array([1, 1]), numExamples: 1 }),
    }));
    const h = await runFedAvg({
      clients,
      rounds: 10,
      initialWeights: new Float32Array(2),
      totalClients: 4,
      selection: { kind: "poisson", samplingProbability: 0.5 },
      aggregator: new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, allowInsecureRng: true }),
      seed: 1,
      targetEpsilon: 3.5,
      accountantFactory: factory,
    });
    expect(h.stoppedBy).toBe("targetEpsilon");
    expect(h.rounds.length).toBe(3);
    expect(h.rounds.map((r) => r.epsilon)).toEqual([1, 2, 3]);
    expect(h.targetDelta).toBeCloseTo(1 / 4 ** 1.1, 12);
  });

  it("example-level DP: clients run DP-SGD and the round reports the local DP-SGD event", async () => {
    const { x, y } = toyData(80, 6);
    const datasets = partitionToDatasets(x, y, partitionIid(80, 4, new SeededRng(3)));
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: "softmax" })] });
    const local = { localSamplingProbability: 0.25, localSteps: 3, noiseMultiplier: 1.1 };
    const trainer = dpSgdLocalTrainer({ inputShape: [4], l2NormClip: 1, ...local });
    const clients = createSimulatedClients({ datasets, model, inputShape: [4], trainer });
    const selection = { kind: "fixed" as const, clientsPerRound: 2 };
    const w0 = flattenWeights(model);
    const h = await runFedAvg({
      clients,
      rounds: 2,
      initialWeights: w0,
      totalClients: 4,
      selection,
      aggregator: new ExampleLevelDpAggregator(dpSgdLocalEvent(local)),
      accountantFactory: () => createFederatedAccountant({ selection, noisePlacement: "client-example" }),
      targetDelta: 1e-5,
      seed: 2,
    });
    expect(h.rounds[0].event).toEqual({
      kind: "selfComposed",
      count: 3,
      event: { kind: "poissonSampled", samplingProbability: 0.25, event: { kind: "gaussian", noiseMultiplier: 1.1 } },
    });
    expect(h.rounds[1].epsilon).toBeGreaterThan(h.rounds[0].epsilon as number);
    expect(h.weights.every(Number.isFinite)).toBe(true);
    expect(Array.from(h.weights)).not.toEqual(Array.from(w0));
  });
});
