/**
 * Builds dist/ (tsc -p tsconfig.build.json) when it is missing or older than src/. Used by what
 * consumes the package as a user would, through its `exports`: the notebooks (Deno resolves
 * `dpkit/…` to dist/) and the browser-bundle test.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
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

function stale(dist: string): boolean {
  return !existsSync(path.join(dist, "index.js")) || newestMtime(dist) < newestMtime(path.join(root, "src"));
}

/**
 * Rebuilds dist/ if src/ changed since the last build. Test files running in parallel may call
 * it at once: a lock folder makes one of them build while the others wait (at most 5 minutes;
 * a lock older than that is left over from a killed run and is taken over).
 */
export function ensureBuilt(): void {
  const dist = path.join(root, "dist");
  if (!stale(dist)) return;
  const lock = path.join(root, "node_modules/.cache/dpkit-build.lock");
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited 5 minutes for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    if (!stale(dist)) return;
    const tsc = path.join(root, "node_modules/typescript/bin/tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building dist/ failed:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
