/**
 * The CSV files of the reference RAPPOR pipeline (google/rappor), read and written:
 *
 * - params: header `k,h,m,p,q,f`, one row of values;
 * - reports: header `client,cohort,bloom,prr,irr` (bit strings most significant bit first;
 *   `bloom` and `prr` may be absent or empty — only simulations know them);
 * - counts: one row per cohort, no header: the number of reports, then the k bit sums, bit 0 first;
 * - map: one row per candidate, no header: the candidate, then for each cohort and hash the
 *   1-based bit index offset by `cohort * k`.
 *
 * @see https://github.com/google/rappor/tree/master/analysis/tools
 * @module
 */
import { DpError } from "../../errors.js";
import type { RapporCounts, RapporMap } from "./aggregate.js";
import { parseRapporBitString, rapporBitString } from "./hashing.js";
import { requireCandidateCount, validateRapporParams, type RapporParams } from "./params.js";

/** Splits CSV text into rows of fields (RFC 4180 quoting, CRLF or LF; blank lines skipped). */
export function parseRapporCsvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const n = text.length;
  const endRow = (): void => {
    row.push(field);
    if (!(row.length === 1 && row[0] === "")) rows.push(row);
    row = [];
    field = "";
  };
  while (i < n) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === "") {
      quoted = true;
      i++;
    } else if (ch === ",") {
      row.push(field);
      field = "";
      i++;
    } else if (ch === "\n" || ch === "\r") {
      endRow();
      if (ch === "\r" && text[i + 1] === "\n") i++;
      i++;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== "" || row.length > 0) endRow();
  return rows;
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function bad(file: string, message: string): never {
  throw new DpError("invalid_parameter", `\`${file}\`: ${message}`, file);
}

function parseNumberField(file: string, raw: string, row: number, col: number): number {
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v))
    bad(file, `row ${row + 1}, column ${col + 1} must be a number. Found ${JSON.stringify(raw)}.`);
  return v;
}

/**
 * Reads a params CSV (`k,h,m,p,q,f`) and validates it.
 * @param text - the file's contents
 * @returns the parameters
 * @throws {@link DpError} `invalid_parameter` for a bad header, row or setting
 * @example
 * ```ts
 * import { parseRapporParamsCsv } from "dpkit/ldp";
 * parseRapporParamsCsv("k,h,m,p,q,f\n16,2,64,0.5,0.75,0.5\n");
 * ```
 */
export function parseRapporParamsCsv(text: string): RapporParams {
  const rows = parseRapporCsvRows(text);
  if (rows.length !== 2) bad("params", `expected a header and one row. Found ${rows.length} rows.`);
  if (rows[0].map((s) => s.trim()).join(",") !== "k,h,m,p,q,f") bad("params", `header must be k,h,m,p,q,f. Found ${rows[0].join(",")}.`);
  if (rows[1].length !== 6) bad("params", `row 2 must have 6 values. Found ${rows[1].length}.`);
  const v = rows[1].map((s, j) => parseNumberField("params", s, 1, j));
  return validateRapporParams({ numBits: v[0], numHashes: v[1], numCohorts: v[2], probIrr0: v[3], probIrr1: v[4], probPrr: v[5] });
}

/**
 * Writes a params CSV (`k,h,m,p,q,f`).
 * @example
 * ```ts
 * import { formatRapporParamsCsv, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * formatRapporParamsCsv(DEFAULT_RAPPOR_PARAMS); // "k,h,m,p,q,f\n16,2,64,0.5,0.75,0.5\n"
 * ```
 */
export function formatRapporParamsCsv(params: RapporParams): string {
  const p = validateRapporParams(params);
  return `k,h,m,p,q,f\n${p.numBits},${p.numHashes},${p.numCohorts},${p.probIrr0},${p.probIrr1},${p.probPrr}\n`;
}

/** One row of a reports CSV. */
export interface RapporReportRow {
  /** Client identifier (free text). */
  client: string;
  /** Cohort. */
  cohort: number;
  /** Bloom filter, when known (simulations only). */
  bloom?: number;
  /** PRR, when known (simulations only). */
  prr?: number;
  /** Reported bits. */
  irr: number;
}

