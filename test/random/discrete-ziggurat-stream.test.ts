/**
 * The exact discrete ziggurat's fast loop (src/random/discrete-ziggurat.ts) against the loop it
 * replaced: the same seeded streams bit for bit (digests pinned from the previous loop at commit
 * b985c3e, for sigma from 0.25 to 2^40, across calls on one source, and with the wedge and tail
 * tests forced onto the bigint path), the exact floor ⌊J/Q⌋ by one division on every layer's
 * boundary columns (a multiplication by a rounded 1/Q fails there: the negative control), and
 * streams: a vector drawn piece by piece is the vector drawn in one call.
 */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { DiscreteZiggurat, discreteZigguratFill, zigguratTable } from "../../src/random/discrete-ziggurat.js";
import { setExpEnclosureMarginForTesting } from "../../src/random/exp-bernoulli.js";
import { SeededRng } from "../../src/random/rng.js";

const digest = (a: Float64Array): string =>
  createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex")
    .slice(0, 16);

describe("discrete ziggurat: fast loop, streams", () => {
  let oldMargin: number | undefined;
  afterEach(() => {
    if (oldMargin !== undefined) setExpEnclosureMarginForTesting(oldMargin);
    oldMargin = undefined;
  });

  it("gives the previous loop's seeded streams bit for bit (one long call; then 1000 and 3333 samples from one source)", () => {
    // [sigma, n, seed, digest of one call, digests of two successive calls on seed + 100], pinned
    // from the loop before the packed table and the division floor (b985c3e).
    const pinned: [number, number, number, string, string, string][] = [
      [0.25, 100_000, 1, "ef26b4e5d46aa68e", "191c635ff7299d28", "9315d019c16bfdf0"],
      [0.5, 100_000, 2, "e469456e81426d38", "e48b56f26afa7674", "1600847e2e66c9f8"],
      [3, 200_000, 3, "a67a32d16381c613", "872b5718ecb9ba35", "17e5033b0dd7d4d5"],
      [12.5, 100_000, 4, "87b3f905c3891c8f", "d4e7ae5bc178f639", "12c1492355457963"],
      [1.7 * 2 ** 30, 200_000, 5, "f9853b7271bdd83b", "6349c9f7107013ce", "114c89b40a672147"],
      [2 ** 40, 50_000, 6, "8cb558de45eedede", "b07bde971206230d", "da4e6498a81d0889"],
    ];
    for (const [sigma, n, seed, one, a, b] of pinned) {
      const f = discreteZigguratFill(sigma);
      const out = new Float64Array(n);
      f(out, new SeededRng(seed));
      const r = new SeededRng(seed + 100);
      const x = new Float64Array(1000);
      const y = new Float64Array(3333);
      f(x, r);
      f(y, r);
      expect([digest(out), digest(x), digest(y)]).toEqual([one, a, b]);
    }
    // Negative control: a one-sample shift of the same stream has another digest.
    const out = new Float64Array(100_001);
    discreteZigguratFill(0.25)(out, new SeededRng(1));
    expect(digest(out.subarray(1))).not.toBe("ef26b4e5d46aa68e");
  });

  it("gives the previous loop's streams with the wedge and tail tests forced onto the bigint path", () => {
    oldMargin = setExpEnclosureMarginForTesting(2 ** -6);
    for (const [sigma, seed, d] of [
      [1, 31, "1322132727964c7f"],
      [3, 32, "4839ba880aa8c85a"],
      [1.7 * 2 ** 30, 33, "01d2212619cfcfab"],
    ] as const) {
      const out = new Float64Array(60_000);
      discreteZigguratFill(sigma)(out, new SeededRng(seed));
      expect(digest(out)).toBe(d);
    }
  });

  it("⌊J/Q⌋ is Math.floor(J / Q) exactly on every layer's boundary columns; a rounded reciprocal is not", () => {
    for (const sigma of [0.25, 3, 12.5, 2 ** 20, 1.7 * 2 ** 30, 2 ** 40]) {
      const t = zigguratTable(sigma);
      let byDivision = 0;
      let byReciprocal = 0;
      let checked = 0;
      const r = new SeededRng(3);
      for (let layer = 0; layer < 256; layer++) {
        const q = t.Qd[layer];
        const w = t.W[layer];
        const inv = 1 / q;
        const columns = [0, 1, w - 2, w - 1, Math.floor(w / 2), Math.floor(w / 3)];
        for (let j = 0; j < 40; j++) columns.push(Math.floor((r.nextUint32() / 2 ** 32) * w));
        for (const m of columns) {
          for (const J of [m * q - 1, m * q, m * q + 1, m * q + q - 1]) {
            if (!(J >= 0 && J < t.lim[layer])) continue;
            checked++;
            const exact = Number(BigInt(J) / BigInt(q));
            if (Math.floor(J / q) !== exact) byDivision++;
            if (Math.floor(J * inv) !== exact) byReciprocal++;
          }
        }
      }
      expect(checked).toBeGreaterThan(30_000);
      expect(byDivision).toBe(0);
      if (sigma >= 3) expect(byReciprocal).toBeGreaterThan(0); // the negative control
    }
  });

  it("a stream drawn piece by piece (or added where used) is the one-call vector; misuse throws", () => {
    for (const sigma of [0.5, 3, 1.7 * 2 ** 30]) {
      const whole = new Float64Array(50_000);
      discreteZigguratFill(sigma)(whole, new SeededRng(9));
      const z = new DiscreteZiggurat(sigma);
      for (const piece of [1, 97, 4096, 20_000]) {
        const s = z.stream(new SeededRng(9), whole.length);
        const got = new Float64Array(whole.length);
        for (let at = 0; at < got.length; at += piece) s.next(got, at, Math.min(got.length, at + piece));
        expect(digest(got)).toBe(digest(whole));
      }
    }
    // addRounded adds the same samples where they are used: on zeros with unit scales it writes float32(Z).
    for (const sigma of [0.5, 3, 1.7 * 2 ** 30]) {
      const whole = new Float64Array(30_000);
      discreteZigguratFill(sigma)(whole, new SeededRng(4));
      const zeros = new Float32Array(whole.length);
      const st = new DiscreteZiggurat(sigma).stream(new SeededRng(4), whole.length);
      st.addRounded(zeros, 0, 12_345, 1, 1, 1);
      st.addRounded(zeros, 12_345, whole.length, 1, 1, 1);
      expect(Array.from(zeros)).toEqual(Array.from(Float32Array.from(whole)));
    }
    const z = new DiscreteZiggurat(3);
    const s = z.stream(new SeededRng(1), 10);
    expect(() => s.next(new Float64Array(11), 0, 11)).toThrow(/past its end/);
    z.fill(new Float64Array(5), new SeededRng(2));
    expect(() => s.next(new Float64Array(5), 0, 5)).toThrow(/used again/);
  });
});
