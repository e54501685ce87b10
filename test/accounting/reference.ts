// Loads ../shared/reference/accounting_vectors.json (relative to the repository root; CI keeps a
// copy of shared/ beside the clone at the same relative place).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const referencePath = path.resolve(root, "../shared/reference/accounting_vectors.json");

/** Decodes the file's "Infinity"/"NaN" strings. */
export function num(x: unknown): number {
  if (x === "Infinity") return Infinity;
  if (x === "-Infinity") return -Infinity;
  if (x === "NaN") return NaN;
  return x as number;
}

export const reference: any = JSON.parse(readFileSync(referencePath, "utf8"));
export const sections = reference.sections;
