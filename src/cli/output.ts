/**
 * Shared CLI output helpers: aligned tables for people, one JSON object for machines.
 * @module
 */

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
  const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c, digits) : c === null || c === undefined ? "-" : String(c))));
  const widths = header.map((h, j) => Math.max(h.length, ...cells.map((r) => (r[j] ?? "").length)));
  const line = (r: string[]): string => r.map((c, j) => (c ?? "").padStart(widths[j])).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n") + "\n";
}

/** Writes one JSON object (and a newline) to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) + "\n");
}

/** Parses a numeric CLI option, naming it in the error. */
export function parseNumberOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === "" || Number.isNaN(v)) throw new Error(`--${name} must be a number. Found ${JSON.stringify(raw)}.`);
  return v;
}
