/**
 * The pure-DP accountant: basic composition of ε-DP events (ε adds up; Dwork & Roth 2014,
 * Theorem 3.14), with amplification by Poisson sampling (Balle, Barthe & Gaboardi 2018).
 * @module
 */
import { DpError, refusesNothing, requireInteger, requireNonNegative, requireOpenProbability } from "../../errors.js";
import type { PrivacyAccountant } from "../accountant.js";
import { type DpEvent, assertNever, validateEvent } from "../events.js";
import { DpEventBuilder } from "../ledger.js";
import { type NeighboringRelation, checkNeighboringRelation } from "../neighboring.js";

/** Options of {@link PureDpAccountant}. */
export interface PureDpAccountantOptions {
  /** Neighbouring relation; default `"addOrRemoveOne"`. See {@link NeighboringRelation}. */
  neighboringRelation?: NeighboringRelation;
}

/**
 * Pure differential privacy by basic composition: the ε of a composition is the sum of the
 * events' ε, valid at every δ.
 *
 * @remarks
 * Supported events (anything else throws `unsupported_event`):
 *
 * | event | addOrRemoveOne | replaceOne |
 * | --- | --- | --- |
 * | laplace (b) | ε = 1/b | ε = 2/b |
 * | randomizedResponse (p, k) | refused (defined by replacing a value) | ε = ln(1 + k(1 − p)/p) |
 * | epsilonDelta (ε, 0) | ε | ε |
 * | poissonSampled(e) | ln(1 + q(e^ε − 1)) | refused |
 * | composed, selfComposed, noOp | sum | sum |
 * | nonPrivate | ε = ∞ | ε = ∞ |
 * | gaussian, epsilonDelta with δ > 0, sampledWithoutReplacement | refused (not pure DP) | refused |
 *
 * Loose for many compositions (RDP or PLD are far tighter there); exact for one pure event.
 *
 * @example
 * ```ts
 * import { PureDpAccountant, laplaceEvent } from "dpkit/accounting";
 * new PureDpAccountant().compose(laplaceEvent(2), 3).getEpsilon(1e-9); // 1.5
 * ```
 * @see https://arxiv.org/abs/1807.01647 (Balle, Barthe & Gaboardi 2018, amplification by subsampling)
 */
export class PureDpAccountant implements PrivacyAccountant {
  /** The neighbouring relation. */
  readonly neighboringRelation: NeighboringRelation;
  private total = 0;
  private events = new DpEventBuilder();

  /**
   * @param options - the neighbouring relation
   * @throws {@link DpError} `invalid_parameter` for an unknown relation
   */
  constructor(options: PureDpAccountantOptions = {}) {
    this.neighboringRelation = checkNeighboringRelation(options.neighboringRelation);
  }

  /** Everything composed so far (repeats merged). */
  get ledger(): DpEvent[] {
    return this.events.events;
  }

  /**
   * An independent copy.
   * @returns the copy
   */
  clone(): PureDpAccountant {
    const c = new PureDpAccountant({ neighboringRelation: this.neighboringRelation });
    c.total = this.total;
    c.events = this.events.clone();
    return c;
  }

  /**
   * Whether {@link PureDpAccountant.compose} would accept `event`.
   * @param event - any event
   * @returns true when it can be composed
   */
  supports(event: DpEvent): boolean {
    return refusesNothing(() => this.epsilonOf(validateEvent(event), "event"));
  }

  /**
   * Composes `event` `count` times, or throws and composes nothing.
   * @param event - what was spent
   * @param count - repetitions (integer >= 0, default 1)
   * @returns this accountant
   * @throws {@link DpError} `unsupported_event` for an event that is not pure DP here; `invalid_parameter`
   */
  compose(event: DpEvent, count = 1): this {
    const ev = validateEvent(event, "event");
    const c = requireInteger("count", count, { min: 0 });
    const eps = this.epsilonOf(ev, "event");
    if (c > 0) this.total += c * eps;
    this.events.compose(ev, c);
    return this;
  }

  /**
   * ε of everything composed (the same at every δ).
   * @param targetDelta - δ in (0, 1)
   * @returns ε >= 0
   * @throws {@link DpError} `invalid_parameter` when `targetDelta` is outside (0, 1)
   */
  getEpsilon(targetDelta: number): number {
    requireOpenProbability("targetDelta", targetDelta);
    return this.total;
  }

  /**
   * δ at `targetEpsilon`: 0 when the composition is `targetEpsilon`-DP, else 1 (no finer bound).
   * @param targetEpsilon - ε >= 0
   * @returns 0 or 1
   * @throws {@link DpError} `invalid_parameter` when `targetEpsilon` is negative or not finite
   */
  getDelta(targetEpsilon: number): number {
    return this.total <= requireNonNegative("targetEpsilon", targetEpsilon) ? 0 : 1;
  }

  /** The ε of one `event` (the one traversal of the algebra); throws for what is not pure DP. */
  private epsilonOf(event: DpEvent, path: string): number {
    const refuse = (why: string): never => {
      throw new DpError("unsupported_event", `\`${path}\` (${event.kind}) is not supported by the pure-DP accountant: ${why}`, path);
    };
    const rel = this.neighboringRelation;
    switch (event.kind) {
      case "noOp":
        return 0;
      case "nonPrivate":
        return Infinity;
      case "laplace":
        return (rel === "replaceOne" ? 2 : 1) / event.noiseMultiplier;
      case "randomizedResponse":
        if (rel !== "replaceOne")
          return refuse('randomized response is defined by replacing one value; use neighboringRelation: "replaceOne".');
        return event.noiseParameter === 0 ? Infinity : Math.log1p((event.numBuckets * (1 - event.noiseParameter)) / event.noiseParameter);
      case "epsilonDelta":
        return event.delta === 0 ? event.epsilon : refuse("an (epsilon, delta) event with delta > 0 is not pure DP.");
      case "gaussian":
        return refuse("the Gaussian mechanism is not pure DP; use the RDP or PLD accountant.");
      case "poissonSampled": {
        if (rel !== "addOrRemoveOne") return refuse('Poisson subsampling is only accounted under neighboringRelation "addOrRemoveOne".');
        const inner = this.epsilonOf(event.event, `${path}.event`);
        return inner === Infinity
          ? event.samplingProbability === 0
            ? 0
            : Infinity
          : Math.log1p(event.samplingProbability * Math.expm1(inner));
      }
      case "sampledWithoutReplacement":
        return refuse("sampling without replacement is not implemented here; use the RDP accountant.");
      case "composed":
        return event.events.reduce((s, e, i) => s + this.epsilonOf(e, `${path}.events[${i}]`), 0);
      case "selfComposed": {
        const inner = this.epsilonOf(event.event, `${path}.event`);
        return event.count === 0 ? 0 : event.count * inner;
      }
      default:
        return assertNever(event);
    }
  }
}
