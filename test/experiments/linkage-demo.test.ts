import { describe, expect, it } from "vitest";
import { linkageEpsilonPlot, linkageKnownCurvePlot, PAPER_SCENARIOS, runLinkageDemo } from "../../src/experiments/index.js";

describe("runLinkageDemo", () => {
  const stages = new Set<string>();
  const r = runLinkageDemo({
    users: 1500,
    targets: 25,
    seed: 3,
    ldpEpsilons: [1, 1000],
    aggregateEpsilons: [1],
    knownCurve: [1, 4, 8],
    onProgress: (s) => stages.add(s),
  });

  it("returns every table the demo prints", () => {
    expect(r.reproduction).toHaveLength(2 * PAPER_SCENARIOS.length);
    for (const row of r.reproduction) {
      expect(row.reidentified + row.falseMatches + row.noMatches).toBe(25);
      expect([0, 1]).toContain(row.ratingError);
    }
    expect(r.knownCurve.map((p) => p.known)).toEqual([1, 4, 8]);
    expect(r.naive).toHaveLength(3);
    expect(r.ldp.map((x) => Math.round(x.epsilon))).toEqual([1, 1000]);
    expect(r.aggregates[0].epsilon).toBeNull();
    expect(r.aggregates[1].epsilon).toBeLessThanOrEqual(1);
    expect([...stages]).toEqual(expect.arrayContaining(["generate", "reproduce", "curve", "naive", "aggregates"]));
  });

  it("shows the attack working and the strong LDP release stopping it", () => {
    const exactDated = r.reproduction.find((x) => x.ratingError === 0 && x.scenario === PAPER_SCENARIOS[0].name);
    expect(exactDated?.reidentificationRate).toBeGreaterThan(0.3);
    expect(r.knownCurve[2].reidentificationRate).toBeGreaterThan(r.knownCurve[0].reidentificationRate);
    expect(r.ldp[0].reidentificationRate).toBe(0);
    expect(r.ldp[0].movieMeanRmse).toBeGreaterThan(r.ldp[1].movieMeanRmse);
  });

  it("draws both charts", () => {
    expect(linkageKnownCurvePlot(r.knownCurve, r.users)).toMatch(/^<svg/);
    expect(linkageEpsilonPlot(r)).toMatch(/^<svg/);
  });
});
