/**
 * White-box audit of one DP-SGD step, run on dpkit's real Float32Array step functions:
 * Poisson sample ({@link poissonSampleIndices}) → clip and sum ({@link clipAndSum}) → add
 * Gaussian noise and divide by the expected batch size ({@link privatizeClippedSum}).
 *
 * The adversary picks the dataset and the canary (Nasr, Song, Thakurta, Papernot & Carlini
 * 2021; Nasr et al. 2023): N examples whose gradients are 0 and, in half the trials, one more
 * example whose gradient is a Dirac spike `canaryNorm·C·e₁` (clipped to C·e₁ by a correct step).
 * It sees the released noisy average and scores it by the canary coordinate — the likelihood
 * ratio test for this pair of outputs, since the ratio is monotone in that coordinate. Scores with
 * and without the canary go to {@link epsilonLowerBound}.
 *
 * Trials are vectorised: the noise of many trials is added by one call of the real
 * `privatizeClippedSum` on the concatenated clipped sums (the function adds i.i.d. noise
 * coordinate-wise and divides by a constant, so one call on T·d coordinates is T independent
 * steps), and one Poisson draw over T·(N+1) examples is T independent batches.
 *
 * Broken variants (negative controls) are built in: `clipping` (no clipping), `noise` (half the
 * noise), `sampling` (the sampler uses 4q, capped at 1, while the accountant is told q), `division` (the noise
 * is divided by the batch size twice). Each must give a lower bound above the claim.
 *
 * tfjs-free.
 * @see https://arxiv.org/abs/2101.04535 (Nasr et al. 2021, "Adversary instantiation")
 * @see https://arxiv.org/abs/2302.07956 (Nasr et al. 2023, "Tight auditing of DP-SGD")
 * @module
 */
import { calibrateNoiseMultiplier, computeDpSgdEpsilon, type AccountantKind } from "../accounting/index.js";
import { clipAndSum, privatizeClippedSum } from "../dpsgd/privatize.js";
import { poissonSampleIndices } from "../random/index.js";
import { requireInteger, requireOneOf, requireOpenProbability, requirePositive, requireProbability } from "../errors.js";
import type { Rng } from "../random/index.js";
import { attackMetrics, type AttackMetrics } from "./roc.js";
import { epsilonLowerBound, type ThresholdEpsilonBound, type ThresholdStrategy } from "./threshold.js";

/** A deliberately broken DP-SGD step (negative control). */
export type StepBreak = "clipping" | "noise" | "sampling" | "division";

/** The `sampling` variant samples at this many times the rate told to the accountant (capped at 1). */
export const SAMPLING_MISREPORT = 4;

/** Every {@link StepBreak}. */
export const STEP_BREAKS: readonly StepBreak[] = ["clipping", "noise", "sampling", "division"];

/** Options shared by the white-box audits ({@link auditDpSgdStep} and `auditDpFedAvgRound`). */
export interface WhiteBoxAuditOptions {
  /** The claimed ε of one step or round; the noise multiplier is calibrated to it. */
  epsilon: number;
  /** δ; default 1e-5. */
  delta?: number;
  /** Gradient or model dimension d; default 4. */
  dimension?: number;
  /** Trials with each neighbour; at most 1e8. */
  trials?: number;
  /** Clip bound C; default 1. */
  l2NormClip?: number;
  /** The canary's norm before clipping, in units of C; default 100. */
  canaryNorm?: number;
  /** Accountant used to calibrate the noise and report the claim; default "pld". */
  accountant?: AccountantKind;
  /** 1 − confidence; default 0.05. */
  alpha?: number;
  /** Threshold choice; default a 20% selection split. */
  strategy?: ThresholdStrategy;
  /** Run a broken variant instead of the real mechanism. */
  break?: StepBreak;
  /** Randomness for sampling and noise. Defaults to the secure source; a seeded Rng makes the run reproducible (and is insecure). */
  rng?: Rng;
}

/** Options for {@link auditDpSgdStep}. */
export interface DpSgdStepAuditOptions extends WhiteBoxAuditOptions {
  /** Poisson rate q told to the accountant; default 0.25. */
  samplingProbability?: number;
  /** N, examples besides the canary (gradients 0); default 16. Expected batch size q·N. */
  datasetSize?: number;
}

