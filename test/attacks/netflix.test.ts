import { describe, expect, it } from "vitest";
import { compareWithNetflixPrize, generateNetflixLike, ratingsTableStatistics, type RatingsTable } from "../../src/data/index.js";

function fingerprint(t: RatingsTable): string {
  let h = 2166136261;
  const mix = (a: ArrayLike<number>): void => {
    for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a[i], 16777619) >>> 0;
  };
  mix(t.rowPtr);
  mix(t.movies);
  mix(t.ratings);
  mix(t.days);
  return `${t.movies.length}:${h}`;
}

describe("Netflix-like generator", () => {
  const data = generateNetflixLike({ users: 20_000, seed: 11 });
  const stats = ratingsTableStatistics(data);

  it("matches the published statistics within the stated tolerances", () => {
    const rows = compareWithNetflixPrize(stats);
    const failed = rows.filter((r) => !r.ok);
    expect(failed).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(11);
  });

  it("negative control: the comparison flags data with the wrong activity law and no growth", () => {
    const broken = {
      ...stats,
      meanRatingsPerUser: 150,
      ratings: stats.ratings * 0.72,
      ratingsPerYear: { ...stats.ratingsPerYear, "2005": 1 },
    };
    const failed = compareWithNetflixPrize(broken)
      .filter((r) => !r.ok)
      .map((r) => r.statistic);
    expect(failed).toContain("ratings per user, mean");
    expect(failed).toContain("ratings per year grow every year 1999–2005");
  });

  it("has valid, sorted compressed rows", () => {
    expect(data.rowPtr[data.numUsers]).toBe(data.movies.length);
    for (let u = 0; u < data.numUsers; u++) {
      expect(data.rowPtr[u + 1]).toBeGreaterThan(data.rowPtr[u]);
      for (let i = data.rowPtr[u] + 1; i < data.rowPtr[u + 1]; i++)
        if (!(data.movies[i] > data.movies[i - 1])) throw new Error(`row ${u} not strictly sorted`);
    }
    for (let i = 0; i < data.ratings.length; i++)
      if (data.ratings[i] < 1 || data.ratings[i] > 5 || data.days[i] > 2648) throw new Error(`bad entry ${i}`);
    expect(data.popularityOrder.length).toBe(17_770);
  });

  it("is reproducible: the same seed gives the same data, another seed other data", () => {
    const a = generateNetflixLike({ users: 800, seed: 4 });
    const b = generateNetflixLike({ users: 800, seed: 4 });
    const c = generateNetflixLike({ users: 800, seed: 5 });
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(fingerprint(a)).not.toBe(fingerprint(c));
  });

  it("scales users with --scale and validates its options", () => {
    expect(generateNetflixLike({ scale: 0.002, seed: 1 }).numUsers).toBe(960);
    expect(() => generateNetflixLike({ users: 0 })).toThrow(/users/);
    expect(() => generateNetflixLike({ scale: -1 })).toThrow(/scale/);
    expect(() => generateNetflixLike({ users: 10, seed: 1.5 })).toThrow(/seed/);
  });
});
