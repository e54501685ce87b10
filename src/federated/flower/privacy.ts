/**
 * Client-side privacy for Flower: what Flower's DP mods and client-side strategy wrappers ask a
 * client to do, computed on the device before anything is sent.
 *
 * - `DifferentialPrivacyClientSideFixedClipping` sends `clipping_norm` in every fit config; the
 *   client clips its update (new − received weights) to that L2 norm ({@link clipModelUpdate},
 *   Flower's `fixedclipping_mod`).
 * - `DifferentialPrivacyClientSideAdaptiveClipping` does the same and reads the `norm_bit`
 *   metric: true when the update was clipped (Flower's `adaptiveclipping_mod`).
 * - `LocalDpMod` clips the update and adds Gaussian noise on the client ({@link localDpUpdate});
 *   {@link localDpModNoiseMultiplier} converts its (sensitivity, ε, δ) arguments to dpkit's
 *   noise multiplier.
 *
 * This file is tfjs-free: updates are flat Float32Arrays in `getWeights()` order.
 * @module
 */
import { gaussianEvent, nonPrivateEvent, type DpEvent } from "../../accounting/events.js";
import { DpError, requireNonNegative, requireOpenProbability, requirePositive } from "../../errors.js";
import { requireSecureRng, type Rng } from "../../random/rng.js";
import { fillGaussian } from "../../random/gaussian.js";

/** What {@link clipModelUpdate} returns. */
export interface ClippedModelUpdate {
  /** The weights to return: `received + clipped update`, as float32. */
  weights: Float32Array;
  /** L2 norm of the update before clipping. */
  norm: number;
  /** Whether the update was scaled down (Flower's `norm_bit`). */
  clipped: boolean;
}

