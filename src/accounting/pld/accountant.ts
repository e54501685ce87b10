/**
 * The privacy loss distribution (PLD) accountant: tight (ε, δ) accounting by composing discretised
 * privacy loss distributions with FFTs.
 * @module
 */
import {
  DpError,
  refusesNothing,
  requireInteger,
  requireNonNegative,
  requireOpenProbability,
  requireInRange,
  requirePositive,
} from "../../errors.js";
import type { PrivacyAccountant } from "../accountant.js";
import { type DpEvent, assertNever, validateEvent } from "../events.js";
import { DpEventBuilder } from "../ledger.js";
import { effectiveGaussianNoiseMultiplier } from "../effective-gaussian.js";
import { type NeighboringRelation, checkNeighboringRelation } from "../neighboring.js";
import { PrivacyLossPmf } from "./pmf.js";
import { type PrivacyLossPair, epsilonDeltaPld, gaussianPld, laplacePld, randomizedResponsePld } from "./mechanisms.js";

/** Options of {@link PldAccountant}. */
export interface PldAccountantOptions {
  /**
   * Width of the privacy-loss grid; default 1e-4 (dp_accounting's default). Smaller is tighter
   * and slower; the ε reported exceeds the exact value by roughly steps × interval at most, and is
   * never below it.
   */
  valueDiscretizationInterval?: number;
  /** Neighbouring relation; default `"addOrRemoveOne"`. See {@link NeighboringRelation}. */
  neighboringRelation?: NeighboringRelation;
}

function composePairs(a: PrivacyLossPair, b: PrivacyLossPair): PrivacyLossPair {
  const remove = a.remove.compose(b.remove);
  if (a.add === null && b.add === null) return { remove, add: null };
  const add = (a.add ?? a.remove).compose(b.add ?? b.remove);
  return { remove, add };
}

function selfComposePair(a: PrivacyLossPair, times: number): PrivacyLossPair {
  // Two separate FFTs: packing both pmfs into one complex FFT is ~20% faster but its separation
  // error, raised to the power `times`, moved the MNIST epsilon by 4e-8; accuracy wins.
  return { remove: a.remove.selfCompose(times), add: a.add === null ? null : a.add.selfCompose(times) };
}

/** Identical leaf mechanisms: the builder of one's PLD (null = identity) and how many were composed. */
interface Group {
  build: () => PrivacyLossPair | null;
  count: number;
}

/** The PLD of a group: its leaf's PLD self-composed `count` times. */
function selfComposeGroup(g: Group): PrivacyLossPair | null {
  const single = g.build();
  return single === null || g.count === 1 ? single : selfComposePair(single, g.count);
}

/**
 * Privacy loss distribution accountant (as dp_accounting's `PLDAccountant`).
 *
 * @remarks
 * Every mechanism's privacy loss distribution is discretised pessimistically (each mass at or
 * above its true loss; connect-the-dots for Gaussian and Laplace), composed by FFT with tails of
 * mass 1e-15 moved to +∞, so the reported ε is an upper bound on the true ε of the composition —
 * typically much tighter than RDP (MNIST DP-SGD: 2.38 against RDP's 2.60).
 *
 * Supported events (anything else throws `unsupported_event`):
 *
 * | event | addOrRemoveOne | replaceOne |
 * | --- | --- | --- |
 * | gaussian, laplace | yes | sensitivity doubled |
 * | poissonSampled(Gaussian*) | both remove and add PLDs, the worse reported | refused |
 * | randomizedResponse | refused | yes |
 * | epsilonDelta | dominating pair | dominating pair |
 * | composed, selfComposed, noOp, nonPrivate | yes | yes |
 * | sampledWithoutReplacement | refused | refused |
 *
 * Unlike dp_accounting 0.6.0, a self-composed randomized response is composed `count` times.
 * Identical events are grouped (composition is commutative) and the distribution is built when ε
 * or δ is asked for, so composing DP-SGD one step at a time is cheap; each group costs one FFT
 * power.
 *
 * @example
 * ```ts
 * import { PldAccountant, gaussianEvent, poissonSampledEvent } from "dpkit/accounting";
 * const acc = new PldAccountant({ valueDiscretizationInterval: 1e-4 });
 * acc.compose(poissonSampledEvent(256 / 60000, gaussianEvent(1.1)), 14063);
 * console.log(acc.getEpsilon(1e-5)); // ≈ 2.382
 * ```
 * @see https://arxiv.org/abs/2207.04380 (Doroshenko et al. 2022, connect the dots)
 * @see https://arxiv.org/abs/2102.12412 (Koskela, Jälkö & Honkela; FFT accounting)
 */
