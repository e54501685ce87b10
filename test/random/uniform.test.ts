/**
 * Uniform integers (docs/testing.md section 1): every bin for n = 3, 5, 7; 64 equal-width bins for n
 * near 2^32 and 2^53; and a deterministic check, with an injected counting word source, that
 * the rejection step accepts exactly the words below the largest multiple of n (no modulo bias,
 * no off-by-one). Negative controls: a plain `x % n` sampler and an off-by-one rejection fail
 * the same checks.
 */
import { describe, expect, it } from "vitest";
import { DpError } from "../../src/errors.js";
import { SeededRng, uniformBigInt, uniformInt, type Rng } from "../../src/random/index.js";
import { allClean, chiSquare, draw } from "./stat.js";

const N = 120_000;
const TWO32 = 2 ** 32;
const TWO53 = 2 ** 53;

/** A word source that hands out a scripted sequence and counts the words consumed. */
class ScriptedRng implements Rng {
  readonly secure = false;
  used = 0;
  constructor(private words: number[]) {}
  nextUint32(): number {
    if (this.used >= this.words.length) throw new Error("script exhausted");
    return this.words[this.used++] >>> 0;
  }
  fillBytes(out: Uint8Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.nextUint32() & 0xff;
  }
}

function binTest(samples: ArrayLike<number>, n: number, bins: number) {
  const binned = Array.from(samples, (x) => Math.floor((x / n) * bins));
  // Exact bin probabilities: bin j holds the integers x with floor(x·bins/n) = j.
  const probs: number[] = [];
  for (let j = 0; j < bins; j++) {
    const from = Math.ceil((j * n) / bins);
    const to = Math.ceil(((j + 1) * n) / bins);
    probs.push((to - from) / n);
  }
  return chiSquare(binned, (k) => probs[k] ?? 0, 0, bins - 1);
}

/** Naive modulo samplers: the negative controls. */
const naive32 = (n: number, r: Rng) => r.nextUint32() % n;
const naive53 = (n: number, r: Rng) => ((r.nextUint32() & 0x1fffff) * TWO32 + r.nextUint32()) % n;

describe("uniformInt is uniform on every bin", () => {
  for (const n of [3, 5, 7]) {
    it(`n = ${n}`, () => {
      const rng = new SeededRng(600 + n);
      const s = draw(N, () => uniformInt(n, rng));
      const chi = chiSquare(s, (k) => (k >= 0 && k < n ? 1 / n : 0), 0, n - 1);
      expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
      expect(allClean(s)).toBe(true);
    });
  }
  const big: [string, number, (n: number, r: Rng) => number][] = [
    ["2^32 - 1", TWO32 - 1, naive32],
    ["floor(2^32 · 2/3) (worst case for modulo bias)", Math.floor((TWO32 * 2) / 3), naive32],
    ["2^53 - 1", TWO53 - 1, naive53],
    ["floor(2^53 · 2/3)", Math.floor((TWO53 * 2) / 3), naive53],
  ];
  big.forEach(([name, n, naive], i) => {
    it(`n = ${name}: 64 equal-width bins`, () => {
      const rng = new SeededRng(700 + i);
      const s = draw(N, () => uniformInt(n, rng));
      const chi = binTest(s, n, 64);
      expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
      expect(s.every((x) => Number.isInteger(x) && x >= 0 && x < n)).toBe(true);
      expect(allClean(s)).toBe(true);
      if (name.includes("2/3")) {
        // Negative control: plain modulo puts double weight on the lower half.
        const bad = draw(N, () => naive(n, rng));
        expect(binTest(bad, n, 64).pass).toBe(false);
      }
    });
  });
  it("uniformBigInt beyond 2^53 on 64 bins", () => {
    const n = 3n * 2n ** 70n + 12345n;
    const rng = new SeededRng(710);
    const s = draw(N, () => Number((uniformBigInt(n, rng) * 64n) / n));
    const chi = chiSquare(s, (k) => (k >= 0 && k < 64 ? 1 / 64 : 0), 0, 63);
    expect(chi.statistic).toBeLessThanOrEqual(chi.critical);
  });
  it("rejects bad n", () => {
    for (const bad of [0, -1, 1.5, NaN, Infinity, TWO53 + 2]) expect(() => uniformInt(bad)).toThrow(DpError);
  });
});

