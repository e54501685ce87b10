/**
 * Linkage benchmark: the Netflix-style attack at the demo scale and at full Netflix Prize scale
 * (480,189 users, about 100 M ratings), generation time and memory, attack time per target,
 * the reproduction table beside the paper's numbers, the LDP epsilon curve and the DP-aggregate
 * recommender RMSE.
 *
 * LINKAGE_FULL_SCALE (default 1) sets the large scale; lower it on a busy machine.
 * Run: npm run bench -- linkage
 */
import {
  baselineRecommenderRmse,
  buildLinkageIndex,
  dpRatingHistograms,
  exactRatingHistograms,
  heldOutSplit,
  movieMeansFromCounts,
  runLinkageAttack,
  topMoviesMask,
} from "../src/attacks/index.js";
import { SeededRng } from "../src/random/index.js";
import { compareWithNetflixPrize, generateNetflixLike, ratingsTableStatistics } from "../src/data/index.js";
import { PAPER_SCENARIOS, runLinkageDemo } from "../src/experiments/index.js";

interface Result {
  case: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}
const results: Result[] = [];
const push = (r: Result): void => {
  results.push(r);
  console.log(
    `${r.case.padEnd(58)} ${r.metric.padEnd(26)} ${String(Number(r.value.toPrecision(4))).padStart(12)} ${r.unit}${r.baseline !== undefined ? `   (paper/baseline ${r.baseline})` : ""}`,
  );
};
const mb = (x: number): number => x / 2 ** 20;

// ---- demo scale --------------------------------------------------------------------------
const t0 = performance.now();
const demo = runLinkageDemo({ users: 20_000, targets: 200 });
push({ case: "demo (20,000 users), whole runLinkageDemo", metric: "wall time", value: (performance.now() - t0) / 1000, unit: "s" });
push({ case: "demo (20,000 users)", metric: "generation time", value: demo.generationMs / 1000, unit: "s" });
for (const r of demo.reproduction) {
  push({
    case: `demo: ${r.scenario}, ratings ${r.ratingError ? "±1" : "exact"}`,
    metric: "re-identified",
    value: r.reidentificationRate,
    unit: "share",
    baseline: r.paperRate,
  });
  push({
    case: `demo: ${r.scenario}, ratings ${r.ratingError ? "±1" : "exact"}`,
    metric: "attack time per target",
    value: r.msPerTarget,
    unit: "ms",
  });
}
for (const r of demo.knownCurve)
  push({ case: `demo: ${r.known} known, ±14 days, exact`, metric: "re-identified", value: r.reidentificationRate, unit: "share" });
for (const r of demo.naive)
  push({ case: `demo naive: ${r.scenario}`, metric: "re-identified", value: r.reidentificationRate, unit: "share" });
for (const r of demo.ldp) {
  push({
    case: `demo LDP ε=${r.epsilon.toPrecision(3)} (RDP ε=${r.accountantEpsilon.toPrecision(3)})`,
    metric: "re-identified",
    value: r.reidentificationRate,
    unit: "share",
  });
  push({ case: `demo LDP ε=${r.epsilon.toPrecision(3)}`, metric: "false match", value: r.falseMatchRate, unit: "share" });
  push({
    case: `demo LDP ε=${r.epsilon.toPrecision(3)}`,
    metric: "RMSE movie means",
    value: r.movieMeanRmse,
    unit: "stars",
    baseline: demo.ldpReference.globalMeanRmse,
  });
}
for (const r of demo.aggregates) {
  push({ case: `demo aggregates ε=${r.epsilon ?? "∞ (non-private)"}`, metric: "RMSE movie mean", value: r.movieMean, unit: "stars" });
  push({
    case: `demo aggregates ε=${r.epsilon ?? "∞ (non-private)"}`,
    metric: "RMSE + user offset",
    value: r.movieMeanPlusUserOffset,
    unit: "stars",
  });
}

