// Errors stay readable once the wasm backend is loaded. tfjs-backend-wasm's emscripten glue
// installs process-wide `uncaughtException` and `unhandledRejection` handlers that re-throw: node
// then printed ~38 KB of minified glue before the user's message and exited with code 7 (an
// exception inside an exception handler). prepareBackend() removes them after initialising wasm;
// an uncaught error must then look as it does in plain node: its message, a short stderr, exit 1.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

function run(name: string, code: string): { status: number | null; stderr: string } {
  const dir = path.join(projectRoot, "test/docs/.run");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, code);
  const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: projectRoot, encoding: "utf8", timeout: 60_000 });
  rmSync(file, { force: true });
  return { status: r.status, stderr: r.stderr };
}

const failures: Record<string, string> = {
  "top-level throw": `throw new Error("user boom 1");`,
  "throw in a timer": `setTimeout(() => { throw new Error("user boom 2"); }, 1);`,
  "unhandled rejection": `Promise.reject(new Error("user boom 3"));`,
};

const prepare = `import { prepareBackend } from "${projectRoot}/src/backend/index.js";
const info = await prepareBackend({ backend: "wasm", announce: false });
if (info.name !== "wasm") throw new Error("not wasm");
`;

describe("uncaught errors after prepareBackend() picked wasm", () => {
  Object.entries(failures).forEach(([what, code], i) => {
    it(`${what}: message visible, stderr short, exit code 1 as in plain node`, () => {
      const plain = run(`plain-${i}.mts`, code);
      const wasm = run(`wasm-${i}.mts`, prepare + code);
      expect(plain.status).toBe(1);
      expect(plain.stderr).toContain(`user boom ${i + 1}`);
      expect(wasm.stderr.length, wasm.stderr.slice(0, 300)).toBeLessThan(plain.stderr.length + 2000);
      expect(wasm.stderr).toContain(`user boom ${i + 1}`);
      expect(wasm.stderr).not.toContain("WasmBackendModule");
      expect(wasm.status).toBe(1);
    });
  });

  it("the user's handlers survive tf.removeBackend(\"wasm\") (the glue's dispose removed them all)", () => {
    const r = run(
      "wasm-dispose.mts",
      `import * as tf from "@tensorflow/tfjs";\nconst mine = () => {};\nprocess.on("uncaughtException", mine);\n` +
        prepare +
        `tf.removeBackend("wasm");\nconsole.error(process.listeners("uncaughtException").includes(mine) ? "kept" : "lost");`,
    );
    expect(r.stderr.trim()).toBe("kept");
    expect(r.status).toBe(0);
  });

  it("the user's own handlers still run", () => {
    const r = run(
      "wasm-handler.mts",
      prepare +
        `process.on("uncaughtException", (e) => { console.error("handled: " + e.message); process.exit(3); });\nsetTimeout(() => { throw new Error("mine"); }, 1);`,
    );
    expect(r.stderr.trim()).toBe("handled: mine");
    expect(r.status).toBe(3);
  });
});
