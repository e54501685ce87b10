// Empirical epsilon of the client's local DP (TESTING.md §3): the exact function the Flower
// client runs in fit (localDpUpdate: clip the update to C, add N(0, (zC)²)), on worst-case
// neighbouring client datasets whose updates are +10C·e1 and −10C·e1 (clipped to ±C·e1: L2
// distance 2C, the replace-one sensitivity). Audited against the *exact* epsilon of a Gaussian
// with noise multiplier z/2 (Balle & Wang), which is below the RDP epsilon the client reports.
import { describe, expect, it } from "vitest";
import { RdpAccountant } from "../../../src/accounting/rdp/accountant.js";
import { clipModelUpdate, localDpEvent, localDpUpdate } from "../../../src/federated/flower/privacy.js";
import { gaussianEpsilonForDelta } from "../../../src/accounting/analytic-gaussian.js";
import { fillGaussian } from "../../../src/random/gaussian.js";
import { SeededRng, type Rng } from "../../../src/random/index.js";
import { auditSamplers, thresholdEvents } from "../../helpers/audit.js";

const C = 1;
const Z = 4;
const DELTA = 1e-5;
const N = 200_000;

/** The exact epsilon at DELTA of a Gaussian with noise multiplier m (Balle & Wang). */
const exactEpsilon = (m: number): number => gaussianEpsilonForDelta(m, DELTA);

const received = new Float32Array(2);
const far = (sign: number): Float32Array => new Float32Array([sign * 10 * C, 0]);

function audit(sample: (sign: number) => number) {
  // thresholds in units of sigma = Z·C around the midpoint 0
  const events = thresholdEvents([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 9, 10].map((k) => k * C));
  const neg = thresholdEvents([0.5, 1, 1.5, 2, 2.5, 3].map((k) => -k * C)).map((f) => (y: number) => !f(y));
  return auditSamplers({ sample0: () => sample(1), sample1: () => sample(-1), events: [...events, ...neg], n: N, delta: DELTA });
}

describe("local DP (LocalDpMod parity): empirical epsilon", () => {
  const claimed = exactEpsilon(Z / 2);

  it("the client's reported (RDP) epsilon is at least the exact one", () => {
    const acc = new RdpAccountant();
    acc.compose(localDpEvent(Z));
    expect(acc.getEpsilon(DELTA)).toBeGreaterThanOrEqual(claimed);
  });

  const runs: [string, Rng | undefined][] = [
    ["seeded", new SeededRng(2024)],
    ["secure source", undefined],
  ];
  for (const [name, rng] of runs) {
    it(`eps_LB <= exact epsilon ${claimed.toFixed(3)} (${name})`, () => {
      const r = audit(
        (s) => localDpUpdate(far(s), received, { l2NormClip: C, noiseMultiplier: Z, rng, allowInsecureRng: true }).weights[0],
      );
      expect(r.epsilonLowerBound).toBeLessThanOrEqual(claimed);
    });
  }

  it("power check: half the noise is caught", () => {
    const rng = new SeededRng(7);
    const r = audit(
      (s) => localDpUpdate(far(s), received, { l2NormClip: C, noiseMultiplier: Z / 2, rng, allowInsecureRng: true }).weights[0],
    );
    expect(r.epsilonLowerBound).toBeGreaterThan(claimed);
  });

  it("negative control: noise without clipping is caught", () => {
    const rng = new SeededRng(8);
    const noise = new Float64Array(1);
    const r = audit((s) => far(s)[0] / 5 + fillGaussian(noise, Z * C, rng)[0]); // update norm 2C unclipped (distance 4C)
    expect(r.epsilonLowerBound).toBeGreaterThan(claimed);
    expect(clipModelUpdate(far(1), received, C).clipped).toBe(true);
  });
});
