/**
 * A privacy budget filter: composes events as they are spent, refuses any spend that would exceed
 * (ε, δ), and serialises its ledger so that a restarted process cannot forget what was spent.
 * @module
 */
import { DpError, describeValue, requireOneOf, requireOpenProbability, requirePositive, requireInteger } from "../errors.js";
import { ACCOUNTANT_KINDS, type AccountantKind, makeAccountant, type PrivacyAccountant } from "./accountant.js";
import { largestFitting } from "./calibrate.js";
import { type DpEvent, validateEvent } from "./events.js";
import { type NeighboringRelation, checkNeighboringRelation } from "./neighboring.js";
import { PldAccountant } from "./pld/accountant.js";
import { RdpAccountant } from "./rdp/accountant.js";

/** Options of {@link PrivacyBudget}. */
export interface PrivacyBudgetOptions {
  /** Total ε allowed, > 0. */
  epsilon: number;
  /** The δ at which ε is measured, in (0, 1). */
  delta: number;
  /**
   * `"rdp"` (default), `"pld"`, or an accountant to compose into (e.g. `createFederatedAccountant`'s;
   * the budget takes it over). A budget over an accountant that is neither RDP nor PLD cannot be
   * serialised.
   */
  accountant?: AccountantKind | PrivacyAccountant;
  /** Neighbouring relation; default `"addOrRemoveOne"` (or the given accountant's). */
  neighboringRelation?: NeighboringRelation;
  /** PLD grid width (PLD only); default 1e-4. */
  valueDiscretizationInterval?: number;
  /** Events already spent (e.g. a saved ledger), composed without a budget check. */
  spent?: DpEvent[];
}

/** The serialised state of a {@link PrivacyBudget} (plain JSON). */
export interface PrivacyBudgetJson {
  /** Format tag. */
  format: "dpkit.privacyBudget/v1";
  epsilon: number;
  delta: number;
  accountant: AccountantKind;
  neighboringRelation: NeighboringRelation;
  valueDiscretizationInterval?: number;
  /** Everything spent, in order. */
  ledger: DpEvent[];
}

/** What has been spent (ε at the budget's δ). */
export interface SpentPrivacy {
  epsilon: number;
  delta: number;
}

/**
 * A budget filter and ledger.
 *
 * @remarks
 * `spend` composes the event into the accountant only if the total ε (at the budget's δ) stays
 * <= the budget; otherwise it throws `budget_exceeded` and spends nothing. The guarantee is that of
 * the chosen accountant for the composition of everything spent — valid for a sequence of events
 * fixed in advance or chosen adaptively as long as every spend goes through the filter (a privacy
 * filter in the sense of Rogers, Roth, Ullman & Vadhan 2016; for RDP, Feldman & Zrnic 2021).
 * Persist {@link PrivacyBudget.toJSON} after every spend (or use `openSqlitePrivacyBudget`).
 *
 * @example
 * ```ts
 * import { PrivacyBudget, gaussianEvent } from "dpkit/accounting";
 * const budget = new PrivacyBudget({ epsilon: 1, delta: 1e-6 });
 * budget.spend(gaussianEvent(10));
 * if (!budget.wouldExceed(gaussianEvent(1))) budget.spend(gaussianEvent(1));
 * const saved = JSON.stringify(budget);           // store it
 * const restored = PrivacyBudget.fromJSON(saved); // after a restart
 * ```
 * @see https://arxiv.org/abs/1605.08294 (privacy filters)
 */
export class PrivacyBudget {
  /** Total ε. */
  readonly epsilon: number;
  /** The δ at which ε is measured. */
  readonly delta: number;
  /** Accountant kind (`undefined` for a custom accountant). */
  readonly accountant: AccountantKind | undefined;
  /** Neighbouring relation. */
  readonly neighboringRelation: NeighboringRelation;
  private readonly interval: number | undefined;
  private acc: PrivacyAccountant;

