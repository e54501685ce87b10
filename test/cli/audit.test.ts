/**
 * `dpkit audit`: the step audit reports the claim and the bound (JSON and table), a broken
 * variant is flagged, the one-run mode trains and reports its ceiling, and bad options fail with
 * one line and exit code 2 before any work.
 */
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli } from "../helpers/cli.js";

describe("dpkit audit", () => {
  it("step audit of DP-SGD (--json, seeded): bound below the claim, ROC plot written", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dpkit-audit-"));
    const plot = path.join(dir, "roc.svg");
    const r = runCli(["audit", "dpsgd", "--epsilon", "2", "--trials", "50000", "--seed", "3", "--json", "--plot", plot]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.claimedEpsilon).toBeLessThanOrEqual(2);
    expect(out.epsilonLowerBound).toBeGreaterThan(0.5);
    expect(out.epsilonLowerBound).toBeLessThanOrEqual(out.claimedEpsilon);
    expect(out.violation).toBe(false);
    expect(out.confidence).toBe(0.95);
    expect(out.auc).toBeGreaterThan(0.5);
    expect(readFileSync(plot, "utf8")).toContain("<svg");
  });

  it("--break noise is flagged as a violation (table output)", () => {
    const r = runCli(["audit", "dpsgd", "--trials", "50000", "--seed", "4", "--break", "noise"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/VIOLATION/);
    expect(r.stdout).toMatch(/claimed ε/);
  });

  it("fedavg step audit with distributed noise runs", () => {
    const r = runCli(["audit", "fedavg", "--noise-placement", "client-distributed", "--trials", "5000", "--seed", "5", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).target).toBe("fedavg");
  });

  it("one-run mode trains with gradient canaries and reports the bound and its ceiling", () => {
    const r = runCli(
      [
        "audit",
        "dpsgd",
        "--mode",
        "one-run",
        "--canaries",
        "100",
        "--train-size",
        "500",
        "--epochs",
        "1",
        "--batch-size",
        "100",
        "--seed",
        "6",
        "--json",
      ],
      {},
      240_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.claimedEpsilon).toBeLessThanOrEqual(2);
    expect(out.oneRunEpsilonLowerBound).toBeLessThanOrEqual(out.oneRunCeiling);
    expect(out.oneRunCeiling).toBeGreaterThan(0);
  });

  it("bad options fail with one line and exit code 2, writing nothing", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dpkit-audit-"));
    for (const [args, pattern] of [
      [["audit", "dpsgd", "--break", "typo"], /--break/],
      [["audit", "dpsgd", "--epsilon", "-1"], /--epsilon/],
      [["audit", "dpsgd", "--plot", "/nonexistent-dir/roc.svg"], /--plot/],
      [["audit", "dpsgd", "--plot", path.join(dir, "roc.txt")], /--plot/],
      [["audit", "dpsgd", "--mode", "mia", "--break", "noise"], /--break/],
      [["audit", "dpsgd", "--mode", "mia", "--shadows", "1", "--canaries", "10"], /--shadows/],
      [["audit", "nothing"], /target/],
    ] as [string[], RegExp][]) {
      const r = runCli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
    expect(existsSync(path.join(dir, "roc.txt"))).toBe(false);
  });
});
