/**
 * `dpkit train mnist --accountant pld` (issue 16): makePrivate's `accounting` option from the
 * command line — the PLD accountant calibrates the noise and reports epsilon, `--json` names the
 * kind, and a bad value (or the flag with --non-private) is one line on stderr with exit code 2.
 */
import { describe, expect, it } from "vitest";
import { calibrateNoiseMultiplier } from "../../src/accounting/index.js";
import { runCli, runCliInProcess } from "../helpers/cli.js";

const small = ["--train-size", "600", "--test-size", "200", "--epochs", "2", "--batch-size", "60"];

describe("dpkit train mnist --accountant", () => {
  it("pld calibrates a smaller noise multiplier for the same target, reports its epsilon by PLD and names the kind", () => {
    const pld = runCli(["train", "mnist", ...small, "--target-epsilon", "2", "--accountant", "pld", "--json"]);
    const rdp = runCli(["train", "mnist", ...small, "--target-epsilon", "2", "--json"]);
    expect(pld.code, pld.stderr).toBe(0);
    expect(rdp.code, rdp.stderr).toBe(0);
    const p = JSON.parse(pld.stdout);
    const r = JSON.parse(rdp.stdout);
    expect(p.accountant).toBe("pld");
    expect(r.accountant).toBe("rdp"); // the default
    const sigma = (accountant: "rdp" | "pld") =>
      calibrateNoiseMultiplier({ targetEpsilon: 2, targetDelta: 1e-5, samplingProbability: 60 / 600, steps: 20, accountant });
    expect(p.noiseMultiplier).toBe(sigma("pld"));
    expect(r.noiseMultiplier).toBe(sigma("rdp"));
    expect(p.noiseMultiplier).toBeLessThan(r.noiseMultiplier);
    expect(p.steps).toBe(20);
    expect(p.epsilon).toBeLessThanOrEqual(2);
    expect(p.epsilon).toBeGreaterThan(1.98);
    expect(p.epochsRun[0].epsilon).toBeLessThan(p.epochsRun[1].epsilon);
    const table = runCli(["train", "mnist", ...small, "--noise-multiplier", "1.1", "--accountant", "pld"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /-DP for add or remove one example \(addOrRemoveOne\) by the PLD accountant, noise multiplier 1\.1000, 20 steps/,
    );
  }, 120_000);

  it("a bad kind, or --accountant with --non-private, is one line and exit code 2", async () => {
    for (const [args, pattern] of [
      [["--accountant", "moments"], /--accountant.*moments/],
      [["--accountant", ""], /--accountant/],
      [["--non-private", "--accountant", "pld"], /--non-private takes no --accountant/],
    ] as const) {
      const r = await runCliInProcess(["train", "mnist", ...small, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stdout).toBe("");
    }
  });
});
