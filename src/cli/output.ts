/**
 * Shared CLI output helpers: aligned tables for people, one JSON object for machines.
 * @module
 */
import { DpError, requireInteger } from "../errors.js";

/** A table cell: numbers are formatted with `digits` significant digits. */
export type Cell = string | number | boolean | null | undefined;

/** Formats a number for a table: fixed significant digits, integers as they are. */
export function formatNumber(x: number, digits = 4): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toString();
}

/** Renders rows as an aligned text table with a header line. */
export function renderTable(header: string[], rows: Cell[][], digits = 4): string {
  const cells = rows.map((r) =>
    r.map((c) => (typeof c === "number" ? formatNumber(c, digits) : c === null || c === undefined ? "-" : String(c))),
  );
  const widths = header.map((h, j) => Math.max(h.length, ...cells.map((r) => (r[j] ?? "").length)));
  const line = (r: string[]): string =>
    r
      .map((c, j) => (c ?? "").padStart(widths[j]))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n") + "\n";
}

/** Writes one JSON object (and a newline) to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) + "\n");
}

/** A decimal number as people type it: no hex, octal, binary, separators or trailing text. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses a numeric CLI option, naming it in the error. Accepts decimal notation and
 * `Infinity`/`-Infinity` (which the library then refuses where it must); refuses "", "abc",
 * "NaN", "0x10" and trailing text with a `DpError`, so the CLI exits with code 2.
 */
export function parseNumberOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim();
  const label = name.startsWith("-") || name.includes(" ") ? name : `--${name}`;
  if (!(DECIMAL.test(t) || /^[+-]?Infinity$/.test(t))) {
    throw new DpError("invalid_parameter", `\`${label}\` must be a decimal number. Found ${JSON.stringify(raw)}.`, label);
  }
  return Number(t);
}

/** Parses an integer CLI option (a safe integer, at least `min` when given). */
export function parseIntegerOption(name: string, raw: string, min?: number): number;
export function parseIntegerOption(name: string, raw: string | undefined, min?: number): number | undefined;
export function parseIntegerOption(name: string, raw: string | undefined, min?: number): number | undefined {
  const v = parseNumberOption(name, raw);
  if (v === undefined) return undefined;
  const label = name.startsWith("-") ? name : `--${name}`;
  return requireInteger(label, v, min === undefined ? {} : { min });
}
