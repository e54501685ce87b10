import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("dpkit linkage", () => {
  it("runs one scenario and prints one JSON object", () => {
    const r = runCli(["linkage", "--users", "800", "--targets", "20", "--known", "6", "--wrong", "1", "--date-error", "7", "--json"]);
    expect(r.stderr).not.toMatch(/Error|at /);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.users).toBe(800);
    expect(out.scenario).toBe("6 ratings (1 wrong), dates ±7 days");
    const res = out.result;
    expect(res.targets).toBe(20);
    expect(res.reidentified + res.falseMatches + res.noMatches).toBe(20);
  });

  it("measures the LDP defence with the accountant's epsilon", () => {
    const r = runCli(["linkage", "--users", "600", "--targets", "10", "--defence", "ldp", "--epsilon", "5,500", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.results).toHaveLength(2);
    expect(out.results[0].epsilon).toBeLessThanOrEqual(5);
    expect(out.results[0].epsilon).toBeGreaterThan(4.99);
    expect(out.results[0].accountantEpsilon).toBeGreaterThan(0);
    expect(out.neighbouringRelation).toMatch(/whole record/);
  });

  it("--demo tells the whole story", () => {
    const r = runCli(["linkage", "--demo", "--users", "600", "--targets", "10"]);
    expect(r.code).toBe(0);
    for (const part of ["1. Data", "2. The attack", "3. The naive fix", "4. Local DP", "5. Central DP aggregates"])
      expect(r.stdout).toContain(part);
  });

  it("refuses bad options with one line and exit code 2", () => {
    const r = runCli(["linkage", "--defence", "magic"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/defence/);
    const both = runCli(["linkage", "--users", "10", "--scale", "0.1"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--users/);
  });
});
