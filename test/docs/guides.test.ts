import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { projectRoot } from "../helpers/cli.js";

// Every ```ts block of every guide in docs/ is a program that must run as written, like the
// README's (test/docs/readme.test.ts): imports of "dpkit/<area>" resolve to the sources through
// tsconfig paths; each block runs alone, in a fresh temporary working folder.
//
// A block may carry one marker after `ts`, and only the blocks listed here may:
//   long    runs only with DPKIT_DOCS_LONG=1 (a full-size training run, minutes on two cores)
//   no-run  never runs (illustrative only)
const MARKED: Record<string, { marker: "long" | "no-run"; why: string }> = {
  "dpsgd.md#0": { marker: "long", why: "DP-SGD on all 60,000 MNIST images for 10 epochs (about 3 minutes)" },
};

interface Block {
  id: string;
  marker: string;
  code: string;
}

function blocksOf(file: string): Block[] {
  const text = readFileSync(path.join(projectRoot, "docs", file), "utf8");
  return [...text.matchAll(/^```ts([^\n]*)\n([\s\S]*?)^```/gm)].map((m, i) => ({ id: `${file}#${i}`, marker: m[1].trim(), code: m[2] }));
}

const guides = readdirSync(path.join(projectRoot, "docs"))
  .filter((f) => f.endsWith(".md"))
  .sort();
const blocks = guides.flatMap(blocksOf);

/** Runs one block; returns stderr (backend announcements removed) and the exit status. */
export function runBlock(id: string, code: string): { status: number | null; stderr: string; stdout: string } {
  const dir = path.join(projectRoot, "test/docs/.run");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${id.replace(/[^a-z0-9]+/gi, "-")}-${process.pid}.mts`);
  writeFileSync(file, code);
  const cwd = mkdtempSync(path.join(os.tmpdir(), "dpkit-doc-"));
  try {
    const r = spawnSync(process.execPath, ["--import", import.meta.resolve("tsx"), file], {
      cwd,
      encoding: "utf8",
      timeout: 600_000,
      env: { ...process.env, TSX_TSCONFIG_PATH: path.join(projectRoot, "tsconfig.json") },
    });
    const stderr = (r.stderr ?? "")
      .split("\n")
      .filter((l) => !l.startsWith("dpkit: tfjs backend"))
      .join("\n")
      .trim();
    return { status: r.status, stderr, stdout: r.stdout ?? "" };
  } finally {
    rmSync(file, { force: true });
    rmSync(cwd, { recursive: true, force: true });
  }
}

describe("guide examples run", () => {
  it("the guides have examples, and only the listed blocks are marked", () => {
    expect(blocks.length).toBeGreaterThan(8);
    const marked = Object.fromEntries(blocks.filter((b) => b.marker !== "").map((b) => [b.id, b.marker]));
    expect(marked).toEqual(Object.fromEntries(Object.entries(MARKED).map(([id, m]) => [id, m.marker])));
  });

  for (const block of blocks) {
    const long = block.marker === "long" && process.env.DPKIT_DOCS_LONG !== "1";
    const title = `${block.id}: ${
      block.code
        .split("\n")
        .find((l) => l.trim() !== "")
        ?.slice(0, 60) ?? ""
    }`;
    it.skipIf(block.marker === "no-run" || long)(
      title,
      () => {
        const r = runBlock(block.id, block.code);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
      },
      600_000,
    );
  }

  it("control: a block using an undefined name (the old docs/dpsgd.md §2) fails", () => {
    const r = runBlock(
      "control",
      'import { RdpAccountant } from "dpkit/accounting";\nnew RdpAccountant();\nconst N = x.shape[0];\nconsole.log(N);\n',
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/x is not defined/);
  });
});