export class PldAccountant implements PrivacyAccountant {
  /** The grid width. */
  readonly valueDiscretizationInterval: number;
  /** The neighbouring relation. */
  readonly neighboringRelation: NeighboringRelation;
  /**
   * Composition is commutative, so events are grouped: identical leaf events (by JSON) with their
   * total count. The distribution is built lazily when ε or δ is asked for: each group is
   * self-composed by FFT (one power per group, however many `compose` calls fed it) and the groups
   * are convolved. Composing DP-SGD one step at a time therefore costs O(1) per step.
   */
  private readonly groups = new Map<string, Group>();
  /** Per-group distributions already built, by key, with the count they were built for. */
  private readonly groupCache = new Map<string, { count: number; pld: PrivacyLossPair | null }>();
  private pld: PrivacyLossPair | null = null;
  private dirty = false;
  private events = new DpEventBuilder();

  /**
   * @param options - grid width and neighbouring relation
   * @throws {@link DpError} `invalid_parameter` for a non-positive interval or an unknown relation
   */
  constructor(options: PldAccountantOptions = {}) {
    this.valueDiscretizationInterval =
      options.valueDiscretizationInterval === undefined
        ? 1e-4
        : requireInRange(
            "valueDiscretizationInterval",
            requirePositive("valueDiscretizationInterval", options.valueDiscretizationInterval),
            1e-12,
            1,
          );
    this.neighboringRelation = checkNeighboringRelation(options.neighboringRelation);
  }

  /** Every event composed so far (repeats merged). */
  get ledger(): DpEvent[] {
    return this.events.events;
  }

  /**
   * An independent copy (distributions are immutable and shared): compose into it to ask "what if"
   * without touching this accountant.
   * @returns the copy
   */
  clone(): PldAccountant {
    const c = new PldAccountant({
      valueDiscretizationInterval: this.valueDiscretizationInterval,
      neighboringRelation: this.neighboringRelation,
    });
    for (const [k, g] of this.groups) c.groups.set(k, { build: g.build, count: g.count });
    for (const [k, g] of this.groupCache) c.groupCache.set(k, g);
    c.pld = this.pld;
    c.dirty = this.dirty;
    c.events = this.events.clone();
    return c;
  }

  /**
   * Whether {@link PldAccountant.compose} would accept `event`.
   * @param event - any event
   * @returns true when it can be composed
   */
  supports(event: DpEvent): boolean {
    return refusesNothing(() => this.leaves(validateEvent(event), 1, "event", new Map()));
  }

  /**
   * Composes `event` `count` times. Nothing is composed if the event is refused.
   * @param event - what was spent
   * @param count - repetitions (integer >= 0, default 1)
   * @returns this accountant
   * @throws {@link DpError} `unsupported_event` or `invalid_parameter`
   */
  compose(event: DpEvent, count = 1): this {
    const ev = validateEvent(event, "event");
    const c = requireInteger("count", count, { min: 0 });
    const added = new Map<string, Group>();
    this.leaves(ev, c, "event", added); // throws before anything is committed
    for (const [key, g] of added) {
      const old = this.groups.get(key);
      if (old) old.count += g.count;
      else this.groups.set(key, g);
      this.dirty = true;
    }
    this.events.compose(ev, c);
    return this;
  }

  /**
   * The smallest ε such that the composition is (ε, `targetDelta`)-DP (an upper bound).
   * @param targetDelta - δ in (0, 1)
   * @returns ε >= 0 (Infinity if no finite ε)
   * @throws {@link DpError} `invalid_parameter` when `targetDelta` is outside (0, 1)
   */
  getEpsilon(targetDelta: number): number {
    const d = requireOpenProbability("targetDelta", targetDelta);
    this.refresh();
    if (this.pld === null) return 0;
    const r = this.pld.remove.epsilonForDelta(d);
    return this.pld.add === null ? r : Math.max(r, this.pld.add.epsilonForDelta(d));
  }

