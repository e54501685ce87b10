/**
 * The federated service in one process: the real FederatedService and the real client runtime
 * over the (framed) in-memory transport.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FederatedClient } from "../../../src/federated/client/runtime.js";
import { FederatedService, epsilonOfEvents, type FederatedServiceOptions } from "../../../src/federated/server/service.js";
import { InMemoryTransport } from "../../../src/federated/transport/memory.js";

const dirs: string[] = [];
function tempDb(): string {
  const d = mkdtempSync(path.join(tmpdir(), "dpkit-fl-"));
  dirs.push(d);
  return path.join(d, "server.db");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const D = 8;
function options(db: string, over: Partial<FederatedServiceOptions> = {}): FederatedServiceOptions {
  return {
    db,
    model: { name: "toy", dimension: D },
    initialWeights: new Float32Array(D),
    training: { localEpochs: 1, batchSize: 1, learningRate: 0.1, minExamples: 1 },
    rounds: 2,
    clientsPerRound: 4,
    minClients: 3,
    roundTimeoutMs: 5_000,
    selectionWindowMs: 300,
    secAggStageTimeoutMs: 1_500,
    dp: "none",
    tickMs: 10,
    ...over,
  };
}

function client(service: FederatedService, i: number, delta: (round: number) => Float32Array, extra: Record<string, unknown> = {}): FederatedClient {
  return new FederatedClient({
    transport: new InMemoryTransport(service),
    population: "default",
    clientKind: i % 2 === 0 ? "node" : "browser",
    label: `c${i}`,
    trainer: (plan) => ({ delta: delta(plan.round), numExamples: 10 }),
    minPollMs: 5,
    timeoutMs: 30_000,
    ...extra,
  });
}

describe("FederatedService over the in-memory transport", () => {
  it("dp none: two rounds of FedAvg (the mean of the uploads), status and checkpoints in SQLite", async () => {
    const service = await FederatedService.open(options(tempDb(), { selectionWindowMs: 5_000 }));
    const clients = [0, 1, 2, 3].map((i) => client(service, i, () => new Float32Array(D).fill(i + 1)));
    const runs = clients.map((c) => c.run());
    await service.whenDone();
    await Promise.all(runs);
    const s = service.status();
    expect(s.rounds).toBe(2);
    expect(s.history.map((h) => h.accepted)).toEqual([4, 4]);
    expect(s.history[0].clients).toEqual({ node: 2, browser: 2 });
    // weighted mean of 1..4 (equal weights) = 2.5 per round
    expect(service.globalWeights[0]).toBeCloseTo(5, 5);
    expect(s.epsilon).toBeNull();
    service.close();
  }, 30_000);

  it("dp client + secure aggregation: the released delta is the sum of the clipped uploads over K (mod quantisation), epsilon per round", async () => {
    const db = tempDb();
    // noise multiplier tiny so the clipped sum dominates; the test checks the arithmetic path, noise is checked in the process test
    const service = await FederatedService.open(options(db, { dp: "client", noiseMultiplier: 1e-6, l2NormClip: 1, secureAggregation: true, rounds: 1 }));
    const vec = (i: number): Float32Array => {
      const v = new Float32Array(D);
      v[i] = 3; // norm 3 -> clipped to norm 1
      v[(i + 1) % D] = -0.5 * 0; // keep one-hot
      return v;
    };
    const runs = [0, 1, 2, 3].map((i) => client(service, i, () => vec(i)).run());
    await service.whenDone();
    await Promise.all(runs);
    const w = service.globalWeights;
    for (let i = 0; i < D; i++) expect(w[i]).toBeCloseTo(i < 4 ? 1 / 4 : 0, 4);
    const s = service.status();
    expect(s.history[0].accepted).toBe(4);
    expect(s.epsilon).toBeCloseTo(epsilonOfEvents([{ kind: "gaussian", noiseMultiplier: 1e-6 }], 1e-5), 6);
    expect(s.ledgerEpsilon).toBeCloseTo(s.epsilon!, 9);
    service.close();
  }, 30_000);

  it("secure aggregation survives a client that vanishes after advertising keys", async () => {
    const service = await FederatedService.open(options(tempDb(), { dp: "client", noiseMultiplier: 1e-6, l2NormClip: 10, secureAggregation: true, rounds: 1 }));
    const ac = new AbortController();
    const runs = [0, 1, 2, 3].map((i) =>
      client(service, i, () => new Float32Array(D).fill(1), i === 3 ? { signal: ac.signal, onEvent: (e: { state: string }) => e.state === "uploading" && ac.abort() } : {}).run().catch(() => undefined),
    );
    await service.whenDone();
    await Promise.all(runs);
    const s = service.status();
    expect(s.rounds).toBe(1);
    expect(s.history[0].accepted).toBe(3);
    // three clients' clipped updates (norm sqrt(8) < 10, unclipped) over K = 4
    expect(service.globalWeights[0]).toBeCloseTo(3 / 4, 4);
    service.close();
  }, 30_000);
});
