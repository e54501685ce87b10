/**
 * Floating-point safety of the real-valued mechanisms (docs/testing.md section 2): every output is
 * an exact multiple of the power-of-two granularity for inputs 0, 1, 0.1 and 1e9; the set of
 * reachable residues is the same for neighbouring inputs M(0) and M(1). Negative control: a
 * naive `x + b·sign·ln(u)` Laplace is flagged by the same checks (its outputs for input 1 all
 * lie on the 2^-53 grid near 0 while those for input 0 do not: Mironov's attack).
 */
import { describe, expect, it } from "vitest";
import { gaussianMechanism, laplaceMechanism, type NoiseMechanism } from "../../src/mechanisms/index.js";
import { SeededRng, uniform01, type Rng } from "../../src/random/index.js";

const INPUTS = [0, 1, 0.1, 1e9];

/** Every sample is a finite exact multiple of g (g a power of two) and none is -0. */
function allOnGrid(samples: ArrayLike<number>, g: number): boolean {
  for (let i = 0; i < samples.length; i++) {
    const y = samples[i];
    if (!Number.isFinite(y) || Object.is(y, -0) || !Number.isInteger(y / g)) return false;
  }
  return true;
}

/** The set of residues y mod g (exact in floating point). */
function residues(samples: ArrayLike<number>, g: number): Set<number> {
  const s = new Set<number>();
  for (let i = 0; i < samples.length; i++) s.add(Math.abs(samples[i] % g));
  return s;
}

function sameResidues(a: ArrayLike<number>, b: ArrayLike<number>, g: number): boolean {
  const ra = residues(a, g);
  const rb = residues(b, g);
  return ra.size === rb.size && [...ra].every((x) => rb.has(x));
}

/** Low 8 bits of the output in grid units: which residues mod 256·g are reachable. */
function lowBits(samples: ArrayLike<number>, g: number): Set<number> {
  const s = new Set<number>();
  for (let i = 0; i < samples.length; i++) s.add((((samples[i] / g) % 256) + 256) % 256);
  return s;
}

/** The naive, floating-point Laplace mechanism: the negative control. */
function naiveLaplace(x: number, b: number, rng: Rng): number {
  const u = uniform01(rng) || 2 ** -53;
  const sign = uniform01(rng) < 0.5 ? -1 : 1;
  return x + b * sign * Math.log(u);
}

function draws(m: NoiseMechanism, x: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = m.release(x);
  return out;
}

describe("grid mechanisms output exact multiples of the granularity", () => {
  const rng = new SeededRng(1234);
  const mechanisms: [string, NoiseMechanism][] = [
    ["Laplace (default grid)", laplaceMechanism({ epsilon: 1, sensitivity: 1, rng, allowInsecureRng: true })],
    ["Laplace (granularity 2^-10)", laplaceMechanism({ epsilon: 0.5, sensitivity: 3, granularity: 2 ** -10, rng, allowInsecureRng: true })],
    ["Gaussian (default grid)", gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity: 1, rng, allowInsecureRng: true })],
    [
      "Gaussian (granularity 2^-4, dimension 4)",
      gaussianMechanism({ epsilon: 2, delta: 1e-6, sensitivity: 2, granularity: 2 ** -4, dimension: 4, rng, allowInsecureRng: true }),
    ],
  ];
  for (const [name, m] of mechanisms) {
    it(`${name}: inputs 0, 1, 0.1, 1e9`, () => {
      expect(Number.isInteger(Math.log2(m.granularity))).toBe(true);
      for (const x of INPUTS) expect(allOnGrid(draws(m, x, 2000), m.granularity)).toBe(true);
      expect(allOnGrid(m.releaseVector(INPUTS.slice(0, m.dimension)), m.granularity)).toBe(true);
      expect(allOnGrid(m.releaseVector(new Float32Array(INPUTS.slice(0, m.dimension))), m.granularity)).toBe(true);
    });
    it(`${name}: M(0) and M(1) reach the same residues`, () => {
      const a = draws(m, 0, 20_000);
      const b = draws(m, 1, 20_000);
      expect(sameResidues(a, b, m.granularity)).toBe(true);
      expect(residues(a, m.granularity)).toEqual(new Set([0]));
      // Every low-bit pattern of the grid index is reachable from both inputs.
      expect(lowBits(a, m.granularity).size).toBe(256);
      expect(lowBits(b, m.granularity).size).toBe(256);
    });
  }
});

describe("negative control: the naive x + b·sign·ln(u) Laplace is flagged", () => {
  it("fails the grid check and the residue check; its low bits reveal the input", () => {
    const rng = new SeededRng(99);
    const g = 2 ** -53;
    const a = Float64Array.from({ length: 20_000 }, () => naiveLaplace(0, 1, rng));
    const b = Float64Array.from({ length: 20_000 }, () => naiveLaplace(1, 1, rng));
    expect(allOnGrid(a, g)).toBe(false);
    expect(sameResidues(a, b, g)).toBe(false);
    // Mironov (2012): every output of M(1) lies on the 2^-53 grid, so an output off it
    // (which M(0) produces often) proves the input was 0: infinite privacy loss.
    const offGrid0 = a.filter((y) => !Number.isInteger(y / g)).length;
    const offGrid1 = b.filter((y) => !Number.isInteger(y / g)).length;
    expect(offGrid1).toBe(0);
    expect(offGrid0).toBeGreaterThan(100);
  });
  it("the grid mechanism with the same scale passes that distinguisher", () => {
    const m = laplaceMechanism({ epsilon: 1, sensitivity: 1, rng: new SeededRng(5), allowInsecureRng: true });
    const a = draws(m, 0, 20_000);
    const b = draws(m, 1, 20_000);
    const g = m.granularity;
    expect(a.filter((y) => !Number.isInteger(y / g)).length).toBe(0);
    expect(b.filter((y) => !Number.isInteger(y / g)).length).toBe(0);
  });
});