describe("the rejection step has no modulo bias (deterministic, counting word source)", () => {
  /**
   * For every word w in [limit - 3n, 2^32) the sampler must return w % n after one word when
   * w < limit, and must reject w (consume a second word) when w >= limit, where limit is the
   * largest multiple of n <= 2^32. Returns the residue counts over the accepted words.
   */
  function audit32(sample: (n: number, r: Rng) => number, n: number): { counts: number[]; wrongRejections: number } {
    const limit = TWO32 - (TWO32 % n);
    const counts = new Array<number>(n).fill(0);
    let wrong = 0;
    for (let w = limit - 3 * n; w < TWO32; w++) {
      const rng = new ScriptedRng([w, 0, 0]);
      const x = sample(n, rng);
      const rejected = rng.used > 1;
      if (rejected !== w >= limit) wrong++;
      if (!rejected) counts[x]++;
    }
    return { counts, wrongRejections: wrong };
  }
  function audit53(sample: (n: number, r: Rng) => number, n: number): { counts: number[]; wrongRejections: number } {
    const limit = TWO53 - (TWO53 % n);
    const residues = new Map<number, number>();
    let wrong = 0;
    for (let w = limit - 3 * 7; w < Math.min(TWO53, limit + 40); w++) {
      const rng = new ScriptedRng([Math.floor(w / TWO32), w % TWO32, 0, 0]);
      const x = sample(n, rng);
      const rejected = rng.used > 2;
      if (rejected !== w >= limit) wrong++;
      if (!rejected) residues.set(x % 7, (residues.get(x % 7) ?? 0) + 1);
    }
    return { counts: [...residues.values()], wrongRejections: wrong };
  }
  const offByOne32 = (n: number, r: Rng): number => {
    const limit = TWO32 - (TWO32 % n);
    for (;;) {
      const x = r.nextUint32();
      if (x <= limit) return x % n; // bug: accepts x == limit
    }
  };

  for (const n of [3, 5, 7, 1000, Math.floor((TWO32 * 2) / 3) + 1]) {
    it(`n = ${n}`, () => {
      const small = n < 1_000_000;
      if (!small) {
        // Too many words to enumerate 3n of them: check the boundary words only.
        const limit = TWO32 - (TWO32 % n);
        for (const w of [limit - 2, limit - 1, limit, limit + 1, TWO32 - 1]) {
          const rng = new ScriptedRng([w, 5, 0]);
          const x = uniformInt(n, rng);
          expect(rng.used > 1).toBe(w >= limit);
          expect(x).toBe(w >= limit ? 5 % n : w % n);
        }
        return;
      }
      const { counts, wrongRejections } = audit32((m, r) => uniformInt(m, r), n);
      expect(wrongRejections).toBe(0);
      expect(new Set(counts)).toEqual(new Set([3])); // every residue exactly 3 times
    });
  }
  it("negative controls: plain modulo and an off-by-one limit are caught", () => {
    const modulo = audit32(naive32, 7);
    expect(modulo.wrongRejections).toBeGreaterThan(0);
    expect(new Set(modulo.counts).size).toBeGreaterThan(1);
    const offByOne = audit32(offByOne32, 7);
    expect(offByOne.wrongRejections).toBe(1);
    expect(new Set(offByOne.counts).size).toBeGreaterThan(1);
  });
  it("53-bit path: n = 7·2^40 + 3 and n = 2^53 - 1", () => {
    for (const n of [7 * 2 ** 40 + 3, TWO53 - 1]) {
      const { wrongRejections } = audit53((m, r) => uniformInt(m, r), n);
      expect(wrongRejections).toBe(0);
      expect(audit53(naive53, n).wrongRejections).toBeGreaterThan(0);
    }
  });
});
