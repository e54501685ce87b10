import { describe, expect, it, vi } from "vitest";
import { DpError } from "../../../src/errors.js";
import {
  compressorForPlan,
  encodeForSecureAggregation,
  privatizeUpdate,
  type ClientNoisePlan,
} from "../../../src/federated/client/privatize.js";
import type { SecAggEncodingPlan } from "../../../src/federated/protocol/messages.js";
import { l2NormOf } from "../../../src/federated/core/vector.js";
import { SecAggClient } from "../../../src/federated/secagg/client.js";
import { decodeSecAggSum } from "../../../src/federated/secagg/encoding.js";
import { unpackSecAggVector } from "../../../src/federated/secagg/messages.js";
import { SecAggServer } from "../../../src/federated/secagg/server.js";
import { SeededRng, type Rng } from "../../../src/random/rng.js";

function bigDelta(d: number, scale: number, seed: number): Float32Array {
  const r = new SeededRng(seed);
  return Float32Array.from({ length: d }, () => ((r.nextUint32() / 2 ** 32) * 2 - 1) * scale);
}

describe("privatizeUpdate (client-side clip and noise)", () => {
  it("clips every update to L2 norm <= C, whatever its size", () => {
    const plan: ClientNoisePlan = { kind: "clip-distributed", l2NormClip: 0.7, noiseStddev: 0 };
    for (const [d, scale] of [
      [1, 1e30],
      [10, 3],
      [7850, 1],
      [7850, 1e-3],
      [100, 1e38],
    ] as const) {
      const delta = bigDelta(d, scale, d);
      const { upload, norm, wasClipped } = privatizeUpdate(delta, plan);
      expect(l2NormOf(upload)).toBeLessThanOrEqual(0.7);
      expect(wasClipped).toBe(norm > 0.7);
      if (!wasClipped) expect(Array.from(upload)).toEqual(Array.from(delta));
    }
    // Non-finite input: zero vector, not an error.
    const { upload } = privatizeUpdate(new Float32Array([NaN, 1]), plan);
    expect(Array.from(upload)).toEqual([0, 0]);
    // Negative control: the same check catches the raw delta.
    expect(l2NormOf(bigDelta(7850, 1, 7850))).toBeGreaterThan(0.7);
  });

  it("adds Gaussian noise of the planned stddev (z·C locally, the share's stddev when distributed)", () => {
    const d = 20_000;
    const delta = new Float32Array(d).fill(0.001); // norm 0.141 < C
    const { upload } = privatizeUpdate(delta, { kind: "clip-local", l2NormClip: 0.5, noiseMultiplier: 4 });
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < d; i++) {
      const n = upload[i] - delta[i];
      s += n;
      s2 += n * n;
    }
    const mean = s / d;
    const variance = s2 / d - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(6 * Math.sqrt(4 / d));
    expect(Math.abs(variance - 4) / 4).toBeLessThan(6 * Math.sqrt(2 / d));
    // A distributed share: exactly the planned stddev, independent of the clip.
    const share = privatizeUpdate(delta, { kind: "clip-distributed", l2NormClip: 100, noiseStddev: 0.5 }).upload;
    let q = 0;
    for (let i = 0; i < d; i++) q += (share[i] - delta[i]) ** 2;
    expect(Math.abs(q / d - 0.25) / 0.25).toBeLessThan(6 * Math.sqrt(2 / d));
  });

  it("draws its noise only from the rng it is given (default: the platform CSPRNG), never Math.random", async () => {
    const mathRandom = vi.spyOn(Math, "random");
    const plan: ClientNoisePlan = { kind: "clip-local", l2NormClip: 1, noiseMultiplier: 1 };
    const delta = bigDelta(500, 1, 3);
    // Everything random comes through the rng argument: equal seeds give equal uploads.
    const a = privatizeUpdate(delta, plan, new SeededRng(42), true).upload;
    const b = privatizeUpdate(delta, plan, new SeededRng(42), true).upload;
    expect(Array.from(a)).toEqual(Array.from(b));
    let words = 0;
    const counting: Rng = { secure: false, nextUint32: () => (words++, (words * 2654435761) >>> 0) } as Rng;
    privatizeUpdate(delta, plan, counting, true);
    expect(words).toBeGreaterThanOrEqual(500);
    // The default is crypto.getRandomValues (fresh module instance so the secure source binds to the spy).
    vi.resetModules();
    const spy = vi.spyOn(globalThis.crypto, "getRandomValues");
    const fresh = await import("../../../src/federated/client/privatize.js");
    const c = fresh.privatizeUpdate(delta, plan).upload;
    expect(spy).toHaveBeenCalled();
    expect(Array.from(c)).not.toEqual(Array.from(a));
    spy.mockRestore();
    expect(mathRandom).not.toHaveBeenCalled();
    mathRandom.mockRestore();
  });

  it("produces distributed discrete Gaussian shares on the grid", () => {
    const g = 2 ** -10;
    const { upload } = privatizeUpdate(bigDelta(64, 1, 9), { kind: "ddg", l2NormClip: 1, granularity: g, localNoiseStddev: 16 });
    expect(upload.every((v) => Number.isInteger(v / g))).toBe(true);
  });

  it("names the codecs a plan allows (shared by client and server), with honest byte counts", () => {
    const v = bigDelta(1000, 1, 11);
    const q = compressorForPlan({ kind: "quantize", bits: 8 });
    const bytes = q.encode(v, new SeededRng(1));
    expect(bytes.length).toBe(q.encodedBytes(1000));
    expect(bytes.length).toBeLessThan((4 * 1000) / 3);
    const back = q.decode(bytes, 1000);
    expect(l2NormOf(back.map((x, i) => x - v[i]))).toBeLessThan(0.1 * l2NormOf(v));
    expect(compressorForPlan(undefined).encodedBytes(10)).toBe(40);
    expect(compressorForPlan({ kind: "subsample", fraction: 0.25 }).encodedBytes(1000)).toBeLessThan(4 * 1000 * 0.3);
  });

  it("refuses a malformed plan from the server with a protocol_error naming the field", () => {
    const bad: unknown[] = [
      null,
      { kind: "laplace" },
      { kind: "clip-local", l2NormClip: -1, noiseMultiplier: 1 },
      { kind: "server", l2NormClip: 1, noiseStddev: 1 },
      { kind: "clip-distributed", l2NormClip: 1, noiseStddev: NaN },
      { kind: "ddg", l2NormClip: 1, granularity: 0.3, localNoiseStddev: 4 },
    ];
    for (const p of bad) {
      try {
        privatizeUpdate(new Float32Array(2), p as ClientNoisePlan);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(DpError);
        expect((e as DpError).code).toBe("protocol_error");
      }
    }
    expect(() =>
      encodeForSecureAggregation(new Float32Array(2), { kind: "quantizer", clipRange: 1, modulusBits: 8, clients: 1000, scale: 2 ** 20 }),
    ).toThrow(/secure-aggregation encoding/);
    expect(() => compressorForPlan({ kind: "zip" } as never)).toThrow(/Unknown compression/);
  });
});

