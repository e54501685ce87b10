import { afterEach, describe, expect, it, vi } from "vitest";
import {
  dpRatingHistograms,
  exactRatingHistograms,
  ldpRecordRelease,
  naiveAnonymisation,
  netflixMonthMiddle,
} from "../../src/attacks/index.js";
import { RdpAccountant, composedEvent, selfComposedEvent } from "../../src/accounting/index.js";
import { SecureRng, SeededRng, type Rng } from "../../src/random/index.js";
import { generateNetflixLike, type RatingsTable } from "../../src/data/index.js";

/** A seeded Rng that counts what it hands out. */
class CountingRng implements Rng {
  readonly secure = false;
  words = 0;
  bytes = 0;
  private readonly inner: SeededRng;
  constructor(seed: number) {
    this.inner = new SeededRng(seed);
  }
  nextUint32(): number {
    this.words++;
    return this.inner.nextUint32();
  }
  fillBytes(out: Uint8Array): void {
    this.bytes += out.length;
    this.inner.fillBytes(out);
  }
}

function sameTable(a: RatingsTable, b: RatingsTable): boolean {
  const eq = (x: ArrayLike<number>, y: ArrayLike<number>): boolean =>
    x.length === y.length && Array.prototype.every.call(x, (v: number, i: number) => v === y[i]);
  return eq(a.rowPtr, b.rowPtr) && eq(a.movies, b.movies) && eq(a.ratings, b.ratings) && eq(a.days, b.days);
}

afterEach(() => vi.restoreAllMocks());

describe("LDP record release", () => {
  const data = generateNetflixLike({ users: 1500, seed: 21 });

  it("draws all its randomness from the injected Rng, through dpkit's mechanisms", () => {
    const spies = [
      vi.spyOn(SecureRng.prototype, "nextUint32"),
      vi.spyOn(SecureRng.prototype, "fillBytes"),
      vi.spyOn(SecureRng.prototype, "fillUint32"),
    ];
    const mathRandom = vi.spyOn(Math, "random");
    const rng = new CountingRng(3);
    const a = ldpRecordRelease(data, { epsilon: 50, slots: 8, rng, allowInsecureRng: true });
    expect(rng.words).toBeGreaterThan(3 * 8 * data.numUsers); // at least one word per mechanism call
    for (const s of spies) expect(s).not.toHaveBeenCalled();
    expect(mathRandom).not.toHaveBeenCalled();
    const b = ldpRecordRelease(data, { epsilon: 50, slots: 8, rng: new CountingRng(3), allowInsecureRng: true });
    expect(sameTable(a.released, b.released)).toBe(true);
    const c = ldpRecordRelease(data, { epsilon: 50, slots: 8, rng: new CountingRng(4), allowInsecureRng: true });
    expect(sameTable(a.released, c.released)).toBe(false);
  });

  it("negative control: a release that adds randomness of its own is caught by the same checks", () => {
    const leaky = (rng: Rng): RatingsTable => {
      const r = ldpRecordRelease(data, { epsilon: 50, slots: 8, rng, allowInsecureRng: true }).released;
      const days = r.days.slice();
      days[0] = (days[0] + 1 + new SecureRng().nextUint32()) % 2649; // outside the injected Rng
      return { ...r, days };
    };
    const spy = vi.spyOn(SecureRng.prototype, "nextUint32");
    const a = leaky(new CountingRng(3));
    const b = leaky(new CountingRng(3));
    expect(spy).toHaveBeenCalled();
    expect(sameTable(a, b)).toBe(false);
  });

  it("reports the epsilon the accountant computes for one record's event", () => {
    const r = ldpRecordRelease(data, { epsilon: 20, slots: 8, targetDelta: 1e-6, rng: new SeededRng(1), allowInsecureRng: true });
    const expectedEvent = selfComposedEvent(composedEvent([r.movieMechanism.event, r.ratingMechanism.event, r.dateMechanism.event]), 8);
    expect(r.event).toEqual(expectedEvent);
    const acc = new RdpAccountant({ neighboringRelation: "replaceOne" });
    acc.compose(r.event);
    expect(r.accountantEpsilon).toBe(acc.getEpsilon(1e-6));
    const basic = 8 * (r.movieMechanism.epsilon + r.ratingMechanism.epsilon + r.dateMechanism.epsilon);
    expect(r.epsilon).toBeCloseTo(basic, 9);
    expect(r.epsilon).toBeLessThanOrEqual(20 * (1 + 1e-12));
    expect(r.epsilon).toBeGreaterThan(20 * (1 - 1e-6));
    expect(r.movieMechanism.k).toBe(17_771);
    expect(r.dateMechanism.sensitivity).toBe(2648);
  });
});

describe("naive anonymisation", () => {
  const data = generateNetflixLike({ users: 800, seed: 22 });

  it("shuffles ids, coarsens dates to months, keeps the rest of each record", () => {
    const { released, releasedToOriginal } = naiveAnonymisation(data, { deleteFraction: 0, perturbFraction: 0, rng: new SeededRng(2) });
    expect(Array.from(releasedToOriginal).sort((a, b) => a - b)).toEqual(Array.from({ length: 800 }, (_, i) => i));
    for (const r of [0, 17, 500]) {
      const u = releasedToOriginal[r];
      const a = Array.from(released.movies.subarray(released.rowPtr[r], released.rowPtr[r + 1]));
      expect(a).toEqual(Array.from(data.movies.subarray(data.rowPtr[u], data.rowPtr[u + 1])));
      for (let i = released.rowPtr[r], j = data.rowPtr[u]; i < released.rowPtr[r + 1]; i++, j++) {
        expect(released.days[i]).toBe(netflixMonthMiddle(data.days[j]));
      }
    }
    expect(netflixMonthMiddle(0)).toBe(14); // 1998-10-01 -> 1998-10-15
  });

  it("deletes and perturbs about the requested shares", () => {
    const { released } = naiveAnonymisation(data, { deleteFraction: 0.1, perturbFraction: 0, coarsenDates: false, rng: new SeededRng(3) });
    const kept = released.movies.length / data.movies.length;
    expect(kept).toBeGreaterThan(0.88);
    expect(kept).toBeLessThan(0.92);
  });
});

describe("DP rating histograms", () => {
  const data = generateNetflixLike({ users: 800, seed: 23 });

  it("bounds each user's contribution and declares sensitivity 2L", () => {
    const exact = exactRatingHistograms(data, { maxRatingsPerUser: 5, rng: new SeededRng(1) });
    let total = 0;
    let bound = 0;
    for (const v of exact) total += v;
    for (let u = 0; u < data.numUsers; u++) bound += Math.min(5, data.rowPtr[u + 1] - data.rowPtr[u]);
    expect(total).toBe(bound);
    const h = dpRatingHistograms(data, { epsilon: 1, maxRatingsPerUser: 5, rng: new SeededRng(2), allowInsecureRng: true });
    expect(h.sensitivity).toBe(10);
    expect(h.mechanism.sensitivity).toBe(10);
    expect(h.event).toEqual(h.mechanism.event);
    expect(h.epsilon).toBeLessThanOrEqual(1);
    expect(h.counts.length).toBe(17_770 * 5);
    for (const v of h.counts) if (!Number.isInteger(v)) throw new Error("non-integer count");
  });
});
