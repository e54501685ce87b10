/**
 * The geometric (discrete Laplace) mechanism for integer queries such as counts.
 *
 * Adds an exact discrete Laplace integer (Canonne, Kamath & Steinke 2020, Algorithm 2;
 * Ghosh, Roughgarden & Sundararajan 2009) to an integer: the output is an integer, there is no
 * floating point anywhere, and the mechanism is epsilon-DP for sensitivity-Δ integer queries.
 *
 * @see https://arxiv.org/abs/2004.00010
 * @module
 */
import { epsilonDeltaEvent, type DpEvent } from "../accounting/events.js";
import { requireInteger, requireNumericArray, requirePositive, requirePositiveInteger } from "../errors.js";
import { resolveRng, type Rng } from "../random/rng.js";
import { discreteLaplaceSampler } from "../random/discrete-laplace.js";
import { discreteLaplaceHalfWidth, intervalAround, requireLevel } from "./confidence.js";
import type { NoiseMechanism, ReleaseConfidenceInterval } from "./types.js";

/** Options for {@link geometricMechanism}. */
export interface GeometricMechanismOptions {
  /** Privacy parameter of one release, > 0 and finite. */
  epsilon: number;
  /** L1 sensitivity, a positive integer (a count: 1). Default 1. */
  sensitivity?: number;
  /** Randomness source; defaults to the secure source. A seeded Rng is insecure (tests only). */
  rng?: Rng;
}

/**
 * Creates the geometric (discrete Laplace) mechanism for integer-valued queries.
 *
 * @remarks
 * Privacy: epsilon-DP for an integer query (or integer vector) whose L1 sensitivity under your
 * neighbouring relation is at most `sensitivity` (a count under add/remove: 1). The scale
 * sensitivity/epsilon is rounded up to a multiple of 2^-20, so `epsilon` reports the (never
 * larger) epsilon actually achieved. The `event` is `epsilonDelta(epsilon, 0)`: the discrete
 * Laplace's privacy-loss distribution is not the continuous Laplace's, so it is not reported as
 * a `laplace` event.
 *
 * @param options - epsilon, optional sensitivity (default 1) and rng
 * @returns a {@link NoiseMechanism} whose `release` takes and returns integers
 * @throws {@link DpError} `invalid_parameter` for a bad `epsilon`/`sensitivity`, or a non-integer `value`
 * @see https://arxiv.org/abs/2004.00010
 * @example
 * ```ts
 * import { geometricMechanism } from "dpkit/mechanisms";
 * const count = geometricMechanism({ epsilon: 0.5 });
 * count.release(1234); // e.g. 1236
 * ```
 */
export function geometricMechanism(options: GeometricMechanismOptions): NoiseMechanism {
  const requested = requirePositive("epsilon", options?.epsilon);
  const sensitivity = options.sensitivity === undefined ? 1 : requirePositiveInteger("sensitivity", options.sensitivity);
  const rng = options.rng;
  const raw = sensitivity / requested;
  // Round the scale up to a dyadic rational with a 46-bit numerator (the samplers' fast path).
  const bits = Math.max(0, Math.min(20, 45 - Math.ceil(Math.log2(raw))));
  const scale = Math.ceil(raw * 2 ** bits) / 2 ** bits;
  const epsilon = sensitivity / scale;
  const noise = discreteLaplaceSampler(scale);
  const q = Math.exp(-1 / scale);
  const standardDeviation = Math.sqrt(2 * q) / -Math.expm1(-1 / scale);
  const event: DpEvent = epsilonDeltaEvent(epsilon, 0);
  return {
    mechanism: "geometric",
    epsilon,
    delta: 0,
    sensitivity,
    scale,
    standardDeviation,
    granularity: 1,
    dimension: Number.MAX_SAFE_INTEGER,
    event,
    release(value: number): number {
      const k = requireInteger("value", value);
      return k + noise(resolveRng(rng)) + 0;
    },
    releaseVector(values: ArrayLike<number>): Float64Array {
      const v = requireNumericArray("values", values);
      const r = resolveRng(rng);
      const out = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = Number.isSafeInteger(v[i]) ? v[i] : requireInteger(`values[${i}]`, v[i]);
      for (let i = 0; i < v.length; i++) out[i] = out[i] + noise(r) + 0;
      return out;
    },
    confidenceInterval(level: number, released = 0): ReleaseConfidenceInterval {
      const l = requireLevel(level);
      return intervalAround(released, discreteLaplaceHalfWidth(scale, l), l);
    },
  };
}
