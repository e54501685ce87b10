import { describe, expect, it } from "vitest";
import {
  buildLinkageIndex,
  eccentricityMatch,
  sampleAuxiliary,
  Scoreboard,
  scoreboardScoresByScan,
  topMoviesMask,
  type AuxiliaryRecord,
} from "../../src/attacks/index.js";
import { SeededRng } from "../../src/random/index.js";
import { generateNetflixLike, type RatingsTable } from "../../src/data/index.js";

/** Builds a table from rows of [movie, rating, day] (rows sorted by movie). */
function table(numMovies: number, rows: [number, number, number][][]): RatingsTable {
  const rowPtr = new Uint32Array(rows.length + 1);
  const flat = rows.flat();
  rows.forEach((r, u) => (rowPtr[u + 1] = rowPtr[u] + r.length));
  return {
    numUsers: rows.length,
    numMovies,
    rowPtr,
    movies: Uint16Array.from(flat.map((e) => e[0])),
    ratings: Uint8Array.from(flat.map((e) => e[1])),
    days: Uint16Array.from(flat.map((e) => e[2])),
  };
}

const tiny = table(3, [
  [
    [0, 5, 100],
    [1, 3, 200],
  ],
  [[0, 4, 110]],
  [
    [1, 3, 400],
    [2, 1, 50],
  ],
]);

describe("Scoreboard-RH scores", () => {
  it("matches scores computed by hand on a tiny dataset", () => {
    const aux: AuxiliaryRecord = { movies: [0, 1], ratings: [5, 3], days: [100, 210] };
    const board = new Scoreboard(buildLinkageIndex(tiny));
    const { scores } = board.score(aux);
    const w = 1 / Math.log(2); // supports are 2, 2 and 1 (clamped to 2)
    const expected = [
      w * (1 + 1) + w * (1 + Math.exp(-10 / 30)),
      w * (Math.exp(-1 / 1.5) + Math.exp(-10 / 30)),
      w * (1 + Math.exp(-190 / 30)),
    ];
    for (let u = 0; u < 3; u++) expect(scores[u]).toBeCloseTo(expected[u], 12);
    const m = board.match(aux);
    const mean = (expected[0] + expected[1] + expected[2]) / 3;
    const sigma = Math.sqrt(expected.reduce((s, x) => s + (x - mean) ** 2, 0) / 3);
    expect(m.best).toBe(0);
    expect(m.sigma).toBeCloseTo(sigma, 12);
    expect(m.eccentricity).toBeCloseTo((expected[0] - Math.max(expected[1], expected[2])) / sigma, 12);
    expect(m.matched).toBe(m.eccentricity >= 1.5);
  });

  it("drops the date term without dates and honours the scales", () => {
    const aux: AuxiliaryRecord = { movies: [0], ratings: [3] };
    const { scores } = new Scoreboard(buildLinkageIndex(tiny), { ratingScale: 2 }).score(aux);
    const w = 1 / Math.log(2);
    expect(scores[0]).toBeCloseTo(w * Math.exp(-2 / 2), 12);
    expect(scores[1]).toBeCloseTo(w * Math.exp(-1 / 2), 12);
    expect(scores[2]).toBe(0);
  });

  it("inverted-index scores equal a brute-force scan of every record", () => {
    const data = generateNetflixLike({ users: 600, seed: 5 });
    const index = buildLinkageIndex(data);
    const rng = new SeededRng(9);
    const top = topMoviesMask(data, 50);
    for (const options of [{}, { useDates: false }, { ratingScale: 0.7, dateScale: 5 }]) {
      const board = new Scoreboard(index, options);
      for (let t = 0; t < 15; t++) {
        const aux = sampleAuxiliary(
          data,
          t * 37,
          { known: 6, wrong: 2, dateError: t % 2 ? null : 14, excludedMovies: t % 3 ? undefined : top },
          rng,
        );
        if (!aux) continue;
        const fast = board.score(aux).scores;
        const scan = scoreboardScoresByScan(data, aux, options);
        let maxDiff = 0;
        for (let u = 0; u < data.numUsers; u++) maxDiff = Math.max(maxDiff, Math.abs(fast[u] - scan[u]));
        expect(maxDiff).toBeLessThan(1e-12);
      }
    }
  });

  it("negative control: a scorer that forgets the rarity weights disagrees with the scan", () => {
    const data = generateNetflixLike({ users: 300, seed: 6 });
    const index = buildLinkageIndex(data);
    const broken = { ...index, weights: new Float64Array(index.numMovies).fill(1) };
    const aux = sampleAuxiliary(data, 3, { known: 4, dateError: 14 }, new SeededRng(1)) as AuxiliaryRecord;
    const fast = new Scoreboard(broken).score(aux).scores;
    const scan = scoreboardScoresByScan(data, aux);
    let maxDiff = 0;
    for (let u = 0; u < data.numUsers; u++) maxDiff = Math.max(maxDiff, Math.abs(fast[u] - scan[u]));
    expect(maxDiff).toBeGreaterThan(1e-3);
  });
});

describe("eccentricity rule", () => {
  it("declines to match when two records tie", () => {
    const twins = table(4, [
      [
        [0, 5, 10],
        [1, 2, 20],
      ],
      [
        [0, 5, 10],
        [1, 2, 20],
      ],
      [[2, 3, 30]],
      [[3, 3, 40]],
      [[3, 1, 40]],
    ]);
    const aux: AuxiliaryRecord = { movies: [0, 1], ratings: [5, 2], days: [10, 20] };
    const m = new Scoreboard(buildLinkageIndex(twins), { eccentricityThreshold: 0.01 }).match(aux);
    expect(m.bestScore).toBe(m.secondScore);
    expect(m.eccentricity).toBe(0);
    expect(m.matched).toBe(false);
  });

  it("control: the same data with one twin changed is matched", () => {
    const distinct = table(4, [
      [
        [0, 5, 10],
        [1, 2, 20],
      ],
      [[0, 5, 10]],
      [[2, 3, 30]],
      [[3, 3, 40]],
      [[3, 1, 40]],
    ]);
    const aux: AuxiliaryRecord = { movies: [0, 1], ratings: [5, 2], days: [10, 20] };
    const m = new Scoreboard(buildLinkageIndex(distinct), { eccentricityThreshold: 0.01 }).match(aux);
    expect(m.best).toBe(0);
    expect(m.eccentricity).toBeGreaterThan(0.5);
    expect(m.matched).toBe(true);
  });

  it("counts untouched records as zeros and refuses an empty candidate set", () => {
    const r = eccentricityMatch(Float64Array.from([3, 0, 0, 0]), [0], 4, 1.5);
    expect(r.secondScore).toBe(0);
    const mean = 0.75;
    expect(r.sigma).toBeCloseTo(Math.sqrt(((3 - mean) ** 2 + 3 * mean ** 2) / 4), 12);
    expect(eccentricityMatch(new Float64Array(4), [], 4, 1.5).matched).toBe(false);
  });

  it("rejects malformed auxiliary knowledge with a named error", () => {
    const board = new Scoreboard(buildLinkageIndex(tiny));
    expect(() => board.score({ movies: [0, 1], ratings: [5] })).toThrow(/aux/);
    expect(() => board.score({ movies: [7], ratings: [5] })).toThrow(/movie ids/);
  });
});
