import { describe, expect, it } from "vitest";
import { partitionDirichlet, partitionIid, partitionShards, partitionUnbalanced, sampleGamma } from "../../src/federated/index.js";
import { SeededRng, secureRng } from "../../src/random/index.js";

const labels = Uint8Array.from({ length: 6000 }, (_, i) => (i * 7) % 10); // 600 of each digit

function isPartitionOf(p: number[][], n: number): boolean {
  const all = p.flat().sort((a, b) => a - b);
  return all.length === n && all.every((v, i) => v === i);
}

describe("partitions", () => {
  it("IID: equal sizes, every example once, label mix close to the global one", () => {
    const p = partitionIid(6000, 10, new SeededRng(1));
    expect(isPartitionOf(p, 6000)).toBe(true);
    for (const c of p) {
      expect(c.length).toBe(600);
      const counts = new Array(10).fill(0);
      for (const i of c) counts[labels[i]]++;
      // Hypergeometric sd ≈ 7; 6 sd band.
      for (const k of counts) expect(Math.abs(k - 60)).toBeLessThan(45);
    }
  });

  it("shards: McMahan's pathological split gives each client at most 2 (occasionally 3-4 at shard borders) digits", () => {
    const p = partitionShards({ labels, numClients: 100, shardsPerClient: 2, rng: new SeededRng(2) });
    expect(isPartitionOf(p, 6000)).toBe(true);
    let atMostTwo = 0;
    for (const c of p) {
      expect(c.length).toBe(60);
      const digits = new Set(c.map((i) => labels[i]));
      if (digits.size <= 2) atMostTwo++;
      expect(digits.size).toBeLessThanOrEqual(4);
    }
    // Shards of 30 never straddle a digit boundary here (600 per digit): exactly <= 2 digits.
    expect(atMostTwo).toBe(100);
  });

  it("Dirichlet: client shares of a class have mean 1/N and variance (1/N)(1-1/N)/(N·alpha+1)", () => {
    for (const alpha of [0.1, 1, 100]) {
      const N = 10;
      const shares: number[] = [];
      for (let rep = 0; rep < 20; rep++) {
        const p = partitionDirichlet({ labels, numClients: N, alpha, rng: new SeededRng(100 + rep) });
        expect(isPartitionOf(p, 6000)).toBe(true);
        for (const c of p) {
          const counts = new Array(10).fill(0);
          for (const i of c) counts[labels[i]]++;
          for (const k of counts) shares.push(k / 600);
        }
      }
      const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
      const variance = shares.reduce((a, b) => a + (b - mean) ** 2, 0) / shares.length;
      const expected = ((1 / N) * (1 - 1 / N)) / (N * alpha + 1) + (alpha > 10 ? 1 / (12 * 600 * 600) : 0);
      expect(mean).toBeCloseTo(0.1, 10); // the shares of each class sum to 1 exactly
      expect(variance / expected).toBeGreaterThan(0.7);
      expect(variance / expected).toBeLessThan(1.35);
    }
  });

  it("unbalanced: log-normal sizes, every example once, minimum respected", () => {
    const p = partitionUnbalanced({ count: 6000, numClients: 50, sigma: 1.5, minSize: 10, rng: new SeededRng(4) });
    expect(isPartitionOf(p, 6000)).toBe(true);
    const sizes = p.map((c) => c.length);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(10);
  });
});

describe("Gamma sampler (simulation)", () => {
  it("has mean and variance equal to the shape, seeded and secure", () => {
    for (const [shape, rng] of [
      [0.3, new SeededRng(7)],
      [1, new SeededRng(8)],
      [4.5, secureRng()],
    ] as const) {
      const n = 40000;
      let s = 0;
      let s2 = 0;
      let negative = 0;
      for (let i = 0; i < n; i++) {
        const g = sampleGamma(shape, rng);
        if (!(g >= 0)) negative++;
        s += g;
        s2 += g * g;
      }
      expect(negative).toBe(0);
      const mean = s / n;
      const v = s2 / n - mean * mean;
      // sd of the mean: sqrt(shape/n); 6 sd
      expect(Math.abs(mean - shape)).toBeLessThan(6 * Math.sqrt(shape / n));
      expect(Math.abs(v / shape - 1)).toBeLessThan(0.1);
    }
  });
});