  /**
   * @param options - budget and accountant
   * @throws {@link DpError} `invalid_parameter` naming a bad option
   */
  constructor(options: PrivacyBudgetOptions) {
    if (options === null || typeof options !== "object") {
      throw new DpError("invalid_parameter", `\`options\` must be an object. Found ${describeValue(options)}.`, "options");
    }
    this.epsilon = requirePositive("epsilon", options.epsilon);
    this.delta = requireOpenProbability("delta", options.delta);
    this.interval =
      options.valueDiscretizationInterval === undefined
        ? undefined
        : requirePositive("valueDiscretizationInterval", options.valueDiscretizationInterval);
    const given = options.accountant;
    if (given !== null && typeof given === "object") {
      this.acc = given;
      this.accountant = given instanceof RdpAccountant ? "rdp" : given instanceof PldAccountant ? "pld" : undefined;
      this.neighboringRelation = given.neighboringRelation;
      if (options.neighboringRelation !== undefined && options.neighboringRelation !== given.neighboringRelation) {
        throw new DpError(
          "invalid_parameter",
          `\`neighboringRelation\` must match the accountant's (${given.neighboringRelation}). Found ${describeValue(options.neighboringRelation)}.`,
          "neighboringRelation",
        );
      }
    } else {
      this.accountant = given === undefined ? "rdp" : requireOneOf("accountant", given, ACCOUNTANT_KINDS);
      this.neighboringRelation = checkNeighboringRelation(options.neighboringRelation);
      this.acc = makeAccountant(this.accountant, {
        neighboringRelation: this.neighboringRelation,
        valueDiscretizationInterval: this.interval,
      });
    }
    if (options.spent !== undefined) {
      if (!Array.isArray(options.spent)) throw new DpError("invalid_parameter", "`spent` must be an array of events.", "spent");
      options.spent.forEach((e, i) => this.acc.compose(validateEvent(e, `spent[${i}]`)));
    }
  }

  /** Everything spent, in order. */
  get ledger(): DpEvent[] {
    return this.acc.ledger;
  }

  /**
   * Whether spending `event` (`count` times) would take ε above the budget. Unsupported events
   * count as exceeding (they cannot be bounded).
   * @param event - the planned spend
   * @param count - repetitions, default 1
   * @returns true if {@link PrivacyBudget.spend} would refuse it
   * @throws {@link DpError} `invalid_parameter` for a malformed event or count
   */
  wouldExceed(event: DpEvent, count = 1): boolean {
    const ev = validateEvent(event, "event");
    const c = requireInteger("count", count, { min: 0 });
    if (!this.acc.supports(ev)) return true;
    return !(this.acc.clone().compose(ev, c).getEpsilon(this.delta) <= this.epsilon);
  }

  /**
   * The largest number of repetitions of `event`, at most `limit`, that fits in what is left of
   * the budget (0 when not even one does, or the accountant cannot bound it) — the search that
   * `stepsForBudget` uses, so "stop before the budget" is decided in one place.
   * @param event - the planned spend
   * @param limit - the most repetitions asked for, an integer >= 0
   * @returns an integer in [0, limit]
   * @throws {@link DpError} `invalid_parameter` for a malformed event or limit
   */
  maxCount(event: DpEvent, limit: number): number {
    const ev = validateEvent(event, "event");
    const max = requireInteger("limit", limit, { min: 0 });
    if (!this.acc.supports(ev)) return 0;
    const fits = (k: number): boolean => this.acc.clone().compose(ev, k).getEpsilon(this.delta) <= this.epsilon;
    return largestFitting(fits, max, { tryMaxFirst: true });
  }

  /**
   * Spends `event` (`count` times), or throws and spends nothing.
   * @param event - what is about to be released
   * @param count - repetitions, default 1
   * @throws {@link DpError} `budget_exceeded` when the total would exceed (ε, δ);
   *   `unsupported_event` when the accountant cannot bound the event
   */
  spend(event: DpEvent, count = 1): void {
    this.prepareSpend(event, count).commit();
  }

