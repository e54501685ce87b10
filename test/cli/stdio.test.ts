import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

// Issue 12, defect 9: a broken or full stdout printed a raw stack trace. A closed pipe (EPIPE,
// `| head -1`) now ends dpkit quietly with code 0; a full device (ENOSPC, /dev/full) gives one
// line and code 2. Real child processes and real pipes: these are properties of the process.
const dpkit = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(path.join(projectRoot, "scripts/dpkit.ts"))}`;

function bash(script: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync("bash", ["-c", script], { cwd: projectRoot, encoding: "utf8", timeout: 120_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe("dpkit on a broken or full stdout", () => {
  it("EPIPE: `seq 1 50000 | dpkit rappor encode | head -1` exits 0 with nothing on stderr", () => {
    // dpkit's stderr goes to a temp file, replayed on ours; the script exits with dpkit's code.
    const r = bash(
      `err=$(mktemp); seq 1 50000 | ${dpkit} rappor encode 2>"$err" | head -1; rc=\${PIPESTATUS[1]}; cat "$err" >&2; rm -f "$err"; exit $rc`,
    );
    expect(r.stdout.trim().split("\n")[0]).toBe("client,cohort,bloom,prr,irr");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 120_000);

  it.skipIf(!existsSync("/dev/full"))(
    "ENOSPC: `dpkit rappor privacy > /dev/full` prints one line and exits 2",
    () => {
      const r = bash(`${dpkit} rappor privacy > /dev/full`);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^dpkit: cannot write to stdout: no space left on the device \(ENOSPC\)/);
    },
    120_000,
  );
});