describe("secure-aggregation masking in the client", () => {
  // Three clients privatise, encode and mask; an honest server releases only the sum.
  const dimension = 4096;
  const encoding: SecAggEncodingPlan = { kind: "quantizer", clipRange: 1, modulusBits: 32, clients: 3, scale: 2 ** 24 };
  const config = { sessionId: new Uint8Array(32).fill(7), clientIds: [1, 2, 3], threshold: 2, dimension, modulusBits: 32 };

  /** Chi-square of the byte histogram of `bytes` against uniform (255 df). */
  function byteChiSquare(bytes: Uint8Array): number {
    const counts = new Float64Array(256);
    for (const b of bytes) counts[b]++;
    const e = bytes.length / 256;
    let x2 = 0;
    for (const c of counts) x2 += (c - e) ** 2 / e;
    return x2;
  }
  const critical = 255 + 6 * Math.sqrt(2 * 255);

  it("uploads bytes that look uniform and are unrelated to the update, and the server recovers only the sum", () => {
    const plan: ClientNoisePlan = { kind: "clip-distributed", l2NormClip: 1, noiseStddev: 0.001 };
    const deltas = [1, 2, 3].map((k) => (k === 1 ? new Float32Array(dimension) : bigDelta(dimension, 0.01 * k, k)));
    const uploads = deltas.map((d) => privatizeUpdate(d, plan).upload);
    const encoded = uploads.map((u) => encodeForSecureAggregation(u, encoding));
    const server = new SecAggServer({ config });
    const clients = [1, 2, 3].map((id) => new SecAggClient({ config, id }));
    for (const c of clients) server.receive(c.advertiseKeys());
    const directory = server.closeAdvertiseKeys();
    for (const c of clients) server.receive(c.shareKeys(directory));
    const forwarded = server.closeShareKeys();
    const masked = clients.map((c, i) =>
      c.maskInput(
        forwarded.find((f) => f.recipient === c.id)!,
        encoded[i],
      ),
    );
    for (const m of masked) server.receive(m);
    const requests = server.closeMaskedInput();
    for (const c of clients) server.receive(c.unmask(requests.find((r) => r.recipient === c.id)!));
    const { sum } = server.finalize();
    // What one client sends: uniform bytes, even for the all-zero update (client 1).
    for (const m of masked) expect(byteChiSquare(m.maskedInput)).toBeLessThan(critical);
    const y1 = unpackSecAggVector(masked[0].maskedInput, dimension, 32);
    expect(y1.filter((v, i) => v === encoded[0][i]).length).toBeLessThan(3);
    // Negative control: the unmasked encoding of the zero update is far from uniform.
    expect(byteChiSquare(new Uint8Array(encoded[0].buffer))).toBeGreaterThan(critical);
    // The released sum is the sum of the privatised uploads (to the quantisation step).
    const decoded = decodeSecAggSum(sum, 32, encoding.scale);
    for (let i = 0; i < dimension; i += 97) {
      expect(Math.abs(decoded[i] - (uploads[0][i] + uploads[1][i] + uploads[2][i]))).toBeLessThanOrEqual(3 / encoding.scale + 1e-7);
    }
  });
});

describe("the device's noise refuses an insecure source unless the caller opts in (issue 12, defect 10)", () => {
  it("privatizeUpdate with a seeded rng and no opt-in is an insecure_randomness DpError", () => {
    const plan = { kind: "clip-local", l2NormClip: 1, noiseMultiplier: 1 } as const;
    expect(() => privatizeUpdate(new Float32Array([1, 2]), plan, new SeededRng(1))).toThrow(/allowInsecureRng: true/);
    expect(privatizeUpdate(new Float32Array([1, 2]), plan, new SeededRng(1), true).upload).toHaveLength(2);
    expect(privatizeUpdate(new Float32Array([1, 2]), plan).upload).toHaveLength(2); // control: the secure default
  });
});
