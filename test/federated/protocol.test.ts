import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame } from "../../src/federated/protocol/frame.js";
import { validateClientMessage, validateServerMessage } from "../../src/federated/protocol/validate.js";
import { InMemoryTransport } from "../../src/federated/transport/memory.js";

describe("protocol frames", () => {
  it("round-trips JSON with float32 and byte blobs, unaligned lengths included", () => {
    const msg = {
      type: "report",
      round: 3,
      numExamples: 7,
      update: new Float32Array([1.5, -2, 3e-8]),
      nested: [{ k: new Uint8Array([1, 2, 3]) }],
    };
    const bytes = encodeFrame(msg);
    const back = decodeFrame(bytes) as typeof msg;
    expect(back.update).toBeInstanceOf(Float32Array);
    expect(Array.from(back.update)).toEqual(Array.from(msg.update));
    expect(Array.from(back.nested[0].k)).toEqual([1, 2, 3]);
    expect(back.round).toBe(3);
    // tensors are raw bytes, not base64: a 1000-entry update costs about 4000 bytes
    expect(encodeFrame({ u: new Float32Array(1000) }).length).toBeLessThan(4100);
  });

  it("refuses truncated, trailing, unknown-kind, dangling and doubly referenced blobs", () => {
    const good = encodeFrame({ a: new Float32Array([1, 2]) });
    expect(() => decodeFrame(good.subarray(0, good.length - 4))).toThrow(/runs past the end|truncated/);
    const trailing = new Uint8Array(good.length + 4);
    trailing.set(good);
    expect(() => decodeFrame(trailing)).toThrow(/truncated|runs past|unknown blob kind|trailing/);
    expect(() => decodeFrame(new Uint8Array([1, 2, 3]))).toThrow(/shorter/);
    expect(() => decodeFrame(new TextEncoder().encode('{"type":"poll","round":0}'))).toThrow(/magic/);
    const bad = good.slice();
    const hdrLen = new DataView(bad.buffer).getUint32(8, true);
    new DataView(bad.buffer).setUint32(12 + ((hdrLen + 3) & ~3), 9, true);
    expect(() => decodeFrame(bad)).toThrow(/unknown blob kind 9/);
    const dangling = encodeFrame({ a: { $blob: 0 } });
    expect(() => decodeFrame(dangling)).toThrow(/missing blob/);
    const twice = new TextEncoder().encode(JSON.stringify({ a: { $blob: 0 }, b: { $blob: 0 } }));
    const f = encodeFrame({ x: new Uint8Array(2) });
    const hdr = new Uint8Array(12 + ((twice.length + 3) & ~3) + 12);
    hdr.set(f.subarray(0, 8));
    new DataView(hdr.buffer).setUint32(8, twice.length, true);
    hdr.set(twice, 12);
    const o = 12 + ((twice.length + 3) & ~3);
    new DataView(hdr.buffer).setUint32(o, 1, true);
    new DataView(hdr.buffer).setUint32(o + 4, 2, true);
    expect(() => decodeFrame(hdr)).toThrow(/referenced twice/);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(() => decodeFrame(encodeFrame(deep))).toThrow(/nested deeper/);
  });
});

describe("protocol validation", () => {
  it("accepts well-formed client messages and strips unknown fields", () => {
    expect(validateClientMessage({ type: "checkIn", protocol: 1, population: "p", clientKind: "node", extra: 1 })).toEqual({
      type: "checkIn",
      protocol: 1,
      population: "p",
      clientKind: "node",
    });
    const r = validateClientMessage({ type: "report", round: 0, numExamples: 3, update: new Float32Array([1, 2]) });
    expect(r.type).toBe("report");
  });

  it("rejects non-finite updates, wrong types, oversized tensors and bad secagg keys, naming the field", () => {
    expect(() => validateClientMessage({ type: "report", round: 0, numExamples: 3, update: new Float32Array([1, NaN]) })).toThrow(
      /update\[1\]/,
    );
    expect(() => validateClientMessage({ type: "report", round: 0, numExamples: 3, update: [1, 2] })).toThrow(/`update`/);
    expect(() => validateClientMessage({ type: "report", round: 0, numExamples: 0, update: new Float32Array(1) })).toThrow(/numExamples/);
    expect(() =>
      validateClientMessage(
        { type: "report", round: 0, numExamples: 1, update: new Float32Array(11) },
        { maxDimension: 10, maxClients: 10, maxStringLength: 10 },
      ),
    ).toThrow(/1 to 10 entries/);
    expect(() => validateClientMessage({ type: "checkIn", protocol: 2, population: "p", clientKind: "node" })).toThrow(/protocol/);
    expect(() => validateClientMessage({ type: "checkIn", protocol: 1, population: "p", clientKind: "phone" })).toThrow(/clientKind/);
    expect(() => validateClientMessage({ type: "nope" })).toThrow(/type/);
    expect(() =>
      validateClientMessage({
        type: "secagg",
        round: 0,
        message: { stage: "advertiseKeys", sender: 1, encryptionPublicKey: new Uint8Array(31), maskingPublicKey: new Uint8Array(32) },
      }),
    ).toThrow(/encryptionPublicKey/);
    expect(() => validateClientMessage({ type: "secagg", round: 0, message: { stage: "keyDirectory", sender: 1 } })).toThrow(/stage/);
  });

  it("checks server messages: a checkpoint must match the plan's dimension", () => {
    const plan = {
      population: "p",
      round: 0,
      taskId: "t",
      model: { name: "mlp", dimension: 3 },
      training: { localEpochs: 1, batchSize: 10, learningRate: 0.1, minExamples: 1 },
      privacy: { kind: "clip-distributed", l2NormClip: 1, noiseStddev: 0.5 },
      uploadLength: 3,
      expectedClients: 5,
      deadlineMs: 1000,
    };
    expect(validateServerMessage({ type: "plan", plan, checkpoint: new Float32Array(3) }).type).toBe("plan");
    expect(() => validateServerMessage({ type: "plan", plan, checkpoint: new Float32Array(4) })).toThrow(/dimension/);
    expect(() =>
      validateServerMessage({
        type: "plan",
        plan: { ...plan, privacy: { kind: "clip-local", l2NormClip: -1, noiseMultiplier: 1 } },
        checkpoint: new Float32Array(3),
      }),
    ).toThrow(/l2NormClip/);
  });

  it("the in-memory transport frames both ways", async () => {
    const t = new InMemoryTransport({ handle: (_p, body) => ({ type: "ack", retryAfterMs: (body as { round: number }).round }) });
    expect(await t.request({ type: "poll", round: 42 })).toEqual({ type: "ack", retryAfterMs: 42 });
    expect(t.bytesUp).toBeGreaterThan(12);
  });
});
