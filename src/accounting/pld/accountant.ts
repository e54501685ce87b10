/**
 * Privacy-loss-distribution accountant (in progress).
 * @module
 */
import { DpError } from "../../errors.js";
import type { DpEvent } from "../events.js";
import type { NeighboringRelation } from "../neighboring.js";

/** Options of {@link PldAccountant}. */
export interface PldAccountantOptions {
  /** Width of the privacy-loss grid; default 1e-4. */
  valueDiscretizationInterval?: number;
  /** Neighbouring relation; default `"addOrRemoveOne"`. */
  neighboringRelation?: NeighboringRelation;
}

/**
 * PLD accountant — placeholder until the implementation lands; every call refuses.
 */
export class PldAccountant {
  /** Every event composed so far. */
  readonly ledger: DpEvent[] = [];
  /** @param _options - discretisation and relation */
  constructor(_options: PldAccountantOptions = {}) {}
  /** Always false for now. */
  supports(_event: DpEvent): boolean {
    return false;
  }
  /** Refuses. */
  compose(_event: DpEvent, _count = 1): this {
    throw new DpError("unsupported_event", "The PLD accountant is not available yet.", "event");
  }
  /** Refuses. */
  getEpsilon(_targetDelta: number): number {
    throw new DpError("unsupported_event", "The PLD accountant is not available yet.", "event");
  }
  /** Refuses. */
  getDelta(_targetEpsilon: number): number {
    throw new DpError("unsupported_event", "The PLD accountant is not available yet.", "event");
  }
}