/**
 * Reads a reports CSV (header `client,cohort,bloom,prr,irr`, or any header naming `cohort` and
 * `irr`; bit strings most significant bit first).
 * @param text - the file's contents
 * @param params - RAPPOR parameters (k gives the bit-string length, m the cohort range)
 * @returns the rows
 * @throws {@link DpError} `invalid_parameter` naming the row and column of a bad field
 * @example
 * ```ts
 * import { parseRapporReportsCsv, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * parseRapporReportsCsv("client,cohort,bloom,prr,irr\nc1,3,,,0000000000000101\n", DEFAULT_RAPPOR_PARAMS);
 * ```
 */
export function parseRapporReportsCsv(text: string, params: RapporParams): RapporReportRow[] {
  const { numBits: k, numCohorts: m } = validateRapporParams(params);
  const rows = parseRapporCsvRows(text);
  if (rows.length === 0) bad("reports", "the file is empty (expected a header).");
  const header = rows[0].map((s) => s.trim());
  const col = (name: string): number => header.indexOf(name);
  const ci = col("cohort");
  const ii = col("irr");
  if (ci < 0 || ii < 0) bad("reports", `header must name cohort and irr (e.g. client,cohort,bloom,prr,irr). Found ${header.join(",")}.`);
  const cl = col("client");
  const bl = col("bloom");
  const pr = col("prr");
  const out: RapporReportRow[] = [];
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r];
    if (row.length !== header.length) bad("reports", `row ${r + 1} has ${row.length} fields; the header has ${header.length}.`);
    const cohort = parseNumberField("reports", row[ci], r, ci);
    if (!(Number.isInteger(cohort) && cohort >= 0 && cohort < m))
      bad("reports", `row ${r + 1}: cohort must be an integer in [0, ${m - 1}]. Found ${row[ci]}.`);
    const rep: RapporReportRow = {
      client: cl >= 0 ? row[cl] : String(r),
      cohort,
      irr: parseRapporBitString(row[ii].trim(), k, `reports row ${r + 1} irr`),
    };
    if (bl >= 0 && row[bl].trim() !== "") rep.bloom = parseRapporBitString(row[bl].trim(), k, `reports row ${r + 1} bloom`);
    if (pr >= 0 && row[pr].trim() !== "") rep.prr = parseRapporBitString(row[pr].trim(), k, `reports row ${r + 1} prr`);
    out.push(rep);
  }
  return out;
}

/**
 * Writes a reports CSV with header `client,cohort,bloom,prr,irr` (empty bloom/prr when unknown).
 * @param rows - the reports
 * @param numBits - k
 * @example
 * ```ts
 * import { formatRapporReportsCsv } from "dpkit/ldp";
 * formatRapporReportsCsv([{ client: "c1", cohort: 3, irr: 5 }], 16);
 * ```
 */
