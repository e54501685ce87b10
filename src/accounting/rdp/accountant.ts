/**
 * The Rényi DP (moments) accountant: composes {@link DpEvent}s into an RDP curve over a grid of
 * orders and converts it to (ε, δ).
 * @module
 */
import { DpError, refusesNothing, describeValue, requireInteger, requireNonNegative, requireOpenProbability } from "../../errors.js";
import type { PrivacyAccountant } from "../accountant.js";
import { type DpEvent, assertNever, validateEvent } from "../events.js";
import { DpEventBuilder } from "../ledger.js";
import { effectiveGaussianNoiseMultiplier } from "../effective-gaussian.js";
import { type NeighboringRelation, checkNeighboringRelation } from "../neighboring.js";
import { DEFAULT_RDP_ORDERS } from "./orders.js";
import { gaussianRdpValue, poissonSubsampledGaussianRdpValue } from "./subsampled-gaussian.js";
import { laplaceRdpValue, pureDpRdpValue, randomizedResponseRdpValue, sampledWithoutReplacementGaussianRdpValue } from "./mechanisms.js";
import { rdpToDelta, rdpToEpsilon } from "./conversion.js";

/** Options of {@link RdpAccountant}. */
export interface RdpAccountantOptions {
  /** Rényi orders (each > 1, finite). Default: {@link DEFAULT_RDP_ORDERS} (dp_accounting's). */
  orders?: readonly number[];
  /** Neighbouring relation; default `"addOrRemoveOne"`. See {@link NeighboringRelation}. */
  neighboringRelation?: NeighboringRelation;
}

/** ε together with the Rényi order that attains it. */
export interface RdpEpsilonAndOrder {
  /** The smallest ε (over the order grid) such that the composition is (ε, δ)-DP. */
  epsilon: number;
  /** The order attaining it. */
  order: number;
  /**
   * True when the optimal order is the smallest or the largest of the grid: a wider grid may give
   * a smaller ε. Extend `orders` in that case.
   */
  atEdge: boolean;
}

/** A per-event RDP vector cache shared by all accountants (calibration recomputes the same events). */
const curveCache = new Map<string, Float64Array>();
const CURVE_CACHE_LIMIT = 512;

/**
 * Rényi differential privacy (moments) accountant.
 *
 * @remarks
 * Supported events (anything else throws `unsupported_event`; the accountant never guesses):
 *
 * | event | addOrRemoveOne | replaceOne |
 * | --- | --- | --- |
 * | gaussian (σ) | α/(2σ²) | sensitivity doubled: 2α/σ² |
 * | laplace (b) | Mironov 2017 Prop. 6, ε = 1/b | ε = 2/b |
 * | randomizedResponse | refused (defined by replacing a value) | exact |
 * | epsilonDelta | as stated (ε-DP curve + δ) | as stated |
 * | poissonSampled(Gaussian*) | Mironov–Talwar–Zhang 2019 (exact at integer orders, signed series at fractional) | refused |
 * | sampledWithoutReplacement(Gaussian*) | refused | Wang–Balle–Kasiviswanathan 2019 Thm 9, integer orders only |
 * | composed, selfComposed, noOp | composition | composition |
 * | nonPrivate | ε = ∞ | ε = ∞ |
 *
 * Gaussian* = a Gaussian event or a (self-)composition of Gaussian events. Noise multipliers are
 * relative to the add-or-remove sensitivity (the clipping norm in DP-SGD).
 *
 * Conversion to (ε, δ) uses Canonne–Kamath–Steinke 2020 Prop. 12 as dp_accounting does.
 * Values at fractional orders are rounded up, never down (see `subsampled-gaussian.ts`).
 *
 * @example
 * ```ts
 * import { RdpAccountant, gaussianEvent, poissonSampledEvent } from "dpkit/accounting";
 * const acc = new RdpAccountant();
 * acc.compose(poissonSampledEvent(256 / 60000, gaussianEvent(1.1)), 14063);
 * const { epsilon, order, atEdge } = acc.getEpsilonAndOrder(1e-5); // ≈ 2.597 at order 8.1
 * ```
 * @see https://arxiv.org/abs/1908.10530 (Mironov, Talwar & Zhang 2019)
 * @see https://arxiv.org/abs/2004.00010 (Canonne, Kamath & Steinke 2020)
 */
export class RdpAccountant implements PrivacyAccountant {
  /** The orders of the grid (frozen copy). */
  readonly orders: readonly number[];
  /** The neighbouring relation. */
  readonly neighboringRelation: NeighboringRelation;
  private readonly rdpValues: Float64Array;
  private extraDelta = 0;
  private readonly ordersKey: string;
  private events = new DpEventBuilder();

