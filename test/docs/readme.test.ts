import { describe, expect, it } from "vitest";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { projectRoot } from "../helpers/cli.js";

// Every ```ts block of the README is a program that must run as written (imports of "dpkit" and
// "dpkit/<area>" resolve to the sources through tsconfig paths).
const readme = readFileSync(path.join(projectRoot, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

describe("README examples run", () => {
  it("has examples", () => expect(blocks.length).toBeGreaterThan(3));
  blocks.forEach((code, i) => {
    const title =
      code
        .split("\n")
        .find((l) => l.startsWith("import"))
        ?.slice(0, 70) ?? `block ${i}`;
    it(`block ${i}: ${title}`, () => {
      const dir = path.join(projectRoot, "test/docs/.run");
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `readme-${i}.mts`);
      writeFileSync(file, code);
      const r = spawnSync(process.execPath, ["--import", "tsx", file], {
        cwd: projectRoot,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, TSX_TSCONFIG_PATH: path.join(projectRoot, "tsconfig.json") },
      });
      rmSync(file, { force: true });
      expect(
        r.stderr
          .split("\n")
          .filter((l) => !l.startsWith("dpkit: tfjs backend"))
          .join("\n")
          .trim(),
      ).toBe("");
      expect(r.status).toBe(0);
    });
  });
});
