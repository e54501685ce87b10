/**
 * Builds dist/ (tsc -p tsconfig.build.json) when it is missing or older than src/. Used by what
 * consumes the package as a user would, through its `exports`: the notebooks (Deno resolves
 * `dpkit/…` to dist/) and the browser-bundle test.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Rebuilds dist/ if src/ changed since the last build. */
export function ensureBuilt(): void {
  const dist = path.join(root, "dist");
  if (existsSync(path.join(dist, "index.js")) && newestMtime(dist) >= newestMtime(path.join(root, "src"))) return;
  const tsc = path.join(root, "node_modules/typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building dist/ failed:\n${r.stdout}${r.stderr}`);
}