  /**
   * Same shape as {@link RdpAccountant.getEpsilonAndOrder}, for code written against either
   * accountant: PLD accounting has no Rényi order, so `order` is NaN and `atEdge` false.
   * @param targetDelta - δ in (0, 1)
   * @returns `{ epsilon, order: NaN, atEdge: false }`
   * @throws {@link DpError} `invalid_parameter` when `targetDelta` is outside (0, 1)
   */
  getEpsilonAndOrder(targetDelta: number): { epsilon: number; order: number; atEdge: boolean } {
    return { epsilon: this.getEpsilon(targetDelta), order: NaN, atEdge: false };
  }

  /**
   * The smallest δ such that the composition is (`targetEpsilon`, δ)-DP (an upper bound).
   * @param targetEpsilon - ε >= 0
   * @returns δ in [0, 1]
   * @throws {@link DpError} `invalid_parameter` when `targetEpsilon` is negative or not finite
   */
  getDelta(targetEpsilon: number): number {
    const e = requireNonNegative("targetEpsilon", targetEpsilon);
    this.refresh();
    if (this.pld === null) return 0;
    const r = this.pld.remove.deltaForEpsilon(e);
    return this.pld.add === null ? r : Math.max(r, this.pld.add.deltaForEpsilon(e));
  }

  /**
   * The one traversal of the event algebra: splits `event` × `count` into leaf mechanisms with
   * multiplicities (composition is commutative, so identical leaves are grouped by value), each
   * with the builder of its PLD, or throws `unsupported_event`. With count 0 it only checks.
   */
  private leaves(event: DpEvent, count: number, path: string, out: Map<string, Group>): void {
    const refuse = (why: string): never => {
      throw new DpError("unsupported_event", `\`${path}\` (${event.kind}) is not supported by the PLD accountant: ${why}`, path);
    };
    const d = this.valueDiscretizationInterval;
    const factor = this.neighboringRelation === "replaceOne" ? 2 : 1;
    const add = (build: () => PrivacyLossPair | null): void => {
      if (count === 0) return;
      const key = JSON.stringify(event);
      const g = out.get(key);
      if (g) g.count += count;
      else out.set(key, { build, count });
    };
    switch (event.kind) {
      case "noOp":
        return;
      case "nonPrivate":
        return add(() => ({ remove: PrivacyLossPmf.infinite(d), add: null }));
      case "gaussian":
        return add(() => gaussianPld(event.noiseMultiplier / factor, 1, d));
      case "laplace":
        return add(() => laplacePld(event.noiseMultiplier / factor, d));
      case "epsilonDelta":
        return add(() => epsilonDeltaPld(event.epsilon, event.delta, d));
      case "randomizedResponse":
        if (this.neighboringRelation !== "replaceOne")
          refuse('randomized response is defined by replacing one value; use neighboringRelation: "replaceOne".');
        return add(() => randomizedResponsePld(event.noiseParameter, event.numBuckets, d));
      case "poissonSampled": {
        if (this.neighboringRelation !== "addOrRemoveOne")
          refuse('Poisson subsampling is only accounted under neighboringRelation "addOrRemoveOne".');
        const sigma = effectiveGaussianNoiseMultiplier(event.event);
        if (sigma === undefined) return refuse("only a Gaussian event (or a composition of Gaussian events) can be Poisson-subsampled.");
        const q = event.samplingProbability;
        return q === 0 ? undefined : add(() => gaussianPld(sigma, q, d));
      }
      case "sampledWithoutReplacement":
        return refuse(
          'no PLD is implemented for sampling without replacement; use the RDP accountant with neighboringRelation "replaceOne".',
        );
      case "composed":
        return event.events.forEach((e, i) => this.leaves(e, count, `${path}.events[${i}]`, out));
      case "selfComposed":
        return this.leaves(event.event, count * event.count, `${path}.event`, out);
      default:
        return assertNever(event);
    }
  }

  /** Builds the composed distribution from the groups (reusing groups whose count is unchanged). */
  private refresh(): void {
    if (!this.dirty) return;
    let acc: PrivacyLossPair | null = null;
    const keys = [...this.groups.keys()].sort();
    for (const k of keys) {
      const g = this.groups.get(k)!;
      let cached = this.groupCache.get(k);
      if (!cached || cached.count !== g.count) {
        cached = { count: g.count, pld: selfComposeGroup(g) };
        this.groupCache.set(k, cached);
      }
      if (cached.pld !== null) acc = acc === null ? cached.pld : composePairs(acc, cached.pld);
    }
    this.pld = acc;
    this.dirty = false;
  }
}
