/**
 * The ledger: an event builder that merges repeats (as dp_accounting's `DpEventBuilder`), so a
 * run of a million identical steps is stored as one `selfComposed` entry. Composition is
 * commutative, so merging an event with an earlier identical one changes nothing an accountant
 * computes. The accountants, the budgets (in memory and SQLite), `makePrivate` and the FedAvg
 * server keep what they spent in one.
 *
 * @see https://github.com/google/differential-privacy/blob/main/python/dp_accounting/dp_accounting/dp_event_builder.py
 * @module
 */
import { requireInteger } from "../errors.js";
import { composedEvent, noOpEvent, selfComposedEvent, validateEvent, type DpEvent } from "./events.js";

/**
 * Builds the composition of events, merging repeats of the same event (by value).
 *
 * @example
 * ```ts
 * import { DpEventBuilder, gaussianEvent } from "dpkit/accounting";
 * const ledger = new DpEventBuilder();
 * for (let i = 0; i < 3; i++) ledger.compose(gaussianEvent(2));
 * ledger.build(); // { kind: "selfComposed", event: { kind: "gaussian", noiseMultiplier: 2 }, count: 3 }
 * ```
 */
export class DpEventBuilder {
  private readonly counts = new Map<string, { event: DpEvent; count: number }>();

  /**
   * Adds `count` repetitions of `event` (validated; merged with an identical earlier event).
   * @param event - what was spent
   * @param count - repetitions, an integer >= 0 (0 records nothing)
   * @returns this builder
   * @throws {@link DpError} `invalid_parameter` or `unsupported_event` for a malformed event or count
   */
  compose(event: DpEvent, count = 1): this {
    const ev = validateEvent(event, "event");
    const c = requireInteger("count", count, { min: 0 });
    if (c === 0 || ev.kind === "noOp") return this;
    const key = JSON.stringify(ev);
    const entry = this.counts.get(key);
    if (entry) entry.count += c;
    else this.counts.set(key, { event: ev, count: c });
    return this;
  }

  /** The distinct events with their counts folded in (`selfComposed` when repeated), first-seen order. */
  get events(): DpEvent[] {
    return [...this.counts.values()].map((e) => (e.count === 1 ? e.event : selfComposedEvent(e.event, e.count)));
  }

  /**
   * Everything composed, as one event: `noOp` when empty, the single entry alone, else `composed`.
   * @returns the event
   */
  build(): DpEvent {
    const events = this.events;
    if (events.length === 0) return noOpEvent();
    return events.length === 1 ? events[0] : composedEvent(events);
  }

  /**
   * An independent copy.
   * @returns the copy
   */
  clone(): DpEventBuilder {
    const c = new DpEventBuilder();
    for (const [k, e] of this.counts) c.counts.set(k, { event: e.event, count: e.count });
    return c;
  }
}
