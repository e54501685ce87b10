/**
 * The privacy loss distribution (PLD) accountant: tight (ε, δ) accounting by composing discretised
 * privacy loss distributions with FFTs.
 * @module
 */
import { DpError, requireInteger, requireNonNegative, requireOpenProbability, requireInRange, requirePositive } from "../../errors.js";
import { type DpEvent, assertNever, selfComposedEvent, validateEvent } from "../events.js";
import { effectiveGaussianNoiseMultiplier } from "../effectiveGaussian.js";
import { type NeighboringRelation, checkNeighboringRelation } from "../neighboring.js";
import { PrivacyLossPmf } from "./pmf.js";
import {
  type PrivacyLossPair,
  epsilonDeltaPld,
  gaussianPld,
  laplacePld,
  randomizedResponsePld,
} from "./mechanisms.js";

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
export class PldAccountant {
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
  private readonly groups = new Map<string, { event: DpEvent; count: number }>();
  /** Per-group distributions already built, by key, with the count they were built for. */
  private readonly groupCache = new Map<string, { count: number; pld: PrivacyLossPair | null }>();
  private pld: PrivacyLossPair | null = null;
  private dirty = false;
  private readonly composedEvents: DpEvent[] = [];

  /**
   * @param options - grid width and neighbouring relation
   * @throws {@link DpError} `invalid_parameter` for a non-positive interval or an unknown relation
   */
  constructor(options: PldAccountantOptions = {}) {
    this.valueDiscretizationInterval =
      options.valueDiscretizationInterval === undefined
        ? 1e-4
        : requireInRange("valueDiscretizationInterval", requirePositive("valueDiscretizationInterval", options.valueDiscretizationInterval), 1e-12, 1);
    this.neighboringRelation = checkNeighboringRelation(options.neighboringRelation);
  }

  /** Every event composed so far, in order. */
  get ledger(): DpEvent[] {
    return this.composedEvents.slice();
  }

  /**
   * An independent copy (distributions are immutable and shared): compose into it to ask "what if"
   * without touching this accountant.
   * @returns the copy
   */
  clone(): PldAccountant {
    const c = new PldAccountant({ valueDiscretizationInterval: this.valueDiscretizationInterval, neighboringRelation: this.neighboringRelation });
    for (const [k, g] of this.groups) c.groups.set(k, { event: g.event, count: g.count });
    for (const [k, g] of this.groupCache) c.groupCache.set(k, g);
    c.pld = this.pld;
    c.dirty = this.dirty;
    c.composedEvents.push(...this.composedEvents);
    return c;
  }

  /**
   * Whether {@link PldAccountant.compose} would accept `event`.
   * @param event - any event
   * @returns true when it can be composed
   */
  supports(event: DpEvent): boolean {
    try {
      this.check(validateEvent(event), "event");
      return true;
    } catch (e) {
      if (e instanceof DpError) return false;
      throw e;
    }
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
    this.check(ev, "event");
    if (c === 0) return this;
    this.addLeaves(ev, c);
    this.dirty = true;
    this.composedEvents.push(c === 1 ? ev : selfComposedEvent(ev, c));
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

  private check(event: DpEvent, path: string): void {
    const refuse = (why: string): never => {
      throw new DpError("unsupported_event", `\`${path}\` (${event.kind}) is not supported by the PLD accountant: ${why}`, path);
    };
    const rel = this.neighboringRelation;
    switch (event.kind) {
      case "noOp":
      case "nonPrivate":
      case "gaussian":
      case "laplace":
      case "epsilonDelta":
        return;
      case "randomizedResponse":
        if (rel !== "replaceOne") refuse('randomized response is defined by replacing one value; use neighboringRelation: "replaceOne".');
        return;
      case "poissonSampled":
        if (rel !== "addOrRemoveOne") refuse('Poisson subsampling is only accounted under neighboringRelation "addOrRemoveOne".');
        if (effectiveGaussianNoiseMultiplier(event.event) === undefined) {
          refuse("only a Gaussian event (or a composition of Gaussian events) can be Poisson-subsampled.");
        }
        return;
      case "sampledWithoutReplacement":
        refuse("no PLD is implemented for sampling without replacement; use the RDP accountant with neighboringRelation \"replaceOne\".");
        return;
      case "composed":
        event.events.forEach((e, i) => this.check(e, `${path}.events[${i}]`));
        return;
      case "selfComposed":
        this.check(event.event, `${path}.event`);
        return;
      default:
        assertNever(event);
    }
  }

  /** Splits `event` × `count` into leaf events with multiplicities and adds them to the groups. */
  private addLeaves(event: DpEvent, count: number): void {
    if (count === 0) return;
    switch (event.kind) {
      case "noOp":
        return;
      case "composed":
        for (const e of event.events) this.addLeaves(e, count);
        return;
      case "selfComposed":
        this.addLeaves(event.event, count * event.count);
        return;
      default: {
        const key = JSON.stringify(event);
        const g = this.groups.get(key);
        if (g) g.count += count;
        else this.groups.set(key, { event, count });
      }
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
        cached = { count: g.count, pld: this.build(g.event, g.count) };
        this.groupCache.set(k, cached);
      }
      if (cached.pld !== null) acc = acc === null ? cached.pld : composePairs(acc, cached.pld);
    }
    this.pld = acc;
    this.dirty = false;
  }

  /** The PLD of `count` compositions of `event` (null = identity). */
  private build(event: DpEvent, count: number): PrivacyLossPair | null {
    const d = this.valueDiscretizationInterval;
    const factor = this.neighboringRelation === "replaceOne" ? 2 : 1;
    let single: PrivacyLossPair | null;
    switch (event.kind) {
      case "noOp":
        return null;
      case "nonPrivate":
        return { remove: PrivacyLossPmf.infinite(d), add: null };
      case "selfComposed":
        return event.count === 0 ? null : this.build(event.event, count * event.count);
      case "composed": {
        let acc: PrivacyLossPair | null = null;
        for (const e of event.events) {
          const p = this.build(e, 1);
          if (p !== null) acc = acc === null ? p : composePairs(acc, p);
        }
        single = acc;
        break;
      }
      case "gaussian":
        single = gaussianPld(event.noiseMultiplier / factor, 1, d);
        break;
      case "laplace":
        single = laplacePld(event.noiseMultiplier / factor, d);
        break;
      case "randomizedResponse":
        single = randomizedResponsePld(event.noiseParameter, event.numBuckets, d);
        break;
      case "epsilonDelta":
        single = epsilonDeltaPld(event.epsilon, event.delta, d);
        break;
      case "poissonSampled": {
        const sigma = effectiveGaussianNoiseMultiplier(event.event) as number;
        const q = event.samplingProbability;
        if (q === 0) return null;
        single = gaussianPld(sigma, q, d);
        break;
      }
      case "sampledWithoutReplacement":
        throw new DpError("unsupported_event", "sampledWithoutReplacement is not supported by the PLD accountant.", "event");
      default:
        return assertNever(event);
    }
    if (single === null || count === 1) return single;
    return selfComposePair(single, count);
  }
}
