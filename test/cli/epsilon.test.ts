import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { runCli } from "../helpers/cli.js";

/** Runs the CLI in-process (fast), capturing stderr. */
async function runInProcess(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = "";
  let stdout = "";
  const spyErr = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => {
    stderr += String(chunk);
    return true;
  });
  const spyOut = vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => {
    stdout += String(chunk);
    return true;
  });
  try {
    const code = await main(["node", "dpkit", ...args]);
    return { code, stderr, stdout };
  } finally {
    spyErr.mockRestore();
    spyOut.mockRestore();
  }
}

const dir = mkdtempSync(path.join(tmpdir(), "dpkit-eps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("dpkit epsilon", () => {
  it("--json: the MNIST tutorial setting from the epochs form (rdp, with the order)", () => {
    const r = runCli([
      "epsilon",
      "--dataset-size",
      "60000",
      "--batch-size",
      "256",
      "--epochs",
      "60",
      "--noise-multiplier",
      "1.1",
      "--delta",
      "1e-5",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.accountant).toBe("rdp");
    expect(o.steps).toBe(14063);
    expect(o.samplingRate).toBe(256 / 60000);
    expect(o.epsilon).toBeCloseTo(2.596655529521983, 6);
    expect(o.order).toBe(8.1);
    expect(o.delta).toBe(1e-5);
  });

  it("--accountant pld --json and the default table; --plot writes an SVG", () => {
    const file = path.join(dir, "eps.svg");
    const r = runCli([
      "epsilon",
      "--sampling-rate",
      "0.01",
      "--steps",
      "200",
      "--noise-multiplier",
      "1.1",
      "--delta",
      "1e-5",
      "--accountant",
      "pld",
      "--json",
      "--plot",
      file,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.accountant).toBe("pld");
    expect(o.epsilon).toBeGreaterThan(0);
    expect(readFileSync(file, "utf8")).toContain("<svg");
    const t = runCli(["epsilon", "--sampling-rate", "0.01", "--steps", "200", "--noise-multiplier", "1.1", "--delta", "1e-5"]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/epsilon/);
    expect(t.stdout).toMatch(/optimal order/);
    expect(t.stdout).toMatch(/Poisson/);
  });

  it("bad input: exit non-zero with one line naming the option", async () => {
    const cases: [string[], RegExp][] = [
      [["--sampling-rate", "1.5", "--steps", "10", "--noise-multiplier", "1", "--delta", "1e-5"], /--sampling-rate/],
      [["--sampling-rate", "0.1", "--steps", "10.5", "--noise-multiplier", "1", "--delta", "1e-5"], /--steps/],
      [["--sampling-rate", "0.1", "--steps", "10", "--noise-multiplier", "0", "--delta", "1e-5"], /--noise-multiplier/],
      [["--sampling-rate", "0.1", "--steps", "10", "--noise-multiplier", "NaN", "--delta", "1e-5"], /noise-multiplier/],
      [["--sampling-rate", "0.1", "--steps", "10", "--noise-multiplier", "1", "--delta", "1"], /--delta/],
      [
        ["--sampling-rate", "0.1", "--steps", "10", "--noise-multiplier", "1", "--delta", "1e-5", "--accountant", "moments"],
        /--accountant/,
      ],
      [["--sampling-rate", "0.1", "--steps", "10", "--dataset-size", "100", "--noise-multiplier", "1", "--delta", "1e-5"], /either/],
    ];
    for (const [args, re] of cases) {
      const r = await runInProcess(["epsilon", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
    // and in a real process: exit code 2, one line, no stack trace
    const real = runCli(["epsilon", "--sampling-rate", "-0.5", "--steps", "10", "--noise-multiplier", "1", "--delta", "1e-5"]);
    expect(real.code).toBe(2);
    expect(real.stderr.trim().split("\n")).toHaveLength(1);
    expect(real.stderr).toMatch(/--sampling-rate/);
  });
});

describe("dpkit calibrate", () => {
  it("--json prints the noise multiplier and the epsilon it achieves (never above the target)", () => {
    const r = runCli([
      "calibrate",
      "--target-epsilon",
      "3",
      "--dataset-size",
      "60000",
      "--batch-size",
      "256",
      "--epochs",
      "60",
      "--delta",
      "1e-5",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.noiseMultiplier).toBeCloseTo(1.0140210473997429, 5);
    expect(o.epsilon).toBeLessThanOrEqual(3);
    expect(o.epsilon).toBeGreaterThan(2.999);
  });

  it("rejects a bad target naming the option", async () => {
    const bad = await runInProcess(["calibrate", "--target-epsilon", "-1", "--sampling-rate", "0.01", "--steps", "10", "--delta", "1e-5"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/--target-epsilon/);
  });
});

describe("dpkit epsilon --event", () => {
  it("accounts any event (RAPPOR-style randomized response under replace-one)", async () => {
    const event = JSON.stringify({
      kind: "selfComposed",
      count: 4,
      event: { kind: "randomizedResponse", noiseParameter: 0.5, numBuckets: 2 },
    });
    const r = await runInProcess([
      "epsilon",
      "--event",
      event,
      "--neighboring-relation",
      "replaceOne",
      "--delta",
      "1e-9",
      "--accountant",
      "pld",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.epsilon).toBeGreaterThanOrEqual(4 * Math.log(3));
    expect(o.epsilon - 4 * Math.log(3)).toBeLessThan(5e-4);
    // refused under add/remove (never guessed), with one line
    const bad = await runInProcess(["epsilon", "--event", event, "--delta", "1e-9"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/replaceOne/);
    const junk = await runInProcess(["epsilon", "--event", '{"kind":"oops"}', "--delta", "1e-9"]);
    expect(junk.code).toBe(2);
    expect(junk.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("every epsilon names its delta and neighbouring relation; the classic conversion is reachable (issue 12, defect 14)", () => {
  const mnist = ["--dataset-size", "60000", "--batch-size", "256", "--epochs", "60", "--noise-multiplier", "1.1", "--delta", "1e-5"];

  it("dpkit epsilon prints delta and the relation, in the table and in --json", async () => {
    const { runCliInProcess } = await import("../helpers/cli.js");
    const t = await runCliInProcess(["epsilon", ...mnist]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/delta\s+1\.00000e-5/);
    expect(t.stdout).toMatch(/neighbouring relation\s+add or remove one example \(addOrRemoveOne\)/);
    const j = JSON.parse((await runCliInProcess(["epsilon", ...mnist, "--json"])).stdout);
    expect(j.neighboringRelation).toBe("addOrRemoveOne");
    expect(j.delta).toBe(1e-5);
    const c = JSON.parse(
      (
        await runCliInProcess([
          "calibrate",
          "--target-epsilon",
          "3",
          "--dataset-size",
          "60000",
          "--batch-size",
          "256",
          "--epochs",
          "60",
          "--delta",
          "1e-5",
          "--json",
        ])
      ).stdout,
    );
    expect(c.neighboringRelation).toBe("addOrRemoveOne");
  });

  it("--conversion classic gives Mironov's looser epsilon (3.009 against 2.597 in the MNIST setting)", async () => {
    const { runCliInProcess } = await import("../helpers/cli.js");
    const improved = JSON.parse((await runCliInProcess(["epsilon", ...mnist, "--json"])).stdout);
    const classic = JSON.parse((await runCliInProcess(["epsilon", ...mnist, "--conversion", "classic", "--json"])).stdout);
    expect(improved.conversion).toBe("improved");
    expect(classic.conversion).toBe("classic");
    expect(improved.epsilon).toBeCloseTo(2.597, 2);
    expect(classic.epsilon).toBeCloseTo(3.009, 2);
    const pld = await runCliInProcess(["epsilon", ...mnist, "--accountant", "pld", "--conversion", "classic"]);
    expect(pld.code).toBe(2);
    expect(pld.stderr).toMatch(/--conversion/);
  });
});
