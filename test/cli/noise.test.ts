import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("dpkit noise", () => {
  it("laplace --json: calibrated scale, event and a released value on the grid", () => {
    const r = runCli(["noise", "--mechanism", "laplace", "--epsilon", "0.5", "--sensitivity", "2", "--value", "10", "--json"]);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.scale).toBeCloseTo(4, 6);
    expect(o.event).toEqual({ kind: "laplace", noiseMultiplier: expect.any(Number) });
    expect(o.event.noiseMultiplier).toBeCloseTo(2, 6);
    expect(Number.isInteger(o.released / o.granularity)).toBe(true);
    expect(o.interval[0]).toBeLessThan(o.released);
    expect(o.secure).toBe(true);
  });
  it("gaussian: analytic sigma in a table", () => {
    const r = runCli(["noise", "--mechanism", "gaussian", "--epsilon", "1", "--delta", "1e-5", "--sensitivity", "1"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sigma\s+3\.7306/);
    expect(r.stdout).toContain('"kind":"gaussian"');
  });
  it("geometric with a seed is reproducible and says it is not private", () => {
    const a = runCli(["noise", "--mechanism", "geometric", "--epsilon", "1", "--value", "100", "--seed", "3", "--json"]);
    const b = runCli(["noise", "--mechanism", "geometric", "--epsilon", "1", "--value", "100", "--seed", "3", "--json"]);
    expect(JSON.parse(a.stdout).released).toBe(JSON.parse(b.stdout).released);
    expect(JSON.parse(a.stdout).secure).toBe(false);
  });
  it("bad input: one line on stderr naming the argument, exit 2", () => {
    const r = runCli(["noise", "--mechanism", "gaussian", "--epsilon", "1", "--sensitivity", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("`delta`");
    const e = runCli(["noise", "--mechanism", "laplace", "--epsilon", "-1"]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain("`epsilon`");
    const m = runCli(["noise", "--mechanism", "cauchy", "--epsilon", "1"]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain("`mechanism`");
  });
});
