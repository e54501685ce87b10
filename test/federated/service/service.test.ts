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
    // Generous deadlines: every phase closes early once all clients have answered, so these only
    // matter for a vanished client, and a loaded CI machine must not turn them into dropouts.
    roundTimeoutMs: 10_000,
    selectionWindowMs: 10_000,
    secAggStageTimeoutMs: 5_000,
    dp: "none",
    tickMs: 10,
    ...over,
  };
}

function client(
  service: FederatedService,
  i: number,
  delta: (round: number) => Float32Array,
  extra: Record<string, unknown> = {},
): FederatedClient {
  return new FederatedClient({
    transport: new InMemoryTransport(service),
    population: "default",
    clientKind: i % 2 === 0 ? "node" : "browser",
    label: `c${i}`,
    trainer: (plan) => ({ delta: delta(plan.round), numExamples: 10 }),
    minPollMs: 5,
    timeoutMs: 60_000,
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
  }, 90_000);

  it("dp client + secure aggregation: the released delta is the sum of the clipped uploads over K (mod quantisation), epsilon per round", async () => {
    const db = tempDb();
    // noise multiplier tiny so the clipped sum dominates; the test checks the arithmetic path, noise is checked in the process test
    const service = await FederatedService.open(
      options(db, { dp: "client", noiseMultiplier: 1e-6, l2NormClip: 1, secureAggregation: true, rounds: 1 }),
    );
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
  }, 90_000);

  it("secure aggregation survives a client that vanishes after advertising keys", async () => {
    const service = await FederatedService.open(
      options(tempDb(), { dp: "client", noiseMultiplier: 1e-6, l2NormClip: 10, secureAggregation: true, rounds: 1 }),
    );
    const ac = new AbortController();
    const runs = [0, 1, 2, 3].map((i) =>
      client(
        service,
        i,
        () => new Float32Array(D).fill(1),
        i === 3 ? { signal: ac.signal, onEvent: (e: { state: string }) => e.state === "uploading" && ac.abort() } : {},
      )
        .run()
        .catch(() => undefined),
    );
    await service.whenDone();
    await Promise.all(runs);
    const s = service.status();
    expect(s.rounds).toBe(1);
    expect(s.history[0].accepted).toBe(3);
    // three clients' clipped updates (norm sqrt(8) < 10, unclipped) over K = 4
    expect(service.globalWeights[0]).toBeCloseTo(3 / 4, 4);
    service.close();
  }, 90_000);
});

describe("target epsilon", () => {
  it("stops the population before a round would take epsilon above the target; the ledger never exceeds it", async () => {
    const z = 2;
    const e2 = epsilonOfEvents(
      [
        { kind: "gaussian", noiseMultiplier: z },
        { kind: "gaussian", noiseMultiplier: z },
      ],
      1e-5,
    );
    const e3 = epsilonOfEvents(
      [1, 2, 3].map(() => ({ kind: "gaussian" as const, noiseMultiplier: z })),
      1e-5,
    );
    const target = (e2 + e3) / 2; // two rounds fit, the third would not
    const service = await FederatedService.open(
      options(tempDb(), {
        dp: "server",
        noiseMultiplier: z,
        l2NormClip: 1,
        rounds: 5,
        clientsPerRound: 2,
        minClients: 2,
        targetEpsilon: target,
        selectionWindowMs: 5_000,
      }),
    );
    const runs = [0, 1].map((i) => client(service, i, () => new Float32Array(D).fill(0.1)).run());
    await service.whenDone();
    await Promise.all(runs);
    const s = service.status();
    expect(s.stoppedBy).toBe("targetEpsilon");
    expect(s.rounds).toBe(2);
    expect(s.epsilon).toBeCloseTo(e2, 9);
    expect(s.ledgerEpsilon!).toBeLessThanOrEqual(target);
    expect(e3).toBeGreaterThan(target); // negative control: a third round would have overspent
    const again = await (async () => {
      const t = new InMemoryTransport(service);
      return t.request({ type: "checkIn", protocol: 1, population: "default", clientKind: "node" });
    })();
    expect(again).toMatchObject({ type: "done", reason: expect.stringMatching(/budget/) });
    service.close();
  }, 90_000);
});

