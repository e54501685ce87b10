import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DpError } from "../../../src/errors.js";
import { FederatedClient, runFederatedClient, type FederatedClientEvent } from "../../../src/federated/client/runtime.js";
import { l2NormOf } from "../../../src/federated/core/vector.js";
import { encodeFrame, FRAME_CONTENT_TYPE } from "../../../src/federated/protocol/frame.js";
import type { ClientMessage, ServerMessage, TaskPlan } from "../../../src/federated/protocol/messages.js";
import type { FederatedRequestHandler } from "../../../src/federated/protocol/transport.js";
import { decodeSecAggSum } from "../../../src/federated/secagg/encoding.js";
import type { ClientSecAggMessage } from "../../../src/federated/protocol/messages.js";
import { SecAggServer } from "../../../src/federated/secagg/server.js";
import { InMemoryTransport } from "../../../src/federated/transport/memory.js";
import { HttpTransport } from "../../../src/federated/transport/http-client.js";
import * as tf from "@tensorflow/tfjs";
import { openSqliteExampleStore } from "../../../src/federated/client/sqlite-example-store.js";
import { flattenWeights } from "../../../src/federated/client/weights.js";

// The client runtime against small scripted servers (the real service is tested in
// test/federated/service*.test.ts): pace steering, the report path, the secure-aggregation
// path with a real SecAggServer, and malformed or hostile answers.

const dimension = 64;
function basePlan(round: number, extra: Partial<TaskPlan> = {}): TaskPlan {
  return {
    population: "p",
    round,
    taskId: "t",
    model: { name: "none", dimension },
    training: { localEpochs: 1, batchSize: 10, learningRate: 0.1, minExamples: 1 },
    privacy: { kind: "clip-distributed", l2NormClip: 1, noiseStddev: 0.01 },
    uploadLength: dimension,
    expectedClients: 2,
    deadlineMs: 10_000,
    ...extra,
  };
}
const rawDelta = () => Float32Array.from({ length: dimension }, (_, i) => (i % 2 ? 3 : -3)); // norm 24
const trainer = () => ({ delta: rawDelta(), numExamples: 5, meanLoss: 0.5 });

