// Loads test/fixtures/accounting_vectors.json: dp_accounting 0.6.0 reference values, vendored with
// their provenance (test/fixtures/README.md).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const referencePath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/accounting_vectors.json");

/** Decodes the file's "Infinity"/"NaN" strings. */
export function num(x: unknown): number {
  if (x === "Infinity") return Infinity;
  if (x === "-Infinity") return -Infinity;
  if (x === "NaN") return NaN;
  return x as number;
}

export const reference: any = JSON.parse(readFileSync(referencePath, "utf8"));
export const sections = reference.sections;