// ---- large scale --------------------------------------------------------------------------
const scale = Number(process.env.LINKAGE_FULL_SCALE ?? 1);
const label = scale === 1 ? "full scale" : `scale ${scale}`;
const before = process.memoryUsage();
const g0 = performance.now();
const data = generateNetflixLike({ scale, seed: 1 });
const genS = (performance.now() - g0) / 1000;
const after = process.memoryUsage();
const stats = ratingsTableStatistics(data);
push({ case: `${label} (${data.numUsers} users, ${stats.ratings} ratings)`, metric: "generation time", value: genS, unit: "s" });
push({ case: `${label}`, metric: "table memory", value: mb(stats.bytes), unit: "MiB" });
push({ case: `${label}`, metric: "RSS growth (generation)", value: mb(after.rss - before.rss), unit: "MiB" });
for (const row of compareWithNetflixPrize(stats)) {
  push({
    case: `${label} statistic: ${row.statistic}${row.ok ? "" : " (OUT OF TOLERANCE)"}`,
    metric: "generated",
    value: row.generated,
    unit: "",
    baseline: typeof row.published === "number" ? Number(row.published.toPrecision(6)) : undefined,
  });
}
const i0 = performance.now();
const index = buildLinkageIndex(data);
push({ case: `${label}`, metric: "index build time", value: (performance.now() - i0) / 1000, unit: "s" });
push({ case: `${label}`, metric: "RSS after index", value: mb(process.memoryUsage().rss), unit: "MiB" });
const targets = Number(process.env.LINKAGE_TARGETS ?? 100);
PAPER_SCENARIOS.forEach((s, i) => {
  for (const ratingError of [0, 1]) {
    const { excludeTop, ...aux } = s.knowledge;
    const r = runLinkageAttack({
      original: data,
      index,
      targets,
      rng: new SeededRng(10 + 2 * i + ratingError),
      ...aux,
      ratingError,
      excludedMovies: excludeTop ? topMoviesMask(data, excludeTop) : undefined,
    });
    const c = `${label}: ${s.name}, ratings ${ratingError ? "±1" : "exact"}`;
    push({ case: c, metric: "re-identified", value: r.reidentificationRate, unit: "share", baseline: s.paperRate });
    push({ case: c, metric: "false match", value: r.falseMatchRate, unit: "share" });
    push({ case: c, metric: "target scores highest", value: r.topScoreRate, unit: "share" });
    push({ case: c, metric: "attack time per target", value: r.msPerTarget, unit: "ms" });
  }
});
for (const k of [2, 4, 8]) {
  const r = runLinkageAttack({
    original: data,
    index,
    targets: Math.min(targets, 60),
    rng: new SeededRng(100 + k),
    known: k,
    dateError: 14,
    ratingError: 0,
  });
  push({ case: `${label}: ${k} known, ±14 days, exact`, metric: "re-identified", value: r.reidentificationRate, unit: "share" });
}
const split = heldOutSplit(data, 50_000, new SeededRng(600));
const exact = movieMeansFromCounts(exactRatingHistograms(data, { exclude: split.mask }), data.numMovies, 25);
const base = baselineRecommenderRmse(data, split, exact);
push({ case: `${label} aggregates non-private`, metric: "RMSE + user offset", value: base.movieMeanPlusUserOffset, unit: "stars" });
for (const epsilon of [0.1, 1]) {
  const h = dpRatingHistograms(data, {
    epsilon,
    maxRatingsPerUser: 20,
    exclude: split.mask,
    rng: new SeededRng(700),
    allowInsecureRng: true,
  });
  const prior = Math.max(25, 2 * Math.sqrt(5) * h.mechanism.standardDeviation);
  const means = movieMeansFromCounts(h.counts, data.numMovies, prior, prior * Math.sqrt(data.numMovies));
  const r = baselineRecommenderRmse(data, split, means);
  push({
    case: `${label} aggregates ε=${epsilon} (≤20 ratings/user)`,
    metric: "RMSE movie mean",
    value: r.movieMean,
    unit: "stars",
    baseline: Number(base.movieMean.toPrecision(4)),
  });
  push({
    case: `${label} aggregates ε=${epsilon} (≤20 ratings/user)`,
    metric: "RMSE + user offset",
    value: r.movieMeanPlusUserOffset,
    unit: "stars",
    baseline: Number(base.movieMeanPlusUserOffset.toPrecision(4)),
  });
}

console.log(JSON.stringify({ bench: "linkage", results }));