describe("FederatedClient with a scripted server", () => {
  it("waits when told to come back later, reports a clipped, noised update, and stops at done", async () => {
    const seen: ClientMessage[] = [];
    const uploads: Float32Array[] = [];
    let checkIns = 0;
    let round = 0;
    const handler: FederatedRequestHandler = {
      handle(path, body, token) {
        const m = body as ClientMessage;
        seen.push(m);
        if (m.type === "checkIn") {
          checkIns++;
          if (checkIns === 1) return { type: "retry", retryAfterMs: 30, reason: "round full" };
          if (round >= 2) return { type: "done", reason: "2 rounds complete" };
          return { type: "assigned", token: "a".repeat(64), population: "p", round, retryAfterMs: 5 };
        }
        expect(token).toBe("a".repeat(64));
        if (m.type === "poll")
          return uploads.length > round
            ? { type: "complete", round: round++, accepted: 1 }
            : { type: "plan", plan: basePlan(round), checkpoint: new Float32Array(dimension) };
        if (m.type === "report") {
          uploads.push(m.update);
          return { type: "ack", retryAfterMs: 5 };
        }
        return { type: "error", code: "bad_request", reason: path };
      },
    };
    const events: FederatedClientEvent[] = [];
    const summary = await runFederatedClient({
      transport: new InMemoryTransport(handler),
      population: "p",
      clientKind: "node",
      trainer,
      onEvent: (e) => events.push(e),
      timeoutMs: 20_000,
    });
    expect(summary.reason).toBe("2 rounds complete");
    expect(summary.retries).toBe(1);
    expect(summary.rounds.map((r) => r.outcome)).toEqual(["complete", "complete"]);
    expect(uploads).toHaveLength(2);
    for (const u of uploads) {
      expect(l2NormOf(u)).toBeLessThan(1 + 6 * 0.01 * Math.sqrt(dimension)); // clipped to 1, plus a small share
      expect(Array.from(u)).not.toEqual(Array.from(rawDelta()));
    }
    // The raw delta (norm 24) never appears in anything the client sent.
    for (const m of seen) if (m.type === "report") expect(l2NormOf(m.update)).toBeLessThan(2);
    expect(events.map((e) => e.state)).toContain("waiting");
    expect(events.map((e) => e.state)).toContain("uploaded");
    expect(events.at(-1)?.state).toBe("done");
  });

  it("runs secure aggregation with a real SecAggServer: the server learns only the sum of privatised updates", async () => {
    const ids = [1, 2, 3];
    const config = { sessionId: new Uint8Array(32).fill(3), clientIds: ids, threshold: 2, dimension, modulusBits: 32 };
    const scale = 2 ** 20;
    const sa = new SecAggServer({ config });
    const tokens = new Map<string, number>(); // token -> secagg id
    const outbox = new Map<number, ServerMessage | undefined>();
    const received: ClientSecAggMessage[] = [];
    let stage = 0;
    let released: Float64Array | undefined;
    let next = 0;
    const pending = (kind: string) => received.filter((r) => r.stage === kind).length;
    const advance = () => {
      if (stage === 0 && pending("advertiseKeys") === 3) {
        const dir = sa.closeAdvertiseKeys();
        for (const id of ids) outbox.set(id, { type: "secagg", round: 0, message: dir });
        stage = 1;
      } else if (stage === 1 && pending("shareKeys") === 3) {
        for (const f of sa.closeShareKeys()) outbox.set(f.recipient, { type: "secagg", round: 0, message: f });
        stage = 2;
      } else if (stage === 2 && pending("maskedInput") === 3) {
        for (const r of sa.closeMaskedInput()) outbox.set(r.recipient, { type: "secagg", round: 0, message: r });
        stage = 3;
      } else if (stage === 3 && pending("unmaskingResponse") === 3) {
        released = decodeSecAggSum(sa.finalize().sum, 32, scale);
        for (const id of ids) outbox.set(id, { type: "complete", round: 0, accepted: 3 });
        stage = 4;
      }
    };
    const handler: FederatedRequestHandler = {
      handle(_path, body, token) {
        const m = body as ClientMessage;
        if (m.type === "checkIn") {
          if (stage === 4) return { type: "done", reason: "finished" };
          const t = `token-${next}-${"x".repeat(20)}`;
          tokens.set(t, ids[next++]);
          return { type: "assigned", token: t, population: "p", round: 0, retryAfterMs: 1 };
        }
        const id = tokens.get(token ?? "");
        if (id === undefined) return { type: "error", code: "unauthorized", reason: "unknown token" };
        if (m.type === "poll") {
          if (next < 3) return { type: "wait", phase: "selection", retryAfterMs: 5 };
          const out = outbox.get(id);
          if (out === undefined && stage === 0) {
            outbox.set(id, null as never);
            return {
              type: "plan",
              plan: basePlan(0, {
                secagg: { config, clientId: id, encoding: { kind: "quantizer", clipRange: 2, scale, modulusBits: 32, clients: 3 } },
              }),
              checkpoint: new Float32Array(dimension),
            };
          }
          if (out) {
            outbox.set(id, null as never);
            return out;
          }
          return { type: "wait", phase: "reporting", retryAfterMs: 5 };
        }
        if (m.type === "secagg") {
          expect(m.message.sender).toBe(id);
          received.push(m.message);
          sa.receive(m.message);
          advance();
          return { type: "ack", retryAfterMs: 1 };
        }
        return { type: "error", code: "bad_request", reason: "report without secagg" };
      },
    };
    const transport = new InMemoryTransport(handler);
    const results = await Promise.all(
      ids.map(() => runFederatedClient({ transport, population: "p", clientKind: "node", trainer, timeoutMs: 30_000, maxRounds: 1 })),
    );
    expect(results.every((r) => r.rounds[0].outcome === "complete")).toBe(true);
    // Each masked input is unrelated to the update; the released sum is three clipped updates (norm <= 3) plus small noise.
    expect(released).toBeDefined();
    const sum = Float32Array.from(released!);
    const clippedDirection = rawDelta().map((v) => v / 24);
    for (let i = 0; i < dimension; i++) expect(Math.abs(sum[i] - 3 * clippedDirection[i])).toBeLessThan(0.2);
    for (const m of received) if (m.stage === "maskedInput") expect(m.maskedInput.length).toBe(4 * dimension);
  });

  it("trains the user's tfjs model on the example store, and leaves a round when it has fewer examples than the plan's minimum", async () => {
    const makeModel = () => tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
    const dim = flattenWeights(makeModel()).length; // 15
    const store = await openSqliteExampleStore({ file: ":memory:", featureLength: 4 });
    await store.addMany(Array.from({ length: 40 }, (_, i) => ({ features: [i % 2, 1, 0, (i % 3) / 3], label: i % 3 })));
    const reports: Float32Array[] = [];
    let polls = 0;
    const serve = (minExamples: number): FederatedRequestHandler => ({
      handle(_p, body) {
        const m = body as ClientMessage;
        if (m.type === "checkIn") {
          expect(m.numExamples).toBe(40); // eligibility reported at check-in
          return reports.length > 0 || polls > 0
            ? { type: "done", reason: "enough" }
            : { type: "assigned", token: "k".repeat(64), population: "p", round: 0, retryAfterMs: 0 };
        }
        if (m.type === "poll") {
          polls++;
          if (polls === 1)
            return {
              type: "plan",
              plan: {
                ...basePlan(0),
                model: { name: "tiny", dimension: dim, inputShape: [4] },
                uploadLength: dim,
                training: { localEpochs: 2, batchSize: 8, learningRate: 0.5, minExamples },
                privacy: { kind: "clip-local", l2NormClip: 0.1, noiseMultiplier: 0 },
              },
              checkpoint: new Float32Array(dim),
            };
          return { type: "complete", round: 0, accepted: reports.length };
        }
        if (m.type === "report") reports.push(m.update);
        return { type: "ack", retryAfterMs: 0 };
      },
    });
    const a = await runFederatedClient({
      transport: new InMemoryTransport(serve(10)),
      population: "p",
      clientKind: "node",
      store,
      model: makeModel,
      timeoutMs: 20_000,
    });
    expect(a.rounds[0]).toMatchObject({ outcome: "complete", numExamples: 40 });
    expect(a.rounds[0].updateNorm).toBeGreaterThan(0.1); // trained: the raw update moved further than the clip
    expect(reports).toHaveLength(1);
    expect(l2NormOf(reports[0])).toBeLessThanOrEqual(0.1); // what was sent is clipped (z = 0 here)
    reports.length = 0;
    polls = 0;
    const b = await runFederatedClient({
      transport: new InMemoryTransport(serve(41)),
      population: "p",
      clientKind: "node",
      store,
      model: makeModel,
      timeoutMs: 20_000,
    });
    expect(b.rounds[0]).toMatchObject({ outcome: "dropped" });
    expect(b.rounds[0].reason).toMatch(/only 40 examples; the plan needs 41/);
    expect(reports).toHaveLength(0);
    await store.close();
  });

  it("turns malformed or hostile answers into a clear DpError, without hanging", async () => {
    const cases: [string, (m: ClientMessage) => unknown][] = [
      ["not an object", () => 42],
      ["unknown type", () => ({ type: "teapot" })],
      ["negative retry", () => ({ type: "retry", retryAfterMs: -1, reason: "x" })],
      [
        "checkpoint of the wrong length",
        (m) =>
          m.type === "checkIn"
            ? { type: "assigned", token: "t".repeat(64), population: "p", round: 0, retryAfterMs: 0 }
            : { type: "plan", plan: basePlan(0), checkpoint: new Float32Array(3) },
      ],
      [
        "plan with an unknown privacy kind",
        (m) =>
          m.type === "checkIn"
            ? { type: "assigned", token: "t".repeat(64), population: "p", round: 0, retryAfterMs: 0 }
            : { type: "plan", plan: { ...basePlan(0), privacy: { kind: "trust-me" } }, checkpoint: new Float32Array(dimension) },
      ],
      ["refused check-in", () => ({ type: "error", code: "bad_request", reason: "protocol 1 unsupported" })],
    ];
    for (const [name, answer] of cases) {
      const t0 = Date.now();
      const client = new FederatedClient({
        transport: { request: async (m) => answer(m) as ServerMessage },
        population: "p",
        clientKind: "node",
        trainer,
        timeoutMs: 5_000,
      });
      const err = await client.run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(DpError);
      expect((err as DpError).code, name).toBe("protocol_error");
      expect(Date.now() - t0, name).toBeLessThan(3_000);
    }
    // A server that only ever says "wait": the client gives up at its timeout.
    const waiting = new FederatedClient({
      transport: {
        request: async (m) =>
          m.type === "checkIn"
            ? { type: "assigned", token: "t".repeat(64), population: "p", round: 0, retryAfterMs: 0 }
            : { type: "wait", phase: "selection", retryAfterMs: 10 },
      },
      population: "p",
      clientKind: "node",
      trainer,
      timeoutMs: 300,
    });
    await expect(waiting.run()).rejects.toThrow(/gave up after 300 ms/);
  });
});

