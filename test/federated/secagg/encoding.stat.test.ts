import { describe, expect, it } from "vitest";
import { decodeSecAggSum, SecAggQuantizer } from "../../../src/federated/secagg/index.js";
import { SeededRng, type Rng } from "../../../src/random/index.js";

const DRAWS = 200_000;

/** |mean of decoded encodings - x| in standard errors (rounding variance p(1-p)/scale^2). */
function biasInStandardErrors(encode: (x: number) => number, x: number, scale: number): number {
  let sum = 0;
  for (let i = 0; i < DRAWS; i++) sum += encode(x);
  const mean = sum / DRAWS;
  const frac = x * scale - Math.floor(x * scale);
  const se = Math.sqrt(Math.max(frac * (1 - frac), 1e-12) / DRAWS) / scale;
  return Math.abs(mean - x) / se;
}

describe("stochastic rounding is unbiased", () => {
  const q = new SecAggQuantizer({ clipRange: 1, modulusBits: 16, clients: 10, scale: 16 });
  const viaQuantizer = (rng?: Rng) => (x: number) => decodeSecAggSum(q.encode([x], rng), 16, 16)[0];

  for (const x of [0.3, -0.7, 1 / 3, 0.03125 + 1e-9]) {
    it(`x = ${x} (seeded)`, () => {
      expect(
        biasInStandardErrors(
          viaQuantizer(
            new SeededRng(
              Math.abs(Math.round(x * 1000)) - (x < 0 ? 1 : 0),
            ) /* the stream the seed Math.round(x * 1000) gave before negative seeds were refused */,
          ),
          x,
          16,
        ),
      ).toBeLessThan(6);
    });
  }

  it("x = 0.3 on the secure source", () => {
    expect(biasInStandardErrors(viaQuantizer(), 0.3, 16)).toBeLessThan(6);
  });

  it("negative control: round-to-nearest is flagged by the same check", () => {
    expect(biasInStandardErrors((x) => Math.round(x * 16) / 16, 0.3, 16)).toBeGreaterThan(6);
  });
});
