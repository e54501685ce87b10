import { describe, expect, it } from "vitest";
import { roundHalfUp } from "../../src/math/round.js";
import { seededRng } from "../../src/random/rng.js";

/** Math.round with -0 folded to +0 (roundHalfUp's documented difference). */
const ref = (x: number): number => {
  const r = Math.round(x);
  return r === 0 ? 0 : r;
};

describe("roundHalfUp", () => {
  it("equals Math.round next to half-integers, powers of two, 2^52 and 2^53, and at the edges", () => {
    const xs: number[] = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 0.5000000000000001];
    const around = (h: number): void => {
      let lo = h;
      let hi = h;
      for (let k = 0; k < 4; k++) {
        lo = lo - Math.max(Math.abs(lo) * 2 ** -53, Number.MIN_VALUE);
        hi = hi + Math.max(Math.abs(hi) * 2 ** -53, Number.MIN_VALUE);
        xs.push(lo, hi, -lo, -hi);
      }
    };
    for (let e = -60; e <= 60; e++) for (const h of [2 ** e, 2 ** e + 0.5, 2 ** e - 0.5]) around(h);
    for (const m of [
      0,
      1,
      2,
      3,
      7,
      1023,
      2 ** 20 + 3,
      2 ** 51 - 1,
      2 ** 51,
      2 ** 52 - 1,
      2 ** 52,
      2 ** 52 + 1,
      2 ** 53 - 1,
      2 ** 53,
      2 ** 53 + 2,
    ]) {
      for (const h of [m - 0.5, m + 0.5, m]) around(h);
    }
    xs.push(Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, Infinity, -Infinity);
    for (const x of xs) expect(Object.is(roundHalfUp(x), ref(x)), `x = ${x}`).toBe(true);
    expect(xs.length).toBeGreaterThan(3000);
    expect(Number.isNaN(roundHalfUp(NaN))).toBe(true);
  });

  it("equals Math.round on a million random doubles of every magnitude, a quarter of them ties (seeded)", () => {
    const r = seededRng(12345);
    for (let i = 0; i < 1_000_000; i++) {
      const mant = r.nextUint32() / 2 ** 32 + r.nextUint32() / 2 ** 64;
      const e = (r.nextUint32() % 130) - 65;
      const x = ((r.nextUint32() & 1) === 1 ? -1 : 1) * mant * 2 ** e;
      const v = i % 4 === 0 ? Math.floor(x) + 0.5 : x;
      if (!Object.is(roundHalfUp(v), ref(v))) throw new Error(`differs at x = ${v}`);
    }
  });

  it("negative control: the bare floor(x + 0.5) is wrong exactly where the fallback is needed", () => {
    const bare = (x: number): number => Math.floor(x + 0.5);
    expect(bare(0.49999999999999994)).toBe(1);
    expect(roundHalfUp(0.49999999999999994)).toBe(0);
    expect(bare(2 ** 52 + 1)).toBe(2 ** 52 + 2);
    expect(roundHalfUp(2 ** 52 + 1)).toBe(2 ** 52 + 1);
    expect(Object.is(Math.round(-0.3), -0)).toBe(true); // the one documented difference: a zero result is +0
    expect(Object.is(roundHalfUp(-0.3), 0)).toBe(true);
  });
});
