/**
 * Measuring the linkage attack: draw targets, give the attacker auxiliary knowledge of each,
 * run Scoreboard-RH against the released table and count re-identifications, false matches and
 * declined matches.
 *
 * @see https://www.cs.utexas.edu/~shmat/shmat_oak08netflix.pdf
 * @module
 */
import { DpError, requireInteger } from "../../errors.js";
import type { RatingsTable } from "../../data/netflix.js";
import { uniformInt } from "../../random/uniform.js";
import { resolveRng, type Rng } from "../../random/rng.js";
import { eligibleRatings, resolveAuxiliaryOptions, sampleAuxiliary, type AuxiliaryOptions } from "./auxiliary.js";
import { buildLinkageIndex, Scoreboard, type LinkageIndex, type ScoreboardOptions } from "./scoreboard.js";

/** Options for {@link runLinkageAttack}. */
export interface LinkageAttackOptions extends AuxiliaryOptions, ScoreboardOptions {
  /** The original data, from which targets and their auxiliary knowledge are drawn. */
  original: RatingsTable;
  /** The released table the attacker links against; default `original` (no defence). */
  released?: RatingsTable;
  /** Original user of each released record; default identity. */
  releasedToOriginal?: Uint32Array;
  /** A prebuilt index of `released` (reused across scenarios). */
  index?: LinkageIndex;
  /** Number of targets; default 200. */
  targets?: number;
  /** The simulation's random source (targets and aux); defaults to the secure source. */
  rng?: Rng;
  /** Called with (done, total) after each target. */
  onProgress?: (done: number, total: number) => void;
}

/** Counts and rates of one linkage experiment. */
export interface LinkageAttackResult {
  targets: number;
  /** Claimed match and it is the target. */
  reidentified: number;
  /** Claimed match and it is someone else. */
  falseMatches: number;
  /** Eccentricity below the threshold: no claim. */
  noMatches: number;
  reidentificationRate: number;
  falseMatchRate: number;
  noMatchRate: number;
  /** Share of targets whose record scored highest, whether or not a match was claimed. */
  topScoreRate: number;
  /** Median eccentricity over targets. */
  medianEccentricity: number;
  /** Mean number of records touched through the index per target. */
  meanCandidates: number;
  /** Wall-clock milliseconds of scoring per target (index build excluded). */
  msPerTarget: number;
}

/**
 * Runs Scoreboard-RH for `targets` random targets (users with enough eligible ratings).
 *
 * @remarks
 * An attack simulation: the randomness (targets, auxiliary errors) is the simulation's; pass a
 * seeded Rng to reproduce a run.
 *
 * @param options - data, release, attacker's knowledge and scoring parameters
 * @returns re-identification, false-match and no-match counts and rates
 * @throws {@link DpError} `invalid_parameter` for bad options or when no user is eligible
 * @example
 * ```ts
 * import { generateNetflixLike } from "dpkit/data";
 * import { runLinkageAttack } from "dpkit/attacks";
 * import { SeededRng } from "dpkit/random";
 * const data = generateNetflixLike({ users: 5000, seed: 1 });
 * const r = runLinkageAttack({ original: data, known: 8, wrong: 2, dateError: 14, targets: 50, rng: new SeededRng(2) });
 * console.log(r.reidentificationRate);
 * ```
 */
export function runLinkageAttack(options: LinkageAttackOptions): LinkageAttackResult {
  const original = options.original;
  const released = options.released ?? original;
  const aux = resolveAuxiliaryOptions(options);
  const targets = requireInteger("targets", options.targets ?? 200, { min: 1, max: 10_000_000 });
  const rng = resolveRng(options.rng);
  const index = options.index ?? buildLinkageIndex(released);
  const board = new Scoreboard(index, options);
  const toOriginal = options.releasedToOriginal;
  const needed = aux.known - aux.wrong;

  let reidentified = 0;
  let falseMatches = 0;
  let noMatches = 0;
  let top = 0;
  let candidates = 0;
  const eccentricities: number[] = [];
  let ms = 0;
  for (let t = 0; t < targets; t++) {
    let user = -1;
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const u = uniformInt(original.numUsers, rng);
      if (eligibleRatings(original, u, aux.excludedMovies) >= needed) {
        user = u;
        break;
      }
    }
    if (user < 0) {
      throw new DpError("invalid_parameter", `No user has ${needed} eligible ratings to know.`, "known");
    }
    const knowledge = sampleAuxiliary(original, user, aux, rng) as NonNullable<ReturnType<typeof sampleAuxiliary>>;
    const start = performance.now();
    const m = board.match(knowledge);
    ms += performance.now() - start;
    const bestUser = m.best < 0 ? -1 : toOriginal ? toOriginal[m.best] : m.best;
    if (bestUser === user) top++;
    if (!m.matched) noMatches++;
    else if (bestUser === user) reidentified++;
    else falseMatches++;
    candidates += m.candidates;
    eccentricities.push(m.eccentricity);
    options.onProgress?.(t + 1, targets);
  }
  eccentricities.sort((x, y) => x - y);
  return {
    targets,
    reidentified,
    falseMatches,
    noMatches,
    reidentificationRate: reidentified / targets,
    falseMatchRate: falseMatches / targets,
    noMatchRate: noMatches / targets,
    topScoreRate: top / targets,
    medianEccentricity: eccentricities[Math.floor(targets / 2)],
    meanCandidates: candidates / targets,
    msPerTarget: ms / targets,
  };
}
