/**
 * The noise multiplier of a nested structure of Gaussian events: k Gaussian queries with
 * multipliers σ_i on the same data are one Gaussian query with σ = (Σ σ_i^-2)^-1/2 (Mironov, Talwar
 * & Zhang 2019, Sec. 3; dp_accounting's `_effective_gaussian_noise_multiplier`).
 * @module
 */
import type { DpEvent } from "./events.js";

/**
 * Returns the equivalent single-Gaussian noise multiplier of `event` when it is a Gaussian event or
 * a composition / self-composition of Gaussian events, else `undefined`.
 * @internal
 */
export function effectiveGaussianNoiseMultiplier(event: DpEvent): number | undefined {
  const inv = inverseSquareSum(event);
  if (inv === undefined) return undefined;
  return inv === 0 ? Infinity : 1 / Math.sqrt(inv);
}

function inverseSquareSum(event: DpEvent): number | undefined {
  switch (event.kind) {
    case "gaussian":
      return 1 / (event.noiseMultiplier * event.noiseMultiplier);
    case "composed": {
      let s = 0;
      for (const e of event.events) {
        const v = inverseSquareSum(e);
        if (v === undefined) return undefined;
        s += v;
      }
      return s;
    }
    case "selfComposed": {
      const v = inverseSquareSum(event.event);
      return v === undefined ? undefined : v * event.count;
    }
    default:
      return undefined;
  }
}
