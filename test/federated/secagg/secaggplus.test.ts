import { describe, expect, it } from "vitest";
import {
  isSecAggSurvivorSetConnected,
  secAggNeighbourGraph,
  secAggPlusParameters,
  simulateSecAgg,
} from "../../../src/federated/secagg/index.js";
import { SeededRng } from "../../../src/random/index.js";

const ids = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe("SecAgg+ neighbour graph", () => {
  it("is k-regular, symmetric, loop-free and determined by the public seed", () => {
    const seed = new Uint8Array(32).fill(3);
    const g = secAggNeighbourGraph({ clients: ids(40), degree: 8, seed });
    for (const [u, nbrs] of g) {
      expect(nbrs).toHaveLength(8);
      expect(new Set(nbrs).size).toBe(8);
      expect(nbrs).not.toContain(u);
      for (const v of nbrs) expect(g.get(v)).toContain(u);
    }
    const again = secAggNeighbourGraph({ clients: ids(40).reverse(), degree: 8, seed });
    expect([...again.entries()].sort((a, b) => a[0] - b[0])).toEqual([...g.entries()].sort((a, b) => a[0] - b[0]));
    const other = secAggNeighbourGraph({ clients: ids(40), degree: 8, seed: new Uint8Array(32).fill(4) });
    expect([...other.values()]).not.toEqual([...g.values()]);
  });

  it("degree >= n - 1 is the complete graph", () => {
    const g = secAggNeighbourGraph({ clients: ids(5), degree: 8, seed: new Uint8Array(32) });
    expect(g.get(1)).toEqual([2, 3, 4, 5]);
  });

  it("connectivity check: a ring cut in two places is disconnected (control: intact ring is connected)", () => {
    const ring = new Map<number, number[]>(ids(6).map((u) => [u, [((u + 4) % 6) + 1, (u % 6) + 1]]));
    expect(isSecAggSurvivorSetConnected(ring, ids(6))).toBe(true);
    expect(isSecAggSurvivorSetConnected(ring, [1, 2, 4, 5])).toBe(false);
  });
});

describe("SecAgg+ protocol", () => {
  it("sum is exact with a sparse graph (n = 30, k = 8, t = 5), with dropouts at every stage", () => {
    const r = simulateSecAgg({
      clients: 30,
      threshold: 5,
      degree: 8,
      dimension: 64,
      dropouts: { advertiseKeys: [3], shareKeys: [11], maskedInput: [17, 23], unmasking: [29] },
      rng: new SeededRng(8),
    });
    expect(r.abortReason).toBeUndefined();
    expect(r.exact).toBe(true);
    expect(r.survivors).toHaveLength(26); // 30 - 1 - 1 - 2; the client silent in unmasking is still in the sum
    expect(r.degree).toBe(8);
  });

  it("each client talks to k neighbours, not n - 1: upload is far below the complete graph's", () => {
    const sparse = simulateSecAgg({ clients: 24, threshold: 3, degree: 4, dimension: 16, rng: new SeededRng(1) });
    const full = simulateSecAgg({ clients: 24, threshold: 13, dimension: 16, rng: new SeededRng(1) });
    expect(sparse.exact && full.exact).toBe(true);
    expect(sparse.clientUploadBytes).toBeLessThan(full.clientUploadBytes / 3);
  });

  it("aborts instead of revealing partial sums when the survivors are disconnected", () => {
    // degree 2 is a ring: dropping two non-adjacent ring positions cuts it in two.
    const seed = new Uint8Array(32);
    const rng = new SeededRng(5);
    const r = simulateSecAgg({ clients: 12, threshold: 2, degree: 2, dimension: 8, dropouts: { maskedInput: [1, 2, 3, 4, 5, 6] }, rng });
    void seed;
    expect(r.sum).toBeNull();
    expect(r.abortReason).toMatch(/disconnected|threshold/);
  });
});

describe("secAggPlusParameters", () => {
  it("degree grows like log n and with the dropout rate; threshold is a majority of k + 1", () => {
    const a = secAggPlusParameters({ clients: 1000, dropoutRate: 0.1 });
    const b = secAggPlusParameters({ clients: 1_000_000, dropoutRate: 0.1 });
    const c = secAggPlusParameters({ clients: 1000, dropoutRate: 0.3 });
    expect(a.degree).toBeLessThan(60);
    expect(b.degree).toBeLessThan(2 * a.degree);
    expect(c.degree).toBeGreaterThan(a.degree);
    for (const p of [a, b, c]) {
      expect(p.degree % 2).toBe(0);
      expect(p.threshold).toBe(Math.floor((p.degree + 1) / 2) + 1);
      expect(p.failureBound).toBeLessThanOrEqual(1e-6);
    }
  });

  it("falls back to the complete graph for small n and refuses rates >= 1/2", () => {
    expect(secAggPlusParameters({ clients: 10, dropoutRate: 0.3 }).degree).toBe(9);
    expect(() => secAggPlusParameters({ clients: 10, dropoutRate: 0.5 })).toThrow(/dropoutRate/);
  });
});
