import { describe, expect, it } from "vitest";
import { ldpRecordRelease } from "../../src/attacks/index.js";
import { SeededRng, type Rng } from "../../src/random/index.js";
import { auditSamplers, valueEvents } from "../helpers/audit.js";
import { type RatingsTable } from "../../src/data/index.js";

/** A table of `users` identical one-rating records (3 movies, so the audit has power). */
function identical(users: number, movie: number, rating: number, day: number, numMovies = 3): RatingsTable {
  const rowPtr = new Uint32Array(users + 1);
  for (let u = 0; u <= users; u++) rowPtr[u] = u;
  return {
    numUsers: users,
    numMovies,
    rowPtr,
    movies: new Uint16Array(users).fill(movie),
    ratings: new Uint8Array(users).fill(rating),
    days: new Uint16Array(users).fill(day),
  };
}

/**
 * Empirical epsilon of one LDP record (docs/testing.md section 3): neighbours x0 = {movie 0, 5 stars,
 * first day} and x1 = {movie 1, 1 star, last day}; events on the reported movie of the single slot.
 */
function auditRecord(spent: number, n: number, rng0?: Rng, rng1?: Rng): number {
  const r0 = ldpRecordRelease(identical(n, 0, 5, 0), { epsilon: spent, slots: 1, rng: rng0 });
  const r1 = ldpRecordRelease(identical(n, 1, 1, 2648), { epsilon: spent, slots: 1, rng: rng1 });
  let i0 = 0;
  let i1 = 0;
  return auditSamplers({
    sample0: () => r0.reportMovies[i0++],
    sample1: () => r1.reportMovies[i1++],
    events: valueEvents([0, 1, 3]),
    eventNames: ["movie 0", "movie 1", "none"],
    n,
    delta: 0,
  }).epsilonLowerBound;
}

describe("LDP record release: empirical epsilon", () => {
  const claimed = 2;

  it("stays below the claimed epsilon (seeded)", () => {
    expect(auditRecord(claimed, 60_000, new SeededRng(7), new SeededRng(8))).toBeLessThanOrEqual(claimed);
  });

  it("stays below the claimed epsilon (secure source)", () => {
    expect(auditRecord(claimed, 60_000)).toBeLessThanOrEqual(claimed);
  });

  it("power check: a record that spends 4x the claimed epsilon is flagged", () => {
    expect(auditRecord(4 * claimed, 60_000, new SeededRng(7), new SeededRng(8))).toBeGreaterThan(claimed);
  });
});
