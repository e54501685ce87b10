/**
 * Charts of the linkage demo (SVG strings via `dpkit/plot`).
 * @module
 */
import { linePlot } from "../plot/index.js";
import type { LinkageDemoResult } from "./linkage-demo.js";

/** One point of the known-ratings curve. */
export interface KnownCurvePoint {
  known: number;
  reidentificationRate: number;
  topScoreRate: number;
  falseMatchRate: number;
}

/**
 * Re-identification against the number of known ratings (the paper's curve), as SVG.
 * @param points - one point per number of known ratings
 * @param users - the number of users (for the title)
 * @returns an SVG string
 * @example
 * ```ts
 * import { linkageKnownCurvePlot, runLinkageDemo } from "dpkit/experiments";
 * const r = runLinkageDemo({ users: 2000, targets: 20 });
 * const svg = linkageKnownCurvePlot(r.knownCurve, r.users);
 * ```
 */
export function linkageKnownCurvePlot(points: KnownCurvePoint[], users: number): string {
  const known = points.map((p) => p.known);
  return linePlot({
    title: `Re-identification vs known ratings (${users.toLocaleString("en-US")} users, dates ±14 days)`,
    xLabel: "ratings known to the attacker",
    yLabel: "share of targets",
    yMin: 0,
    yMax: 1,
    series: [
      { name: "re-identified (eccentricity ≥ 1.5)", x: known, y: points.map((r) => r.reidentificationRate), style: "both" },
      { name: "target scores highest", x: known, y: points.map((r) => r.topScoreRate), style: "both", dashed: true },
      { name: "false match", x: known, y: points.map((r) => r.falseMatchRate), style: "both" },
    ],
  });
}

/**
 * Re-identification and utility against the LDP epsilon (per user record), as SVG.
 * @param result - the demo's result
 * @returns an SVG string
 */
export function linkageEpsilonPlot(result: LinkageDemoResult): string {
  const eps = result.ldp.map((r) => r.epsilon);
  return linePlot({
    title: "LDP record release: linkage vs utility",
    xLabel: "epsilon per user record (pure, basic composition)",
    yLabel: "rate / RMSE",
    logX: true,
    yMin: 0,
    series: [
      { name: "re-identified", x: eps, y: result.ldp.map((r) => r.reidentificationRate), style: "both" },
      { name: "false match", x: eps, y: result.ldp.map((r) => r.falseMatchRate), style: "both", dashed: true },
      { name: "RMSE of movie means (stars)", x: eps, y: result.ldp.map((r) => r.movieMeanRmse), style: "both" },
    ],
    hLines: [
      { y: result.ldpReference.globalMeanRmse, label: "RMSE: one global mean" },
      { y: result.reproduction[0].reidentificationRate, label: "re-identified, no defence" },
    ],
  });
}