describe("secure aggregation over the wire: a client vanishing at each stage", () => {
  /** A transport that stops working (throws) once the client has sent a secagg message of `stage`. */
  function vanishingAfter(service: FederatedService, stage: string): InMemoryTransport {
    const inner = new InMemoryTransport(service);
    let gone = false;
    const t = Object.create(inner) as InMemoryTransport;
    t.request = async (message, token) => {
      if (gone) throw new Error("network unreachable (vanished)");
      const answer = await inner.request(message, token);
      if (message.type === "secagg" && message.message.stage === stage) gone = true;
      return answer;
    };
    return t;
  }

  for (const [stage, accepted] of [
    ["advertiseKeys", 3],
    ["shareKeys", 3],
    ["maskedInput", 4],
    ["unmaskingResponse", 4],
  ] as const) {
    it(`after ${stage}: the round completes with ${accepted} inputs in the sum`, async () => {
      const service = await FederatedService.open(
        options(tempDb(), {
          dp: "client",
          noiseMultiplier: 1e-6,
          l2NormClip: 100,
          secureAggregation: true,
          rounds: 1,
          clientsPerRound: 4,
          minClients: 3,
          secAggStageTimeoutMs: 5_000,
          selectionWindowMs: 5_000,
        }),
      );
      const runs = [0, 1, 2, 3].map((i) =>
        client(
          service,
          i,
          () => new Float32Array(D).fill(i + 1),
          i === 3 ? { transport: vanishingAfter(service, stage), maxConsecutiveFailures: 2, maxRetryAfterMs: 50 } : {},
        )
          .run()
          .catch(() => undefined),
      );
      await service.whenDone();
      await Promise.all(runs);
      const s = service.status();
      expect(s.rounds).toBe(1);
      expect(s.history[0].accepted).toBe(accepted);
      // the released sum is the inputs of exactly those clients, over K = 4
      const expected = (accepted === 4 ? 1 + 2 + 3 + 4 : 1 + 2 + 3) / 4;
      // The released mean carries the clients' noise: std ~ 1e-6·100/4 = 2.5e-5 (a smaller noise
      // multiplier exceeds the service's budget). Checked to 5e-4 = 20 std (to 5e-5 = 2 std it
      // failed about one run in twenty); 3 and 4 clients differ by 1.
      expect(service.globalWeights[0]).toBeCloseTo(expected, 3);
      service.close();
    }, 90_000);
  }

  it("refuses a secagg message sent under another client's token, and a plain report in a secagg round", async () => {
    const service = await FederatedService.open(
      options(tempDb(), {
        dp: "client",
        noiseMultiplier: 1,
        l2NormClip: 1,
        secureAggregation: true,
        rounds: 1,
        clientsPerRound: 2,
        minClients: 2,
      }),
    );
    const t = new InMemoryTransport(service);
    const a = await t.request({ type: "checkIn", protocol: 1, population: "default", clientKind: "node" });
    const b = await t.request({ type: "checkIn", protocol: 1, population: "default", clientKind: "node" });
    if (a.type !== "assigned" || b.type !== "assigned") throw new Error("not assigned");
    service.tick();
    const plan = await t.request({ type: "poll", round: 0 }, a.token);
    expect(plan.type).toBe("plan");
    const spoof = await t.request(
      {
        type: "secagg",
        round: 0,
        message: { stage: "advertiseKeys", sender: 2, encryptionPublicKey: new Uint8Array(32), maskingPublicKey: new Uint8Array(32) },
      },
      a.token,
    );
    expect(spoof).toMatchObject({ type: "error", code: "conflict" });
    const raw = await t.request({ type: "report", round: 0, numExamples: 1, update: new Float32Array(D) }, a.token);
    expect(raw).toMatchObject({ type: "error", code: "conflict", reason: expect.stringMatching(/secure aggregation/) });
    expect(await t.request({ type: "poll", round: 0 }, "f".repeat(64))).toMatchObject({ type: "error", code: "unauthorized" });
    service.close();
  });
});
