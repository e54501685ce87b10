// Loads test/fixtures/accounting_vectors.json (dp_accounting reference values; provenance in
// test/fixtures/README.md).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const referencePath = path.resolve(root, "test/fixtures/accounting_vectors.json");

/** Decodes the file's "Infinity"/"NaN" strings. */
export function num(x: unknown): number {
  if (x === "Infinity") return Infinity;
  if (x === "-Infinity") return -Infinity;
  if (x === "NaN") return NaN;
  return x as number;
}

export const reference: any = JSON.parse(readFileSync(referencePath, "utf8"));
export const sections = reference.sections;