/** L2 norm of `a − b` in double precision. @internal */
export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * Clips a model update to an L2 norm, as Flower's `compute_clip_model_update`: update =
 * `trained − received`, scaled by `min(1, clip / ‖update‖)`, added back to `received`.
 *
 * @remarks
 * The bound holds on what is sent: ‖float32(received + s·update) − received‖₂ ≤ `clip`,
 * measured in double precision on the float32 values (if float32 rounding overshoots, the scale
 * is corrected and retried, at most 64 times, and in the last resort the update is dropped). An update already within the
 * norm is returned unchanged (bit for bit). A non-finite update is refused.
 *
 * @param trained - the locally trained weights, flat in `getWeights()` order
 * @param received - the weights the server sent, flat, same length
 * @param clip - the L2 norm, > 0 (the server's `clipping_norm`)
 * @returns the weights to send, the update's norm and whether it was clipped (`norm_bit`)
 * @throws {@link DpError} `invalid_parameter` for a bad clip or lengths, `non_finite` for a non-finite update
 * @example
 * ```ts
 * import { clipModelUpdate } from "dpkit/flower";
 * const r = clipModelUpdate(new Float32Array([3, 4]), new Float32Array([0, 0]), 1);
 * r.clipped; // true: the update [3, 4] (norm 5) becomes [0.6, 0.8]
 * ```
 * @see McMahan et al., "Learning Differentially Private Recurrent Language Models", ICLR 2018 (flat clipping).
 */
export function clipModelUpdate(trained: Float32Array, received: Float32Array, clip: number): ClippedModelUpdate {
  requirePositive("clip", clip);
  if (trained.length !== received.length) {
    throw new DpError(
      "invalid_parameter",
      `\`trained\` must have the length of \`received\` (${received.length}). Found ${trained.length}.`,
      "trained",
    );
  }
  const norm = distance(trained, received);
  if (!Number.isFinite(norm))
    throw new DpError("non_finite", "The model update is not finite (NaN or Infinity after training).", "trained");
  if (norm <= clip) return { weights: Float32Array.from(trained), norm, clipped: false };
  let scale = clip / norm;
  const out = new Float32Array(trained.length);
  for (let attempt = 0; attempt < 64; attempt++) {
    for (let i = 0; i < out.length; i++) out[i] = received[i] + (trained[i] - received[i]) * scale;
    const achieved = distance(out, received);
    if (achieved <= clip) return { weights: out, norm, clipped: true };
    scale *= (clip / achieved) * (1 - 2 ** -20);
  }
  // float32 cannot represent a step this small next to these weights: send no update at all
  return { weights: Float32Array.from(received), norm, clipped: true };
}

/** Options for {@link localDpUpdate}. */
export interface LocalDpOptions {
  /** C: the update is clipped to this L2 norm. */
  l2NormClip: number;
  /** z: Gaussian noise of standard deviation z·C is added to every coordinate. */
  noiseMultiplier: number;
  /** Randomness; defaults to dpkit's secure source. A source that is not `secure` is refused unless `allowInsecureRng` is set. */
  rng?: Rng;
  /** Accept an insecure (seeded) `rng`: the upload is then NOT private (tests only). Default false. */
  allowInsecureRng?: boolean;
}

/**
 * Local DP for one fit: clip the update to C and add N(0, (zC)²) to every coordinate, on the
 * client (as Flower's `LocalDpMod`, with noise from dpkit's secure sampler).
 *
 * @remarks
 * Privacy: with respect to replacing the client's whole local dataset, the clipped update has
 * L2 sensitivity 2C, so each fit is a Gaussian mechanism with noise multiplier z/2 against
 * anyone who sees the upload, the server included ({@link localDpEvent}). Fits compose.
 * The noise is continuous floating-point Gaussian noise (`fillGaussian`), as in DP-SGD.
 *
 * @param trained - the locally trained weights
 * @param received - the weights the server sent
 * @param options - C, z and an optional rng
 * @returns the noisy weights to send, the update's norm and whether it was clipped
 * @throws {@link DpError} for bad options or a non-finite update
 * @example
 * ```ts
 * import { localDpUpdate } from "dpkit/flower";
 * const r = localDpUpdate(new Float32Array([3, 4]), new Float32Array([0, 0]), { l2NormClip: 1, noiseMultiplier: 1 });
 * r.weights.length; // 2
 * ```
 * @see https://flower.ai/docs/framework/how-to-use-differential-privacy.html
 */
export function localDpUpdate(trained: Float32Array, received: Float32Array, options: LocalDpOptions): ClippedModelUpdate {
  const clip = requirePositive("l2NormClip", options.l2NormClip);
  const z = requireNonNegative("noiseMultiplier", options.noiseMultiplier);
  const c = clipModelUpdate(trained, received, clip);
  requireSecureRng(options.rng, options.allowInsecureRng);
  const noise = fillGaussian(new Float64Array(trained.length), z * clip, options.rng);
  const out = new Float32Array(trained.length);
  for (let i = 0; i < out.length; i++) out[i] = c.weights[i] + noise[i];
  return { weights: out, norm: c.norm, clipped: c.clipped };
}

/**
 * The event of one local-DP fit ({@link localDpUpdate}): `gaussian(z/2)`, the L2 sensitivity
 * being 2C under replacement of the client's data.
 * @param noiseMultiplier - z
 * @returns the event (`nonPrivate` for z = 0)
 * @example
 * ```ts
 * import { localDpEvent } from "dpkit/flower";
 * localDpEvent(2); // { kind: "gaussian", noiseMultiplier: 1 }
 * ```
 */
export function localDpEvent(noiseMultiplier: number): DpEvent {
  const z = requireNonNegative("noiseMultiplier", noiseMultiplier);
  return z > 0 ? gaussianEvent(z / 2) : nonPrivateEvent();
}

/** Arguments of Flower's `LocalDpMod(clipping_norm, sensitivity, epsilon, delta)`. */
export interface LocalDpModArguments {
  /** `clipping_norm`. */
  clippingNorm: number;
  /** `sensitivity`. */
  sensitivity: number;
  /** `epsilon`. */
  epsilon: number;
  /** `delta`. */
  delta: number;
}

/**
 * The dpkit noise multiplier that reproduces Flower's `LocalDpMod`: Flower adds noise of
 * standard deviation `sensitivity·√(2 ln(1.25/δ))/ε` (the classic Gaussian mechanism) to the
 * update clipped to `clipping_norm`; dpkit's `noiseMultiplier` is that σ divided by the clip.
 *
 * @param args - LocalDpMod's four arguments
 * @returns z = σ / clipping_norm
 * @throws {@link DpError} for a non-positive clip, sensitivity or ε, or δ outside (0, 1)
 * @example
 * ```ts
 * import { localDpModNoiseMultiplier } from "dpkit/flower";
 * localDpModNoiseMultiplier({ clippingNorm: 1, sensitivity: 1, epsilon: 1, delta: 1e-5 }); // ≈ 4.84
 * ```
 */
export function localDpModNoiseMultiplier(args: LocalDpModArguments): number {
  const c = requirePositive("clippingNorm", args.clippingNorm);
  const s = requirePositive("sensitivity", args.sensitivity);
  const e = requirePositive("epsilon", args.epsilon);
  const d = requireOpenProbability("delta", args.delta);
  return (s * Math.sqrt(2 * Math.log(1.25 / d))) / e / c;
}
