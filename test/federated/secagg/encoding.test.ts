import { describe, expect, it } from "vitest";
import { decodeSecAggSum, encodeSecAggIntegers, SecAggQuantizer, simulateSecAgg } from "../../../src/federated/secagg/index.js";
import { SeededRng } from "../../../src/random/index.js";

describe("SecAggQuantizer", () => {
  it("rejects parameters whose sum could overflow the modulus, names the bound", () => {
    expect(() => new SecAggQuantizer({ clipRange: 1, modulusBits: 8, clients: 200, scale: 1 })).toThrow(
      /could overflow the modulus 2\^8: 200 · 1 > 2\^7 - 1/,
    );
    expect(() => new SecAggQuantizer({ clipRange: 1, modulusBits: 16, clients: 100, scale: 512 })).toThrow(/overflow/);
    expect(() => new SecAggQuantizer({ clipRange: 1, modulusBits: 16, clients: 100, scale: 256 })).not.toThrow();
    expect(() => new SecAggQuantizer({ clipRange: 1, modulusBits: 16, clients: 100, scale: 3 })).toThrow(/power of two/);
  });

  it("the default scale is the largest power of two that cannot wrap", () => {
    const q = new SecAggQuantizer({ clipRange: 2, modulusBits: 16, clients: 10 });
    expect(q.clients * q.maxAbs).toBeLessThanOrEqual(2 ** 15 - 1);
    expect(10 * Math.ceil(2 * q.scale * 2)).toBeGreaterThan(2 ** 15 - 1); // doubling would wrap
  });

  it("worst case (every client at +c or -c) decodes exactly: no wrap-around", () => {
    const n = 7;
    const q = new SecAggQuantizer({ clipRange: 1.5, modulusBits: 12, clients: n });
    for (const x of [1.5, -1.5, 99, -99]) {
      const inputs = Array.from({ length: n }, () => q.encode([x, 0], new SeededRng(1)));
      const r = simulateSecAgg({ clients: n, threshold: 4, dimension: 2, modulusBits: 12, inputs, rng: new SeededRng(2) });
      const decoded = q.decodeSum(r.sum!);
      expect(decoded[0]).toBe((n * Math.sign(x) * Math.ceil(1.5 * q.scale)) / q.scale);
      expect(decoded[1]).toBe(0);
    }
  });

  it("negative control: without the bound, the same worst case wraps", () => {
    const n = 7;
    const scale = 512; // 7 * 768 > 2047
    const encoded = encodeSecAggIntegers(
      Array.from({ length: n }, () => 1.5 * scale),
      12,
    );
    let s = 0;
    for (const v of encoded) s = (s + v) % 4096;
    expect(decodeSecAggSum(new Uint32Array([s]), 12, scale)[0]).not.toBe(n * 1.5);
  });

  it("values on the grid sum exactly through secure aggregation", () => {
    const n = 5;
    const q = new SecAggQuantizer({ clipRange: 1, modulusBits: 32, clients: n });
    const rng = new SeededRng(3);
    const values = Array.from({ length: n }, () => Array.from({ length: 50 }, () => (rng.nextUint32() % 2001) / 1000 - 1));
    const grid = values.map((v) => v.map((x) => Math.round(x * 64) / 64));
    const r = simulateSecAgg({ clients: n, threshold: 3, dimension: 50, inputs: grid.map((v) => q.encode(v, rng)), rng });
    const decoded = q.decodeSum(r.sum!);
    for (let i = 0; i < 50; i++) expect(decoded[i]).toBe(grid.reduce((s, v) => s + v[i], 0));
  });

  it("encodes signed integers in two's complement and decodes the centered lift", () => {
    expect(Array.from(encodeSecAggIntegers([-1, 0, 5], 8))).toEqual([255, 0, 5]);
    expect(Array.from(decodeSecAggSum(new Uint32Array([255, 128, 127]), 8))).toEqual([-1, -128, 127]);
  });
});
