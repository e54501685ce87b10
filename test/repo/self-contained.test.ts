// A fresh clone, alone, must pass `npm test`: no file in the repository may read (or point a
// reader at) the team's shared folder beside the clone. Reference data is vendored under
// test/fixtures/ with its provenance (test/fixtures/README.md). Guides under docs/ may mention the
// folder in prose; nothing else may.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// Built by concatenation so this file does not match itself.
const OUTSIDE = new RegExp(["\\.\\.", "shared"].join("[\\\\/]") + "|" + ["shared", "reference"].join("[\\\\/]"));

/** Lines of `text` that refer to the shared folder outside the repository. */
export function outsideReads(text: string): string[] {
  return text.split("\n").filter((line) => OUTSIDE.test(line));
}

function repositoryFiles(): string[] {
  // Tracked files and new files not yet committed (but not ignored ones such as node_modules).
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8" });
  return out.split("\0").filter((f) => f !== "");
}

describe("the repository is self-contained", () => {
  it("no file outside docs/ reads or names the shared folder beside the clone", () => {
    const offenders: string[] = [];
    for (const file of repositoryFiles()) {
      if (file.startsWith("docs/")) continue;
      const full = path.join(root, file);
      if (!existsSync(full) || !statSync(full).isFile()) continue;
      if (statSync(full).size > 5_000_000) continue;
      for (const line of outsideReads(readFileSync(full, "utf8"))) offenders.push(`${file}: ${line.trim()}`);
    }
    expect(offenders).toEqual([]);
  });

  it("the vendored reference vectors are in the repository", () => {
    const ref = JSON.parse(readFileSync(path.join(root, "test/fixtures/accounting_vectors.json"), "utf8"));
    expect(ref.schema).toBe("dp-accounting-reference-vectors/v1");
    expect(Object.keys(ref.sections).length).toBeGreaterThan(5);
  });

  it("negative control: the scanner flags the reads that broke a fresh clone", () => {
    const bad = [
      'const p = path.resolve(root, "' + ".." + "/shared/" + 'reference/accounting_vectors.json");',
      "readFileSync('..\\" + "shared\\x.json')",
    ];
    for (const line of bad) expect(outsideReads(line)).toEqual([line]);
    expect(outsideReads('path.resolve(here, "../fixtures/accounting_vectors.json")')).toEqual([]);
  });
});
