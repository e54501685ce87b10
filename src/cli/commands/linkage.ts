/**
 * `dpkit linkage`: the Netflix-style linkage attack on generated data, with or without a
 * defence (naive coarsening, an LDP release of each record, or DP aggregates).
 * @module
 */
import type { Command } from "commander";
import { DpError, requireOneOf } from "../../errors.js";
import {
  baselineRecommenderRmse,
  buildLinkageIndex,
  exactRatingHistograms,
  heldOutSplit,
  ldpRecordRelease,
  movieMeanRmse,
  movieMeansFromCounts,
  naiveAnonymisation,
  runLinkageAttack,
  topMoviesMask,
  type LinkageAttackResult,
} from "../../attacks/index.js";
import { generateNetflixLike } from "../../data/netflix.js";
import { PAPER_SCENARIOS, dpHistogramMeans, ldpMovieMeanRmse, renderLinkageDemo, runLinkageDemo } from "../../experiments/linkage-demo.js";
import { linkageKnownCurvePlot } from "../../experiments/linkage-plots.js";
import { linePlot, savePlot } from "../../plot/index.js";
import { SeededRng } from "../../random/rng.js";
import { checkOutputFile } from "../files.js";
import { parseIntegerOption, parseNumberOption, printJson, renderTable, type Cell } from "../output.js";
import { ProgressBar } from "../progress.js";

const DEFENCES = ["none", "coarsen", "ldp", "aggregates"] as const;
type Defence = (typeof DEFENCES)[number];

interface LinkageCliOptions {
  users?: string;
  scale?: string;
  known?: string;
  wrong?: string;
  dateError?: string;
  ratingError?: string;
  outsideTop?: string;
  defence: string;
  epsilon?: string;
  targets?: string;
  seed?: string;
  plot?: string;
  json?: boolean;
  demo?: boolean;
}

function intOption(name: string, raw: string | undefined): number | undefined {
  return parseIntegerOption(name, raw);
}