export function formatRapporReportsCsv(rows: readonly RapporReportRow[], numBits: number): string {
  const lines = ["client,cohort,bloom,prr,irr"];
  for (const r of rows) {
    lines.push(
      [
        csvField(r.client),
        String(r.cohort),
        r.bloom === undefined ? "" : rapporBitString(r.bloom, numBits),
        r.prr === undefined ? "" : rapporBitString(r.prr, numBits),
        rapporBitString(r.irr, numBits),
      ].join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Reads a counts CSV: m rows, each the number of reports then k bit sums (bit 0 first).
 * @param text - the file's contents
 * @param params - RAPPOR parameters (k and m are checked against the file)
 * @returns the counts
 * @throws {@link DpError} `invalid_parameter` for a wrong shape or a bad number
 * @example
 * ```ts
 * import { parseRapporCountsCsv } from "dpkit/ldp";
 * const counts = parseRapporCountsCsv("10,3,4\n5,1,0\n", { numBits: 2, numHashes: 1, numCohorts: 2, probPrr: 0.5, probIrr0: 0.5, probIrr1: 0.75 });
 * ```
 */
export function parseRapporCountsCsv(text: string, params: RapporParams): RapporCounts {
  const { numBits: k, numCohorts: m } = validateRapporParams(params);
  const rows = parseRapporCsvRows(text);
  if (rows.length !== m) bad("counts", `expected one row per cohort (m = ${m}). Found ${rows.length} rows.`);
  const counts: RapporCounts = { numCohorts: m, numBits: k, reports: new Float64Array(m), bitSums: new Float64Array(m * k) };
  for (let c = 0; c < m; c++) {
    const row = rows[c];
    if (row.length !== k + 1) bad("counts", `row ${c + 1} must have k + 1 = ${k + 1} values. Found ${row.length}.`);
    const n = parseNumberField("counts", row[0], c, 0);
    // Report counts are real client counts: at most 2^53 - 1 (beyond, sums lose integers).
    if (!(Number.isSafeInteger(n) && n >= 0))
      bad("counts", `row ${c + 1}: the number of reports must be an integer in [0, 2^53 - 1]. Found ${row[0]}.`);
    counts.reports[c] = n;
    for (let i = 0; i < k; i++) {
      const v = parseNumberField("counts", row[i + 1], c, i + 1);
      if (!(Number.isInteger(v) && v >= 0 && v <= n))
        bad("counts", `row ${c + 1}, column ${i + 2}: a bit sum must be an integer in [0, ${n}]. Found ${row[i + 1]}.`);
      counts.bitSums[c * k + i] = v;
    }
  }
  return counts;
}

/**
 * Writes a counts CSV (no header; per cohort: number of reports, then k bit sums, bit 0 first).
 * @example
 * ```ts
 * import { formatRapporCountsCsv, sumRapporBits, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * formatRapporCountsCsv(sumRapporBits([], DEFAULT_RAPPOR_PARAMS));
 * ```
 */
export function formatRapporCountsCsv(counts: RapporCounts): string {
  const { numCohorts: m, numBits: k } = counts;
  const lines: string[] = [];
  for (let c = 0; c < m; c++) {
    const row = [counts.reports[c]];
    for (let i = 0; i < k; i++) row.push(counts.bitSums[c * k + i]);
    lines.push(row.join(","));
  }
  return lines.join("\n") + "\n";
}

/**
 * Reads a map CSV: per candidate, the string then m·h global 1-based bit indices
 * (`cohort * k + bit + 1`, cohorts in order, h per cohort).
 * @param text - the file's contents
 * @param params - RAPPOR parameters
 * @returns the map
 * @throws {@link DpError} `invalid_parameter` for a wrong shape or an index outside its cohort
 * @example
 * ```ts
 * import { parseRapporMapCsv } from "dpkit/ldp";
 * parseRapporMapCsv("a,2,4\n", { numBits: 2, numHashes: 1, numCohorts: 2, probPrr: 0.5, probIrr0: 0.5, probIrr1: 0.75 });
 * ```
 */
export function parseRapporMapCsv(text: string, params: RapporParams): RapporMap {
  const { numBits: k, numHashes: h, numCohorts: m } = validateRapporParams(params);
  const rows = parseRapporCsvRows(text);
  requireCandidateCount("map", rows.length);
  const bits = new Int32Array(rows.length * m * h);
  const candidates: string[] = [];
  const seen = new Set<string>();
  rows.forEach((row, j) => {
    if (row.length !== 1 + m * h) bad("map", `row ${j + 1} must have 1 + m*h = ${1 + m * h} fields. Found ${row.length}.`);
    const s = row[0];
    if (seen.has(s)) bad("map", `candidate ${JSON.stringify(s)} appears twice.`);
    seen.add(s);
    candidates.push(s);
    for (let c = 0; c < m; c++) {
      for (let i = 0; i < h; i++) {
        const col = 1 + c * h + i;
        const g = parseNumberField("map", row[col], j, col);
        const bit = g - 1 - c * k;
        if (!(Number.isInteger(bit) && bit >= 0 && bit < k)) {
          bad(
            "map",
            `row ${j + 1}, column ${col + 1}: index ${row[col]} is not a bit of cohort ${c} (expected ${c * k + 1} … ${c * k + k}).`,
          );
        }
        bits[(j * m + c) * h + i] = bit;
      }
    }
  });
  return { candidates, numCohorts: m, numHashes: h, numBits: k, bits };
}

/**
 * Writes a map CSV (the reference's `hash_candidates.py` output).
 * @example
 * ```ts
 * import { formatRapporMapCsv, hashRapporCandidates, DEFAULT_RAPPOR_PARAMS } from "dpkit/ldp";
 * formatRapporMapCsv(hashRapporCandidates(["a"], DEFAULT_RAPPOR_PARAMS));
 * ```
 */
export function formatRapporMapCsv(map: RapporMap): string {
  const { numCohorts: m, numHashes: h, numBits: k } = map;
  const lines: string[] = [];
  map.candidates.forEach((s, j) => {
    const row = [csvField(s)];
    for (let c = 0; c < m; c++) for (let i = 0; i < h; i++) row.push(String(c * k + map.bits[(j * m + c) * h + i] + 1));
    lines.push(row.join(","));
  });
  return lines.join("\n") + "\n";
}
