import { describe, expect, it } from "vitest";
import { gaussianMechanism, laplaceMechanism, privateSum } from "../../src/mechanisms/index.js";
import { SeededRng } from "../../src/random/index.js";

// Issue 12, defect 6: with sensitivity 1e300, about half the releases of Number.MAX_VALUE were
// ±Infinity, and 81% of privateSum results near the top of the range: "always a multiple of the
// granularity" broke. Outputs are now clamped to the largest finite multiple (post-processing).
const onGrid = (x: number, g: number): boolean => Number.isFinite(x) && Math.abs(x / g - Math.round(x / g)) === 0;

describe("grid outputs never overflow", () => {
  for (const [name, make] of [
    ["laplace", () => laplaceMechanism({ epsilon: 1, sensitivity: 1e300, rng: new SeededRng(1), allowInsecureRng: true })],
    ["gaussian", () => gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity: 1e300, rng: new SeededRng(2), allowInsecureRng: true })],
  ] as const) {
    it(`${name}: releases of ±Number.MAX_VALUE stay finite and on the grid`, () => {
      const m = make();
      let clamped = 0;
      for (let i = 0; i < 400; i++) {
        for (const x of [Number.MAX_VALUE, -Number.MAX_VALUE]) {
          const y = m.release(x);
          expect(onGrid(y, m.granularity), `${y}`).toBe(true);
          if (Math.abs(y) === Number.MAX_VALUE) clamped++;
        }
      }
      expect(clamped).toBeGreaterThan(100); // the clamp is exercised (about half would overflow)
      const v = m.releaseVector([Number.MAX_VALUE]);
      expect(Number.isFinite(v[0])).toBe(true);
    });
  }

  it("privateSum near the top of the range stays finite and on the grid", () => {
    const data = new Float64Array(8).fill(1e307);
    for (let i = 0; i < 200; i++) {
      const r = privateSum({ data, lower: 0, upper: 1e308, epsilon: 1, rng: new SeededRng(i), allowInsecureRng: true });
      expect(Number.isFinite(r.value), `${r.value}`).toBe(true);
    }
  });
});