describe("HttpTransport (fetch) against a real node:http server", () => {
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        if (req.url === "/v1/checkIn") {
          if (req.headers["content-type"] !== FRAME_CONTENT_TYPE) return res.writeHead(415).end();
          res
            .writeHead(200, { "content-type": FRAME_CONTENT_TYPE })
            .end(encodeFrame({ type: "retry", retryAfterMs: 1, reason: `got ${Buffer.concat(chunks).length} bytes` }));
        } else if (req.url === "/v1/poll") {
          res
            .writeHead(401, { "content-type": FRAME_CONTENT_TYPE })
            .end(encodeFrame({ type: "error", code: "unauthorized", reason: `token ${req.headers.authorization}` }));
        } else if (req.url === "/v1/report") {
          res.writeHead(200, { "content-type": FRAME_CONTENT_TYPE }).end(Buffer.from("garbage, not a frame"));
        } else if (req.url === "/v1/secagg") {
          res.writeHead(200, { "content-type": FRAME_CONTENT_TYPE }).end(Buffer.alloc(5000));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it("posts frames with the bearer token, returns refusals as answers, and refuses garbage or oversized answers", async () => {
    const t = new HttpTransport({ baseUrl: base, maxResponseBytes: 4096, timeoutMs: 5000 });
    const a = await t.request({ type: "checkIn", protocol: 1, population: "p", clientKind: "node" });
    expect(a).toMatchObject({ type: "retry" });
    expect(t.bytesUp).toBeGreaterThan(0);
    expect(await t.request({ type: "poll", round: 0 }, "secret-token")).toEqual({
      type: "error",
      code: "unauthorized",
      reason: "token Bearer secret-token",
    });
    await expect(t.request({ type: "report", round: 0, numExamples: 1, update: new Float32Array(2) }, "x")).rejects.toThrow(/malformed/);
    await expect(
      t.request(
        {
          type: "secagg",
          round: 0,
          message: { stage: "advertiseKeys", sender: 1, encryptionPublicKey: new Uint8Array(32), maskingPublicKey: new Uint8Array(32) },
        },
        "x",
      ),
    ).rejects.toThrow(/limit of 4096/);
    const dead = new HttpTransport({ baseUrl: "http://127.0.0.1:9", timeoutMs: 2000 });
    await expect(dead.request({ type: "poll", round: 0 })).rejects.toMatchObject({ code: "io_error" });
    expect(() => new HttpTransport({ baseUrl: "ftp://x" })).toThrow(/baseUrl/);
  });
});
