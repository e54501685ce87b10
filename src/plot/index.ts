/**
 * `dpkit/plot`: small, dependency-free SVG charts (lines, points, error bars) for the CLI,
 * notebooks and docs, and PNG output through resvg.
 * @module
 */
import { writeFileAtomic } from "../util/files.js";
import { DpError } from "../errors.js";

/** One series of a chart. */
export interface PlotSeries {
  /** Legend label. */
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Symmetric error bars (same length as y). */
  yError?: ArrayLike<number>;
  /** "line" (default), "points" or "both". */
  style?: "line" | "points" | "both";
  /** CSS colour; a palette colour by default. */
  color?: string;
  /** Dashed line. */
  dashed?: boolean;
}

/** Options for {@link linePlot}. */
export interface LinePlotOptions {
  series: PlotSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic x axis (all x > 0). */
  logX?: boolean;
  /** Logarithmic y axis (all y > 0). */
  logY?: boolean;
  /** Fix the y range. */
  yMin?: number;
  yMax?: number;
  /** Fix the x range. */
  xMin?: number;
  xMax?: number;
  width?: number;
  height?: number;
  /** Horizontal reference lines, e.g. a target epsilon. */
  hLines?: { y: number; label?: string }[];
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const span = hi - lo;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const norm = step0 / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

function fmt(t: number): string {
  const a = Math.abs(t);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return t.toExponential(0);
  return Number(t.toPrecision(4)).toString();
}

/**
 * Draws a line/point chart and returns it as an SVG string.
 * @example
 * ```ts
 * import { linePlot } from "dpkit/plot";
 * const svg = linePlot({ series: [{ name: "epsilon", x: [1, 2, 3], y: [0.5, 0.8, 1.1] }], xLabel: "epochs", yLabel: "epsilon" });
 * ```
 */
export function linePlot(options: LinePlotOptions): string {
  const W = options.width ?? 640;
  const H = options.height ?? 400;
  const m = { l: 70, r: 20, t: options.title ? 40 : 20, b: 55 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const tx = (v: number): number => (options.logX ? Math.log10(v) : v);
  const ty = (v: number): number => (options.logY ? Math.log10(v) : v);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of options.series) {
    if (s.x.length !== s.y.length) throw new DpError("invalid_parameter", `series "${s.name}": x and y lengths differ.`, "series");
    for (let i = 0; i < s.x.length; i++) {
      if (!Number.isFinite(s.x[i]) || !Number.isFinite(s.y[i])) continue;
      xs.push(tx(s.x[i]));
      const e = s.yError ? s.yError[i] : 0;
      ys.push(ty(s.y[i] - (options.logY ? 0 : e)), ty(s.y[i] + e));
    }
  }
  for (const h of options.hLines ?? []) ys.push(ty(h.y));
  let x0 = options.xMin !== undefined ? tx(options.xMin) : Math.min(...xs);
  let x1 = options.xMax !== undefined ? tx(options.xMax) : Math.max(...xs);
  let y0 = options.yMin !== undefined ? ty(options.yMin) : Math.min(...ys);
  let y1 = options.yMax !== undefined ? ty(options.yMax) : Math.max(...ys);
  if (!Number.isFinite(x0) || !Number.isFinite(x1)) [x0, x1] = [0, 1];
  if (!Number.isFinite(y0) || !Number.isFinite(y1)) [y0, y1] = [0, 1];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  if (options.yMin === undefined && !options.logY) y0 -= (y1 - y0) * 0.04;
  if (options.yMax === undefined) y1 += (y1 - y0) * 0.04;
  const px = (v: number): number => m.l + ((tx(v) - x0) / (x1 - x0)) * pw;
  const py = (v: number): number => m.t + ph - ((ty(v) - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (options.title) out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(options.title)}</text>`);
  // Axes and grid.
  const xt = options.logX
    ? niceTicks(Math.floor(x0), Math.ceil(x1), Math.min(8, Math.ceil(x1) - Math.floor(x0))).filter(
        (t) => Number.isInteger(t) && t >= x0 - 1e-9 && t <= x1 + 1e-9,
      )
    : niceTicks(x0, x1);
  const yt = options.logY
    ? niceTicks(Math.floor(y0), Math.ceil(y1)).filter((t) => Number.isInteger(t) && t >= y0 - 1e-9 && t <= y1 + 1e-9)
    : niceTicks(y0, y1);
  for (const t of xt) {
    const X = m.l + ((t - x0) / (x1 - x0)) * pw;
    out.push(`<line x1="${X}" y1="${m.t}" x2="${X}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(`<text x="${X}" y="${m.t + ph + 18}" text-anchor="middle">${options.logX ? fmt(10 ** t) : fmt(t)}</text>`);
  }
  for (const t of yt) {
    const Y = m.t + ph - ((t - y0) / (y1 - y0)) * ph;
    out.push(`<line x1="${m.l}" y1="${Y}" x2="${m.l + pw}" y2="${Y}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 8}" y="${Y + 4}" text-anchor="end">${options.logY ? fmt(10 ** t) : fmt(t)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  if (options.xLabel) out.push(`<text x="${m.l + pw / 2}" y="${H - 14}" text-anchor="middle" font-size="13">${esc(options.xLabel)}</text>`);
  if (options.yLabel)
    out.push(
      `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">${esc(options.yLabel)}</text>`,
    );
  for (const h of options.hLines ?? []) {
    const Y = py(h.y);
    out.push(`<line x1="${m.l}" y1="${Y}" x2="${m.l + pw}" y2="${Y}" stroke="#555" stroke-dasharray="6 4"/>`);
    if (h.label) out.push(`<text x="${m.l + pw - 4}" y="${Y - 4}" text-anchor="end" fill="#555">${esc(h.label)}</text>`);
  }
  // Series.
  out.push(`<g clip-path="url(#plotarea)">`);
  out.push(`<clipPath id="plotarea"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath>`);
  options.series.forEach((s, k) => {
    const c = s.color ?? PALETTE[k % PALETTE.length];
    const style = s.style ?? "line";
    const pts: string[] = [];
    for (let i = 0; i < s.x.length; i++) {
      if (!Number.isFinite(s.x[i]) || !Number.isFinite(s.y[i])) continue;
      if (options.logX && !(s.x[i] > 0)) continue;
      if (options.logY && !(s.y[i] > 0)) continue;
      pts.push(`${px(s.x[i]).toFixed(2)},${py(s.y[i]).toFixed(2)}`);
      if (s.yError) {
        const e = s.yError[i];
        const lo = options.logY ? Math.max(s.y[i] - e, s.y[i] * 1e-3) : s.y[i] - e;
        const X = px(s.x[i]);
        out.push(`<line x1="${X}" y1="${py(lo)}" x2="${X}" y2="${py(s.y[i] + e)}" stroke="${c}"/>`);
        out.push(
          `<line x1="${X - 3}" y1="${py(lo)}" x2="${X + 3}" y2="${py(lo)}" stroke="${c}"/><line x1="${X - 3}" y1="${py(s.y[i] + e)}" x2="${X + 3}" y2="${py(s.y[i] + e)}" stroke="${c}"/>`,
        );
      }
    }
    if (style !== "points" && pts.length > 1) {
      out.push(
        `<polyline points="${pts.join(" ")}" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
      );
    }
    if (style !== "line")
      for (const p of pts) {
        const [X, Y] = p.split(",");
        out.push(`<circle cx="${X}" cy="${Y}" r="3" fill="${c}"/>`);
      }
  });
  out.push(`</g>`);
  // Legend.
  options.series.forEach((s, k) => {
    const c = s.color ?? PALETTE[k % PALETTE.length];
    const Y = m.t + 14 + k * 18;
    out.push(
      `<line x1="${m.l + 10}" y1="${Y - 4}" x2="${m.l + 30}" y2="${Y - 4}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    out.push(`<text x="${m.l + 36}" y="${Y}">${esc(s.name)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n");
}

/** Renders an SVG string to PNG bytes (resvg; system fonts). */
export async function svgToPng(svg: string, width?: number): Promise<Uint8Array> {
  const { Resvg } = await import("@resvg/resvg-js");
  const r = new Resvg(svg, { fitTo: width ? { mode: "width", value: width } : { mode: "original" }, font: { loadSystemFonts: true } });
  return r.render().asPng();
}

/**
 * Writes a chart to `file`: `.svg` as is, `.png` rendered with resvg, through a temporary file
 * renamed into place.
 * @throws {@link DpError} `invalid_parameter` for another extension; `io_error` when it cannot be written
 */
export async function savePlot(file: string, svg: string): Promise<void> {
  let data: string | Uint8Array;
  if (file.toLowerCase().endsWith(".svg")) data = svg;
  else if (file.toLowerCase().endsWith(".png")) data = await svgToPng(svg);
  else throw new DpError("invalid_parameter", `\`plot\` must end in .svg or .png. Found ${JSON.stringify(file)}.`, "plot");
  writeFileAtomic("plot", file, data); // a failed write never leaves half a plot
}

export { DpError };