  /**
   * Two-phase spend: checks the budget and returns the resulting ε and a `commit` that applies the
   * spend (e.g. after it was written to durable storage). Nothing is spent until `commit` runs; a
   * prepared spend is void once another spend has been committed.
   * @param event - what is about to be released
   * @param count - repetitions, default 1
   * @returns `{ epsilon, commit }`
   * @throws {@link DpError} `budget_exceeded` or `unsupported_event`, as {@link PrivacyBudget.spend}
   */
  prepareSpend(event: DpEvent, count = 1): { epsilon: number; commit: () => void } {
    const ev = validateEvent(event, "event");
    const c = requireInteger("count", count, { min: 0 });
    const base = this.acc;
    const trial = base.clone();
    trial.compose(ev, c); // throws unsupported_event before anything is spent
    const eps = trial.getEpsilon(this.delta);
    if (!(eps <= this.epsilon)) {
      throw new DpError(
        "budget_exceeded",
        `Spending this event would bring epsilon to ${eps} at delta ${this.delta}, above the budget ${this.epsilon}. Nothing was spent.`,
        "event",
      );
    }
    return {
      epsilon: eps,
      commit: () => {
        if (this.acc !== base)
          throw new DpError("invalid_state", "This prepared spend is stale: another spend was committed first.", "commit");
        this.acc = trial;
      },
    };
  }

  /**
   * What has been spent so far.
   * @returns `{ epsilon, delta }`: ε of everything spent, at the budget's δ
   */
  spent(): SpentPrivacy {
    return { epsilon: this.acc.getEpsilon(this.delta), delta: this.delta };
  }

  /**
   * What is left: the budget ε minus the ε spent (ε does not add up linearly under composition, so
   * this is a guide; ask {@link PrivacyBudget.wouldExceed} before spending).
   * @returns `{ epsilon, delta }`
   */
  remaining(): SpentPrivacy {
    return { epsilon: Math.max(0, this.epsilon - this.acc.getEpsilon(this.delta)), delta: this.delta };
  }

  /**
   * The serialisable state (also used by `JSON.stringify`).
   * @returns a plain object; pass it (or its JSON string) to {@link PrivacyBudget.fromJSON}
   */
  toJSON(): PrivacyBudgetJson {
    if (this.accountant === undefined)
      throw new DpError("invalid_state", "A budget over a custom accountant cannot be serialised.", "accountant");
    return {
      format: "dpkit.privacyBudget/v1",
      epsilon: this.epsilon,
      delta: this.delta,
      accountant: this.accountant,
      neighboringRelation: this.neighboringRelation,
      ...(this.interval === undefined ? {} : { valueDiscretizationInterval: this.interval }),
      ledger: this.acc.ledger,
    };
  }

  /**
   * Restores a budget from {@link PrivacyBudget.toJSON}'s output (object or JSON string),
   * re-composing its ledger.
   * @param json - the saved state
   * @returns the restored budget (possibly already over budget if the saved one was)
   * @throws {@link DpError} `invalid_parameter` for malformed state
   */
  static fromJSON(json: string | PrivacyBudgetJson): PrivacyBudget {
    let v: unknown = json;
    if (typeof json === "string") {
      try {
        v = JSON.parse(json);
      } catch (e) {
        throw new DpError("invalid_parameter", `\`json\` is not valid JSON: ${(e as Error).message}`, "json");
      }
    }
    if (v === null || typeof v !== "object" || (v as PrivacyBudgetJson).format !== "dpkit.privacyBudget/v1") {
      throw new DpError("invalid_parameter", "`json` is not a saved PrivacyBudget (format dpkit.privacyBudget/v1).", "json");
    }
    const o = v as PrivacyBudgetJson;
    if (!Array.isArray(o.ledger)) throw new DpError("invalid_parameter", "`json.ledger` must be an array.", "json.ledger");
    return new PrivacyBudget({
      epsilon: o.epsilon,
      delta: o.delta,
      accountant: o.accountant,
      neighboringRelation: o.neighboringRelation,
      valueDiscretizationInterval: o.valueDiscretizationInterval,
      spent: o.ledger,
    });
  }
}