function epsilonList(raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined) return fallback;
  return raw.split(",").map((s) => {
    const v = Number(s);
    if (s.trim() === "" || !Number.isFinite(v) || v <= 0)
      throw new DpError(
        "invalid_parameter",
        `\`--epsilon\` must be positive numbers separated by commas. Found ${JSON.stringify(raw)}.`,
        "epsilon",
      );
    return v;
  });
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Registers `dpkit linkage`. */
export function register(program: Command): void {
  program
    .command("linkage")
    .description("re-identify users of Netflix-like data from a few known ratings (Narayanan & Shmatikov 2008), with or without a defence")
    .option("--users <n>", "number of users (default 20000)")
    .option("--scale <f>", "fraction of the Netflix Prize's 480,189 users (instead of --users)")
    .option("--known <k>", "ratings the attacker knows (default: run the paper's scenarios)")
    .option("--wrong <w>", "of which completely wrong (default 0, or 2 when --known is 8)")
    .option("--date-error <d>", "dates known within ±d days, or 'none' (default 14)")
    .option("--rating-error <r>", "ratings known within ±r stars (default 0)")
    .option("--outside-top <n>", "only movies outside the n most rated are known")
    .option("--defence <kind>", "none | coarsen | ldp | aggregates", "none")
    .option("--epsilon <e>", "epsilon (ldp: per user record; aggregates: whole release); a comma list for a curve")
    .option("--targets <t>", "targets per scenario (default 200)")
    .option("--seed <s>", "simulation seed (default 1; the simulation's randomness is NOT private)")
    .option("--plot <file>", "write a chart (.svg or .png): the known-ratings curve, or the epsilon curve for ldp")
    .option("--json", "print one JSON object")
    .option("--demo", "the whole story: data, attack, naive fix, LDP records, DP aggregates (uses --users, --targets, --seed, --plot)")
    .action(async (opts: LinkageCliOptions) => {
      const defence = requireOneOf("--defence", opts.defence, DEFENCES) as Defence;
      if (opts.plot) checkOutputFile("--plot", opts.plot, [".svg", ".png"]); // before any work
      if (opts.demo) {
        const bar = new ProgressBar({ total: 100, label: "linkage demo" });
        const weights: Record<string, [number, number]> = {
          generate: [0, 25],
          reproduce: [25, 45],
          curve: [45, 55],
          naive: [55, 70],
          aggregates: [90, 100],
        };
        const result = runLinkageDemo({
          users: intOption("users", opts.users),
          targets: intOption("targets", opts.targets),
          seed: intOption("seed", opts.seed),
          onProgress: (stage, f) => {
            const [a, b] = weights[stage] ?? [70, 90];
            bar.update(Math.round(a + (b - a) * f), stage);
          },
        });
        bar.done();
        if (opts.plot) await savePlot(opts.plot, linkageKnownCurvePlot(result.knownCurve, result.users));
        if (opts.json) return printJson(result);
        process.stdout.write(renderLinkageDemo(result));
        if (opts.plot) process.stdout.write(`chart written to ${opts.plot}\n`);
        return;
      }
      if (opts.users !== undefined && opts.scale !== undefined) {
        throw new DpError("invalid_parameter", "Give either `--users` or `--scale`, not both.", "users");
      }
      const users = intOption("users", opts.users);
      const scale = parseNumberOption("scale", opts.scale);
      const seed = intOption("seed", opts.seed) ?? 1;
      const targets = intOption("targets", opts.targets) ?? 200;
      const known = intOption("known", opts.known);
      const wrong = intOption("wrong", opts.wrong) ?? ((known ?? 8) === 8 ? 2 : 0);
      const dateError = opts.dateError === "none" ? null : (intOption("date-error", opts.dateError) ?? 14);
      const ratingError = intOption("rating-error", opts.ratingError) ?? 0;
      const outsideTop = parseIntegerOption("outside-top", opts.outsideTop, 0);
      const rngFor = (k: number): SeededRng => new SeededRng(seed * 1009 + k);

      const bar = new ProgressBar({ total: 100, label: "linkage" });
      const data = generateNetflixLike({
        users: users ?? (scale === undefined ? 20_000 : undefined),
        scale,
        seed,
        onProgress: (f) => bar.update(Math.round(40 * f), "generating data"),
      });
      const out: Record<string, unknown> = { users: data.numUsers, ratings: data.movies.length, seed, defence, targets };
      const lines: string[] = [];
      const attackRow = (r: LinkageAttackResult): Cell[] => [
        pct(r.reidentificationRate),
        pct(r.falseMatchRate),
        pct(r.noMatchRate),
        pct(r.topScoreRate),
        r.msPerTarget,
      ];
      const attackHeader = ["re-identified", "false match", "no match", "top score", "ms/target"];
      const progress = (from: number, to: number) => (done: number, total: number) =>
        bar.update(Math.round(from + ((to - from) * done) / total), "attacking");
      const scenario = {
        known: known ?? 8,
        wrong,
        dateError,
        ratingError,
        excludedMovies: outsideTop ? topMoviesMask(data, outsideTop) : undefined,
      };
      const scenarioName = `${scenario.known} ratings (${scenario.wrong} wrong), ${dateError === null ? "no dates" : `dates ±${dateError} days`}${ratingError ? `, ratings ±${ratingError}` : ""}${outsideTop ? `, outside top ${outsideTop}` : ""}`;

      if (defence === "none") {
        const index = buildLinkageIndex(data);
        if (known === undefined) {
          const rows = PAPER_SCENARIOS.map((s, i) => {
            const { excludeTop, ...aux } = s.knowledge;
            const r = runLinkageAttack({
              original: data,
              index,
              targets,
              rng: rngFor(10 + i),
              ...aux,
              excludedMovies: excludeTop ? topMoviesMask(data, excludeTop) : undefined,
              onProgress: progress(40 + (50 * i) / PAPER_SCENARIOS.length, 40 + (50 * (i + 1)) / PAPER_SCENARIOS.length),
            });
            return { scenario: s.name, paper: s.paperRate, ...r };
          });
          out.reproduction = rows;
          lines.push(
            renderTable(
              ["scenario", "paper", ...attackHeader],
              rows.map((r) => [r.scenario, pct(r.paper), ...attackRow(r)]),
            ),
          );
        } else {
          const r = runLinkageAttack({ original: data, index, targets, rng: rngFor(10), ...scenario, onProgress: progress(40, 90) });
          out.scenario = scenarioName;
          out.result = r;
          lines.push(renderTable(["scenario", ...attackHeader], [[scenarioName, ...attackRow(r)]]));
        }
        if (opts.plot) {
          const ks = [1, 2, 3, 4, 6, 8, 10];
          const curve = ks.map((k, i) => ({
            known: k,
            ...runLinkageAttack({
              original: data,
              index,
              targets: Math.min(targets, 100),
              rng: rngFor(100 + k),
              known: k,
              dateError: 14,
              ratingError: 0,
              onProgress: progress(90 + i, 91 + i),
            }),
          }));
          out.knownCurve = curve;
          await savePlot(opts.plot, linkageKnownCurvePlot(curve, data.numUsers));
          lines.push(`chart written to ${opts.plot}`);
        }
      } else if (defence === "coarsen") {
        const rows: [string, LinkageAttackResult][] = [];
        const variants: [string, Parameters<typeof naiveAnonymisation>[1]][] = [
          ["ids removed only", { deleteFraction: 0, perturbFraction: 0, coarsenDates: false }],
          ["dates → months, 10% deleted, 20% ratings ±1", { deleteFraction: 0.1, perturbFraction: 0.2, coarsenDates: true }],
        ];
        variants.forEach(([name, o], i) => {
          const rel = naiveAnonymisation(data, { ...o, rng: rngFor(200 + i) });
          rows.push([
            name,
            runLinkageAttack({
              original: data,
              released: rel.released,
              releasedToOriginal: rel.releasedToOriginal,
              targets,
              rng: rngFor(10),
              ...scenario,
              onProgress: progress(40 + 30 * i, 70 + 30 * i),
            }),
          ]);
        });
        out.scenario = scenarioName;
        out.results = rows.map(([name, r]) => ({ release: name, ...r }));
        lines.push(`attacker: ${scenarioName}\n`);
        lines.push(
          renderTable(
            ["release", ...attackHeader],
            rows.map(([name, r]) => [name, ...attackRow(r)]),
          ),
        );
      } else if (defence === "ldp") {
        const eps = epsilonList(opts.epsilon, [10]);
        const rows = eps.map((epsilon, i) => {
          const rel = ldpRecordRelease(data, {
            epsilon,
            rng: rngFor(300 + i),
            allowInsecureRng: true,
            onProgress: (f) => bar.update(Math.round(40 + (50 * (i + f / 2)) / eps.length), `LDP release ε=${epsilon}`),
          });
          const r = runLinkageAttack({
            original: data,
            released: rel.released,
            releasedToOriginal: rel.releasedToOriginal,
            targets,
            rng: rngFor(10),
            ...scenario,
            onProgress: progress(40 + (50 * (i + 0.5)) / eps.length, 40 + (50 * (i + 1)) / eps.length),
          });
          return {
            epsilon: rel.epsilon,
            accountantEpsilon: rel.accountantEpsilon,
            targetDelta: rel.targetDelta,
            slots: rel.slots,
            movieMeanRmse: ldpMovieMeanRmse(data, rel),
            ...r,
          };
        });
        const globalMean = movieMeansFromCounts(exactRatingHistograms(data), data.numMovies, 0).globalMean;
        const reference = movieMeanRmse(new Float64Array(data.numMovies).fill(globalMean), data);
        out.scenario = scenarioName;
        out.results = rows;
        out.globalMeanRmse = reference;
        out.neighbouringRelation = "one user's whole record replaced by any other (local model)";
        lines.push(`attacker: ${scenarioName}; each user reports ${rows[0].slots} slots (movie k-RR, rating k-RR, date geometric)\n`);
        lines.push(
          renderTable(
            ["ε (pure, basic)", "ε (RDP, δ=1e-6)", ...attackHeader, "RMSE movie means"],
            rows.map((r) => [r.epsilon, r.accountantEpsilon, ...attackRow(r), r.movieMeanRmse]),
          ),
        );
        lines.push(`RMSE of predicting one global mean for every movie: ${reference.toFixed(3)} stars`);
        if (opts.plot) {
          await savePlot(
            opts.plot,
            linePlot({
              title: "LDP record release: linkage vs utility",
              xLabel: "epsilon per user record",
              yLabel: "rate / RMSE (stars)",
              logX: true,
              yMin: 0,
              series: [
                { name: "re-identified", x: rows.map((r) => r.epsilon), y: rows.map((r) => r.reidentificationRate), style: "both" },
                { name: "RMSE of movie means", x: rows.map((r) => r.epsilon), y: rows.map((r) => r.movieMeanRmse), style: "both" },
              ],
              hLines: [{ y: reference, label: "RMSE: one global mean" }],
            }),
          );
          lines.push(`chart written to ${opts.plot}`);
        }
      } else {
        const eps = epsilonList(opts.epsilon, [0.1, 1, 10]);
        const split = heldOutSplit(data, Math.min(20_000, data.numUsers), rngFor(600));
        const exact = movieMeansFromCounts(exactRatingHistograms(data, { exclude: split.mask }), data.numMovies, 25);
        const rows: Record<string, number | string>[] = [
          { release: "non-private", epsilon: "∞", ...baselineRecommenderRmse(data, split, exact) },
        ];
        eps.forEach((epsilon, i) => {
          const h = dpHistogramMeans(data, split, epsilon, 20, rngFor(700 + i));
          rows.push({ release: "DP histograms (≤20 ratings/user)", epsilon: h.epsilon, ...baselineRecommenderRmse(data, split, h.means) });
          bar.update(Math.round(40 + (60 * (i + 1)) / eps.length), "DP aggregates");
        });
        out.results = rows;
        out.note = "No per-user record is released: the linkage attack has nothing to link.";
        lines.push(
          "No per-user record is released: the linkage attack has nothing to link.\nHeld-out RMSE of baseline recommenders built from the released per-movie histograms:\n",
        );
        lines.push(
          renderTable(
            ["release", "ε", "global mean", "movie mean", "movie mean + user offset"],
            rows.map((r) => [r.release, r.epsilon, r.globalMean, r.movieMean, r.movieMeanPlusUserOffset]),
          ),
        );
      }
      bar.done();
      if (opts.json) return printJson(out);
      process.stdout.write(
        `Linkage attack on ${data.numUsers.toLocaleString("en-US")} generated users (${data.movies.length.toLocaleString("en-US")} ratings), ${targets} targets per row\n\n`,
      );
      process.stdout.write(lines.join("\n") + "\n");
    });
}