  /**
   * @param options - orders and neighbouring relation
   * @throws {@link DpError} `invalid_parameter` for an order that is not a finite number > 1, or an unknown relation
   */
  constructor(options: RdpAccountantOptions = {}) {
    if (options.orders !== undefined && !Array.isArray(options.orders)) {
      throw new DpError("invalid_parameter", `\`orders\` must be an array. Found ${describeValue(options.orders)}.`, "orders");
    }
    const orders: readonly number[] = options.orders ?? DEFAULT_RDP_ORDERS;
    if (orders.length === 0) throw new DpError("invalid_parameter", "`orders` must not be empty. Found an array of length 0.", "orders");
    orders.forEach((a, i) => {
      if (typeof a !== "number" || !Number.isFinite(a) || !(a > 1)) {
        throw new DpError("invalid_parameter", `\`orders[${i}]\` must be a finite number > 1. Found ${String(a)}.`, `orders[${i}]`);
      }
    });
    this.orders = Object.freeze([...orders]);
    this.neighboringRelation = checkNeighboringRelation(options.neighboringRelation);
    this.rdpValues = new Float64Array(orders.length);
    this.ordersKey = orders.join(",");
  }

  /** Every event composed so far (repeats merged, self-composition counts folded in). */
  get ledger(): DpEvent[] {
    return this.events.events;
  }

  /** The current RDP value at each order (a copy). */
  get rdp(): Float64Array {
    return this.rdpValues.slice();
  }

  /**
   * An independent copy (same orders, relation, curve and ledger): compose into it to ask "what
   * if" without touching this accountant.
   * @returns the copy
   */
  clone(): RdpAccountant {
    const c = new RdpAccountant({ orders: this.orders, neighboringRelation: this.neighboringRelation });
    c.rdpValues.set(this.rdpValues);
    c.extraDelta = this.extraDelta;
    c.events = this.events.clone();
    return c;
  }

  /** The δ spent by `epsilonDelta` events outside the RDP curve. */
  get additionalDelta(): number {
    return this.extraDelta;
  }

  /**
   * Whether {@link RdpAccountant.compose} would accept `event` (well-formed and supported under
   * this accountant's relation).
   * @param event - any event
   * @returns true when it can be composed
   */
  supports(event: DpEvent): boolean {
    return refusesNothing(() => this.accumulate(validateEvent(event), 1, "event", new Float64Array(this.orders.length), { value: 0 }));
  }

  /**
   * Composes `event` `count` times into the curve. Nothing is composed if the event is refused.
   * @param event - what was spent
   * @param count - number of repetitions (integer >= 0, default 1)
   * @returns this accountant, for chaining
   * @throws {@link DpError} `unsupported_event` when the event (or a sub-event) has no RDP bound
   *   here; `invalid_parameter` for a malformed event or count
   */
  compose(event: DpEvent, count = 1): this {
    const ev = validateEvent(event, "event");
    const c = requireInteger("count", count, { min: 0 });
    const curve = this.rdpValues.slice();
    const delta = { value: this.extraDelta };
    this.accumulate(ev, c, "event", curve, delta); // throws before anything is committed
    this.rdpValues.set(curve);
    this.extraDelta = delta.value;
    this.events.compose(ev, c);
    return this;
  }

  /**
   * The smallest ε such that everything composed so far is (ε, `targetDelta`)-DP.
   * @param targetDelta - δ in (0, 1)
   * @returns ε >= 0 (Infinity when nothing finite is implied)
   * @throws {@link DpError} `invalid_parameter` when `targetDelta` is outside (0, 1)
   */
  getEpsilon(targetDelta: number): number {
    return this.getEpsilonAndOrder(targetDelta).epsilon;
  }

  /**
   * ε, the optimal order, and whether that order sits at the edge of the grid.
   * @param targetDelta - δ in (0, 1)
   * @returns `{ epsilon, order, atEdge }`
   * @throws {@link DpError} `invalid_parameter` when `targetDelta` is outside (0, 1)
   */
  getEpsilonAndOrder(targetDelta: number): RdpEpsilonAndOrder {
    const d = requireOpenProbability("targetDelta", targetDelta);
    // target = 1 - (1 - effective)(1 - extra)
    const effective = -Math.expm1(Math.log1p(-d) - Math.log1p(-this.extraDelta));
    if (!(effective > 0)) return { epsilon: Infinity, order: NaN, atEdge: false };
    const { value, order } = rdpToEpsilon(this.orders, this.rdpValues, effective);
    const min = Math.min(...this.orders);
    const max = Math.max(...this.orders);
    const atEdge = value > 0 && Number.isFinite(value) && (order === min || order === max);
    return { epsilon: value, order, atEdge };
  }

