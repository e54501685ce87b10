/**
 * The one accountant interface, implemented by the RDP, PLD and pure-DP (basic composition)
 * accountants, and the factory that makes an RDP or PLD accountant by kind.
 * @module
 */
import { requireOneOf } from "../errors.js";
import type { DpEvent } from "./events.js";
import type { NeighboringRelation } from "./neighboring.js";
import { PldAccountant } from "./pld/accountant.js";
import { RdpAccountant } from "./rdp/accountant.js";

/**
 * A privacy accountant: composes {@link DpEvent}s and answers (ε, δ) for their composition.
 *
 * @remarks
 * Each implementation handles every event kind in one traversal (a `switch` whose `default` arm
 * is a compile-time exhaustiveness check) and refuses, with `unsupported_event`, what it cannot
 * bound; a refused event composes nothing. `ledger` is what was composed, repeats merged.
 */
export interface PrivacyAccountant {
  /** The neighbouring relation every answer is for. */
  readonly neighboringRelation: NeighboringRelation;
  /** Everything composed so far (repeats merged, counts folded into `selfComposed`). */
  readonly ledger: DpEvent[];
  /** Composes `event` `count` times (default 1), or throws and composes nothing. */
  compose(event: DpEvent, count?: number): this;
  /** Whether `compose(event)` would succeed. */
  supports(event: DpEvent): boolean;
  /** The smallest ε such that the composition is (ε, `targetDelta`)-DP (an upper bound). */
  getEpsilon(targetDelta: number): number;
  /** The smallest δ such that the composition is (`targetEpsilon`, δ)-DP (an upper bound). */
  getDelta(targetEpsilon: number): number;
  /** An independent copy, to ask "what if" without touching this one. */
  clone(): PrivacyAccountant;
}

/**
 * Which accountant the one-call helpers, calibration and budgets use: Rényi DP (fast, slightly
 * loose) or privacy loss distributions (tight). (The pure-DP accountant, for ε-DP events only, is
 * constructed directly: `new PureDpAccountant()`.)
 */
export type AccountantKind = "rdp" | "pld";

/** The accountant kinds. */
export const ACCOUNTANT_KINDS: readonly AccountantKind[] = ["rdp", "pld"];

/** Options of {@link makeAccountant}. */
export interface MakeAccountantOptions {
  /** Neighbouring relation; default `"addOrRemoveOne"`. */
  neighboringRelation?: NeighboringRelation;
  /** PLD grid width (PLD only); default 1e-4. */
  valueDiscretizationInterval?: number;
}

/**
 * A fresh accountant of the given kind.
 * @param kind - `"rdp"` (default when undefined) or `"pld"`
 * @param options - relation and PLD grid width
 * @returns the accountant
 * @throws {@link DpError} `invalid_parameter` for an unknown kind or a bad option
 * @example
 * ```ts
 * import { gaussianEvent, makeAccountant } from "dpkit/accounting";
 * makeAccountant("pld").compose(gaussianEvent(2), 10).getEpsilon(1e-5);
 * ```
 */
export function makeAccountant(kind: AccountantKind | undefined, options: MakeAccountantOptions = {}): PrivacyAccountant {
  const k = kind === undefined ? "rdp" : requireOneOf("accountant", kind, ACCOUNTANT_KINDS);
  const relation = options.neighboringRelation;
  if (k === "pld")
    return new PldAccountant({ neighboringRelation: relation, valueDiscretizationInterval: options.valueDiscretizationInterval });
  return new RdpAccountant({ neighboringRelation: relation });
}
