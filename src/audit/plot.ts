/**
 * ROC curves on log–log axes (the reading Carlini et al. 2022 recommend: what matters is the
 * TPR at low FPR), drawn with `dpkit/plot`.
 * @module
 */
import { linePlot, type PlotSeries } from "../plot/index.js";
import { DpError } from "../errors.js";
import type { RocCurve } from "./roc.js";

/** Options for {@link rocPlot}. */
export interface RocPlotOptions {
  /** Named curves, e.g. one per attack. */
  curves: { name: string; roc: RocCurve }[];
  /** Chart title. */
  title?: string;
  /** Log axes (default true); the smallest plotted rate is 1 / (number of scores). */
  log?: boolean;
}

/**
 * An SVG chart of ROC curves with the chance diagonal, on log–log axes by default.
 *
 * @param o - curves, title, log axes
 * @returns the SVG text (write it with `savePlot` from `dpkit/plot`)
 * @throws {@link DpError} `invalid_parameter` for no curves
 * @example
 * ```ts
 * import { rocCurve, rocPlot } from "dpkit/audit";
 * const svg = rocPlot({ curves: [{ name: "loss", roc: rocCurve([0.9, 0.8, 0.3], [0.1, 0.4, 0.2]) }] });
 * ```
 * @see https://arxiv.org/abs/2112.03570
 */
export function rocPlot(o: RocPlotOptions): string {
  if (!o.curves || o.curves.length === 0) throw new DpError("invalid_parameter", "`curves` must hold at least one ROC curve.", "curves");
  const log = o.log ?? true;
  let floor = 1;
  for (const c of o.curves) floor = Math.min(floor, 1 / Math.max(c.roc.negatives, c.roc.positives));
  const series: PlotSeries[] = o.curves.map((c) => {
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < c.roc.fpr.length; i++) {
      const fx = log ? Math.max(c.roc.fpr[i], floor) : c.roc.fpr[i];
      const fy = log ? Math.max(c.roc.tpr[i], floor) : c.roc.tpr[i];
      // Thin long curves: keep a point when x or y moves by >= 2% (log axes) or 0.002.
      const last = x.length - 1;
      const close = log ? fx / x[last] < 1.02 && fy / y[last] < 1.02 : fx - x[last] < 2e-3 && Math.abs(fy - y[last]) < 2e-3;
      if (last >= 0 && i < c.roc.fpr.length - 1 && close) continue;
      x.push(fx);
      y.push(fy);
    }
    return { name: c.name, x, y };
  });
  series.push({ name: "chance", x: [floor, 1], y: [floor, 1], dashed: true, color: "#7f7f7f" });
  return linePlot({
    series,
    title: o.title ?? "Membership inference ROC",
    xLabel: "false positive rate",
    yLabel: "true positive rate",
    logX: log,
    logY: log,
    xMin: log ? floor : 0,
    xMax: 1,
    yMin: log ? floor : 0,
    yMax: 1,
  });
}