/** Result fields shared by the white-box audits. */
export interface WhiteBoxAuditResult {
  /** The variant ("none" = dpkit's real mechanism). */
  break: StepBreak | "none";
  /** The accountant's ε for the calibrated noise (<= the requested ε). */
  claimedEpsilon: number;
  /** δ of the claim. */
  delta: number;
  /** Calibrated noise multiplier. */
  noiseMultiplier: number;
  /** Clopper–Pearson ε lower bound (assumption-free) and its confidence. */
  epsilonLowerBound: number;
  confidence: number;
  /** GDP reading of the same counts (assumes a Gaussian trade-off curve). */
  gdpEpsilonLowerBound: number;
  /** Details of the bound (threshold, rate bounds). */
  bound: ThresholdEpsilonBound;
  /** AUC, TPR at low FPR and advantage of the canary-coordinate attack. */
  metrics: AttackMetrics;
  /** Whether the lower bound exceeds the claim (a violation: a bug, or a failed confidence event). */
  violation: boolean;
  /** Trials per side and throughput. */
  trials: number;
  trialsPerSecond: number;
}

/** Result of {@link auditDpSgdStep}. */
export interface DpSgdStepAuditResult extends WhiteBoxAuditResult {
  /** What was audited. */
  mechanism: "dpsgd-step";
  /** q told to the accountant, and the rate the sampler used. */
  samplingProbability: number;
  actualSamplingProbability: number;
  /** The scores (canary coordinate · B), for plots: in = canary present. */
  scoresIn: Float32Array;
  scoresOut: Float32Array;
}

/** Checks the options shared by the white-box audits. @internal */
export function checkWhiteBoxOptions(options: WhiteBoxAuditOptions, defaultTrials: number) {
  return {
    target: requirePositive("epsilon", options.epsilon),
    delta: requireOpenProbability("delta", options.delta ?? 1e-5),
    d: requireInteger("dimension", options.dimension ?? 4, { min: 1, max: 4096 }),
    trials: requireInteger("trials", options.trials ?? defaultTrials, { min: 10, max: 100_000_000 }),
    clip: requirePositive("l2NormClip", options.l2NormClip ?? 1),
    canaryNorm: requirePositive("canaryNorm", options.canaryNorm ?? 100),
    brk: options.break === undefined ? ("none" as const) : requireOneOf("break", options.break, STEP_BREAKS),
  };
}

/**
 * Runs `run` with and without the canary, bounds ε from below and fills the shared result
 * fields (the scores too).
 * @internal
 */
export function boundWhiteBoxAudit(
  options: WhiteBoxAuditOptions,
  claim: { claimed: number; delta: number; noiseMultiplier: number; brk: StepBreak | "none"; trials: number },
  run: (withCanary: boolean) => Float32Array,
): WhiteBoxAuditResult & { scoresIn: Float32Array; scoresOut: Float32Array } {
  const t0 = Date.now();
  const scoresIn = run(true);
  const scoresOut = run(false);
  const seconds = Math.max(1e-3, (Date.now() - t0) / 1000);
  const bound = epsilonLowerBound({ scoresIn, scoresOut, delta: claim.delta, alpha: options.alpha ?? 0.05, strategy: options.strategy });
  return {
    break: claim.brk,
    claimedEpsilon: claim.claimed,
    delta: claim.delta,
    noiseMultiplier: claim.noiseMultiplier,
    epsilonLowerBound: bound.epsilonLowerBound,
    confidence: bound.confidence,
    gdpEpsilonLowerBound: bound.gdp.epsilonLowerBound,
    bound,
    metrics: attackMetrics(scoresIn, scoresOut),
    violation: bound.epsilonLowerBound > claim.claimed,
    trials: claim.trials,
    trialsPerSecond: (2 * claim.trials) / seconds,
    scoresIn,
    scoresOut,
  };
}