  /**
   * The smallest δ such that everything composed so far is (`targetEpsilon`, δ)-DP.
   * @param targetEpsilon - ε >= 0
   * @returns δ in [0, 1]
   * @throws {@link DpError} `invalid_parameter` when `targetEpsilon` is negative or not finite
   */
  getDelta(targetEpsilon: number): number {
    const e = requireNonNegative("targetEpsilon", targetEpsilon);
    const { value } = rdpToDelta(this.orders, this.rdpValues, e);
    return Math.min(1, value + this.extraDelta - value * this.extraDelta);
  }

  /**
   * The one traversal of the event algebra: adds count × (RDP of `event`) into `acc` (δ of
   * (ε, δ) events composes as 1 - Π(1 - δ)), or throws `unsupported_event`. With count 0 it only
   * checks (selfComposed(…, 0) spends nothing, even for nonPrivate).
   */
  private accumulate(event: DpEvent, count: number, path: string, acc: Float64Array, delta: { value: number }): void {
    const refuse = (why: string): never => {
      throw new DpError("unsupported_event", `\`${path}\` (${event.kind}) is not supported by the RDP accountant: ${why}`, path);
    };
    const rel = this.neighboringRelation;
    switch (event.kind) {
      case "noOp":
        return;
      case "nonPrivate":
        if (count > 0) acc.fill(Infinity);
        return;
      case "composed":
        event.events.forEach((e, i) => this.accumulate(e, count, `${path}.events[${i}]`, acc, delta));
        return;
      case "selfComposed":
        this.accumulate(event.event, count * event.count, `${path}.event`, acc, delta);
        return;
      case "epsilonDelta":
        if (count === 0) return;
        delta.value = -Math.expm1(Math.log1p(-delta.value) + count * Math.log1p(-event.delta));
        this.addCurve(acc, count, event, (a) => pureDpRdpValue(event.epsilon, a));
        return;
      case "gaussian": {
        const sigma = rel === "replaceOne" ? event.noiseMultiplier / 2 : event.noiseMultiplier;
        for (let i = 0; i < acc.length && count > 0; i++) acc[i] += count * gaussianRdpValue(sigma, this.orders[i]);
        return;
      }
      case "laplace": {
        const eps = (rel === "replaceOne" ? 2 : 1) / event.noiseMultiplier;
        if (count > 0) this.addCurve(acc, count, event, (a) => laplaceRdpValue(eps, a));
        return;
      }
      case "randomizedResponse":
        if (rel !== "replaceOne") refuse('randomized response is defined by replacing one value; use neighboringRelation: "replaceOne".');
        if (count > 0) this.addCurve(acc, count, event, (a) => randomizedResponseRdpValue(event.noiseParameter, event.numBuckets, a));
        return;
      case "poissonSampled": {
        if (rel !== "addOrRemoveOne") {
          refuse('Poisson subsampling is only accounted under neighboringRelation "addOrRemoveOne" (the dataset size is not fixed).');
        }
        const sigma = effectiveGaussianNoiseMultiplier(event.event);
        if (sigma === undefined) return refuse("only a Gaussian event (or a composition of Gaussian events) can be Poisson-subsampled.");
        const q = event.samplingProbability;
        if (count > 0)
          this.addCurve(acc, count, { kind: "poissonSampled", q, sigma }, (a) => poissonSubsampledGaussianRdpValue(q, sigma, a));
        return;
      }
      case "sampledWithoutReplacement": {
        if (rel !== "replaceOne") {
          refuse(
            'sampling without replacement has an RDP bound only under neighboringRelation "replaceOne" (Wang, Balle & Kasiviswanathan 2019).',
          );
        }
        const z = effectiveGaussianNoiseMultiplier(event.event);
        if (z === undefined)
          return refuse("only a Gaussian event (or a composition of Gaussian events) can be sampled without replacement.");
        if (!this.orders.some((a) => Number.isInteger(a) && a >= 2))
          refuse("its bound exists only at integer orders, and the order grid has none.");
        // Replace-one sensitivity of a sum of contributions clipped to the add/remove sensitivity is twice it.
        const sigma = z / 2;
        const q = event.sampleSize / event.sourceDatasetSize;
        if (count > 0) this.addCurve(acc, count, { kind: "wor", q, sigma }, (a) => sampledWithoutReplacementGaussianRdpValue(q, sigma, a));
        return;
      }
      default:
        assertNever(event);
    }
  }

  private addCurve(acc: Float64Array, count: number, keyObject: object, f: (order: number) => number): void {
    const key = `${this.neighboringRelation}|${this.ordersKey}|${JSON.stringify(keyObject)}`;
    let curve = curveCache.get(key);
    if (!curve) {
      curve = Float64Array.from(this.orders, f);
      if (curveCache.size >= CURVE_CACHE_LIMIT) curveCache.delete(curveCache.keys().next().value as string);
      curveCache.set(key, curve);
    }
    for (let i = 0; i < acc.length; i++) {
      // 0 × Infinity (count 0 never reaches here) and Infinity stay Infinity.
      acc[i] += count * curve[i];
    }
  }
}
