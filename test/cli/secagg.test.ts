import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("dpkit secagg simulate", () => {
  it("--json prints one JSON object with an exact sum of the survivors", () => {
    const r = runCli([
      "secagg",
      "simulate",
      "--clients",
      "6",
      "--threshold",
      "4",
      "--dimension",
      "50",
      "--dropout",
      "0.34",
      "--seed",
      "3",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      protocol: "bonawitz2017",
      clients: 6,
      threshold: 4,
      dropped: 2,
      survivors: 4,
      aborted: false,
      exact: true,
      seeded: true,
    });
    expect(out.clientUploadBytes).toBeGreaterThan(50 * 4);
  });

  it("--plus uses a sparse graph when n is large enough, and prints a table by default", () => {
    const r = runCli(["secagg", "simulate", "--plus", "--clients", "30", "--degree", "6", "--threshold", "4", "--dimension", "20"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/SecAgg\+, Bell et al. 2020\): 30 clients, threshold 4, degree 6/);
    expect(r.stdout).toMatch(/exact/);
  });

  it("too many dropouts: the round aborts and releases nothing", () => {
    const r = runCli(["secagg", "simulate", "--clients", "5", "--threshold", "3", "--dimension", "10", "--dropout", "0.6", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ aborted: true, exact: false });
  });

  it("a bad threshold is one line on stderr with exit code 2", () => {
    const r = runCli(["secagg", "simulate", "--clients", "6", "--threshold", "2"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/`threshold` must be in \[4, 6\]/);
  });
});