/** Runs `trials` DP-SGD steps on N zero-gradient examples (plus the canary if `withCanary`) and returns the canary coordinate of each release. */
function runSteps(o: {
  trials: number;
  withCanary: boolean;
  n: number;
  d: number;
  q: number;
  sigma: number;
  clip: number;
  canary: number;
  expectedBatchSize: number;
  brk: StepBreak | "none";
  rng?: Rng;
}): Float32Array {
  const { n, d } = o;
  const rows = o.withCanary ? n + 1 : n;
  const out = new Float32Array(o.trials);
  const CHUNK = 8192;
  const grad = new Float32Array(rows * d); // the dataset: zeros, and the canary last
  if (o.withCanary) grad[n * d] = o.canary * o.clip;
  const sums = new Float32Array(CHUNK * d);
  for (let start = 0; start < o.trials; start += CHUNK) {
    const T = Math.min(CHUNK, o.trials - start);
    // One Poisson draw over T copies of the dataset = T independent batches.
    const idx = poissonSampleIndices({ datasetSize: T * rows, samplingProbability: o.q, rng: o.rng });
    sums.fill(0);
    let p = 0;
    for (let t = 0; t < T; t++) {
      const from = p;
      while (p < idx.length && idx[p] < (t + 1) * rows) p++;
      const batch = new Float32Array((p - from) * d);
      for (let k = from; k < p; k++) {
        const row = idx[k] - t * rows;
        batch.set(grad.subarray(row * d, row * d + d), (k - from) * d);
      }
      if (o.brk === "clipping") {
        for (let k = 0; k < p - from; k++) for (let j = 0; j < d; j++) sums[t * d + j] += batch[k * d + j];
      } else {
        const { clippedSum } = clipAndSum({ perExampleGradients: batch, dimension: d, l2NormClip: o.clip });
        sums.set(clippedSum, t * d);
      }
    }
    const view = sums.subarray(0, T * d);
    let released: Float32Array;
    if (o.brk === "division") {
      // The bug: noise sized for the sum is divided by the batch size, then divided again.
      // allowInsecureRng: an audit measures the mechanism with the auditor's (possibly seeded) randomness; it releases no one's data.
      const mean = privatizeClippedSum({
        clippedSum: view,
        l2NormClip: o.clip,
        noiseMultiplier: 0,
        expectedBatchSize: o.expectedBatchSize,
        rng: o.rng,
        allowInsecureRng: true,
      });
      const noise = privatizeClippedSum({
        clippedSum: new Float32Array(T * d),
        l2NormClip: o.clip,
        noiseMultiplier: o.sigma,
        expectedBatchSize: o.expectedBatchSize,
        rng: o.rng,
        allowInsecureRng: true,
      });
      released = mean.map((m, i) => m + noise[i] / o.expectedBatchSize);
    } else {
      const sigma = o.brk === "noise" ? o.sigma / 2 : o.sigma;
      released = privatizeClippedSum({
        clippedSum: view,
        l2NormClip: o.clip,
        noiseMultiplier: sigma,
        expectedBatchSize: o.expectedBatchSize,
        rng: o.rng,
        allowInsecureRng: true,
      });
    }
    for (let t = 0; t < T; t++) out[start + t] = released[t * d] * o.expectedBatchSize;
  }
  return out;
}

/**
 * Audits one step of dpkit's DP-SGD against the ε its accountant claims: calibrates σ for the
 * claimed (ε, δ) at rate q for one step, runs the real step with and without a Dirac canary many
 * times, and bounds ε from below (Clopper–Pearson at the best threshold, confidence split by a
 * selection split, plus the GDP reading).
 *
 * @remarks
 * A correct implementation gives a bound at or below the claim (except with probability alpha);
 * a bound above the claim is a violation. The bound can only be as large as the trials allow:
 * roughly ln(trials) at best, and tight only where the rates are well estimated. The white-box
 * canary and the zero-gradient dataset make this the worst case for one step; it says nothing
 * about what a trained model reveals about natural data (see the membership-inference audits).
 * The expected batch size q·N is the same in both worlds (the dataset size is treated as
 * public, as DP-SGD implementations do).
 *
 * @param options - claim, sizes, trials, variant, rng
 * @returns the claim, the bound, attack metrics and throughput
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { auditDpSgdStep } from "dpkit/audit";
 * import { SeededRng } from "dpkit/random";
 * const r = auditDpSgdStep({ epsilon: 2, trials: 20000, rng: new SeededRng(1) });
 * console.log(r.claimedEpsilon, r.epsilonLowerBound); // the bound stays below the claim
 * ```
 * @see https://arxiv.org/abs/2302.07956
 */
export function auditDpSgdStep(options: DpSgdStepAuditOptions): DpSgdStepAuditResult {
  const { target, delta, d, trials, clip, canaryNorm: canary, brk } = checkWhiteBoxOptions(options, 200_000);
  const q = requireProbability("samplingProbability", options.samplingProbability ?? 0.25);
  if (!(q > 0)) requirePositive("samplingProbability", q);
  const n = requireInteger("datasetSize", options.datasetSize ?? 16, { min: 1, max: 1_000_000 });
  const accountant = options.accountant ?? "pld";
  const sigma = calibrateNoiseMultiplier({ targetEpsilon: target, targetDelta: delta, samplingProbability: q, steps: 1, accountant });
  const claimed = computeDpSgdEpsilon({ samplingProbability: q, noiseMultiplier: sigma, steps: 1, targetDelta: delta, accountant });
  const actualQ = brk === "sampling" ? Math.min(1, SAMPLING_MISREPORT * q) : q;
  const common = { trials, n, d, q: actualQ, sigma, clip, canary, expectedBatchSize: q * n, brk, rng: options.rng } as const;
  const result = boundWhiteBoxAudit(options, { claimed, delta, noiseMultiplier: sigma, brk, trials }, (withCanary) =>
    runSteps({ ...common, withCanary }),
  );
  return { mechanism: "dpsgd-step", ...result, samplingProbability: q, actualSamplingProbability: actualQ };
}
