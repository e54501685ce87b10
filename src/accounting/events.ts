/**
 * The accounting algebra: what a private operation spent, as plain JSON-serialisable data.
 *
 * The design follows Google's dp_accounting `dp_event.py`. Mechanisms, DP-SGD steps, FedAvg
 * rounds and RAPPOR reports each expose a `DpEvent`; accountants (RDP, PLD) consume events and
 * never see mechanism objects.
 *
 * @see https://github.com/google/differential-privacy/blob/main/python/dp_accounting/dp_accounting/dp_event.py
 * @module
 */
import {
  DpError,
  describeValue,
  requireInteger,
  requireNonNegative,
  requirePositive,
  requirePositiveInteger,
  requireProbability,
} from "../errors.js";

/** An event that spends nothing (e.g. a step with no data access). */
export interface NoOpEvent {
  kind: "noOp";
}
/** An event that releases data without any guarantee: accountants answer epsilon = Infinity. */
export interface NonPrivateEvent {
  kind: "nonPrivate";
}
/**
 * The Gaussian mechanism with standard deviation `noiseMultiplier` × L2 sensitivity.
 *
 * The sensitivity is the add-or-remove-one sensitivity (in DP-SGD: the clipping norm). Under the
 * accountants' `"replaceOne"` relation it is doubled (a replaced record can move a sum of clipped
 * contributions by twice the clip norm).
 */
export interface GaussianEvent {
  kind: "gaussian";
  /** sigma / L2 sensitivity; > 0. */
  noiseMultiplier: number;
}
/**
 * The Laplace mechanism with scale `noiseMultiplier` × L1 sensitivity (add-or-remove-one
 * sensitivity; doubled under the accountants' `"replaceOne"` relation, as for {@link GaussianEvent}).
 */
export interface LaplaceEvent {
  kind: "laplace";
  /** b / L1 sensitivity; > 0. */
  noiseMultiplier: number;
}
/**
 * k-ary randomized response: the true bucket is reported with probability
 * `1 - noiseParameter + noiseParameter / numBuckets`, each other bucket with
 * `noiseParameter / numBuckets` (dp_accounting's convention).
 */
export interface RandomizedResponseEvent {
  kind: "randomizedResponse";
  /** Probability of answering uniformly at random, in [0, 1]. */
  noiseParameter: number;
  /** Number of buckets k >= 2. */
  numBuckets: number;
}
/** A mechanism known only to be (epsilon, delta)-DP. */
export interface EpsilonDeltaEvent {
  kind: "epsilonDelta";
  epsilon: number;
  delta: number;
}
/** `event` applied to a Poisson sample: each record joins independently with `samplingProbability`. */
export interface PoissonSampledEvent {
  kind: "poissonSampled";
  samplingProbability: number;
  event: DpEvent;
}
/** `event` applied to a uniformly random subset of exactly `sampleSize` of `sourceDatasetSize` records. */
export interface SampledWithoutReplacementEvent {
  kind: "sampledWithoutReplacement";
  sourceDatasetSize: number;
  sampleSize: number;
  event: DpEvent;
}
/** Sequential composition of several events. */
export interface ComposedEvent {
  kind: "composed";
  events: DpEvent[];
}
/** `count`-fold composition of the same event. */
export interface SelfComposedEvent {
  kind: "selfComposed";
  event: DpEvent;
  count: number;
}

/** What a private operation spent. A discriminated union on `kind`. */
export type DpEvent =
  | NoOpEvent
  | NonPrivateEvent
  | GaussianEvent
  | LaplaceEvent
  | RandomizedResponseEvent
  | EpsilonDeltaEvent
  | PoissonSampledEvent
  | SampledWithoutReplacementEvent
  | ComposedEvent
  | SelfComposedEvent;

/** Every `kind` a `DpEvent` may have. */
export const DP_EVENT_KINDS = [
  "noOp",
  "nonPrivate",
  "gaussian",
  "laplace",
  "randomizedResponse",
  "epsilonDelta",
  "poissonSampled",
  "sampledWithoutReplacement",
  "composed",
  "selfComposed",
] as const satisfies readonly DpEvent["kind"][];

/** Compile-time exhaustiveness check for `switch (event.kind)`; throws at run time on an unknown kind. */
export function assertNever(x: never, what = "event"): never {
  const kind = (x as { kind?: unknown } | null)?.kind;
  throw new DpError("unsupported_event", `Unknown ${what} kind ${describeValue(kind)}.`, "kind");
}

/** An event that spends nothing. */
export function noOpEvent(): NoOpEvent {
  return { kind: "noOp" };
}

/** An event with no privacy guarantee. */
export function nonPrivateEvent(): NonPrivateEvent {
  return { kind: "nonPrivate" };
}

/**
 * The Gaussian mechanism.
 * @param noiseMultiplier - standard deviation divided by the L2 sensitivity; > 0
 * @throws {@link DpError} `invalid_parameter` when `noiseMultiplier` is not > 0
 * @example
 * ```ts
 * import { gaussianEvent } from "dpkit/accounting";
 * const e = gaussianEvent(1.1); // { kind: "gaussian", noiseMultiplier: 1.1 }
 * ```
 */
export function gaussianEvent(noiseMultiplier: number): GaussianEvent {
  return { kind: "gaussian", noiseMultiplier: requirePositive("noiseMultiplier", noiseMultiplier) };
}

/**
 * The Laplace mechanism.
 * @param noiseMultiplier - scale b divided by the L1 sensitivity; > 0
 */
export function laplaceEvent(noiseMultiplier: number): LaplaceEvent {
  return { kind: "laplace", noiseMultiplier: requirePositive("noiseMultiplier", noiseMultiplier) };
}

/**
 * k-ary randomized response in dp_accounting's parametrisation.
 * @param noiseParameter - probability of replacing the answer by a uniform bucket, in [0, 1]
 * @param numBuckets - k >= 2
 */
export function randomizedResponseEvent(noiseParameter: number, numBuckets: number): RandomizedResponseEvent {
  return {
    kind: "randomizedResponse",
    noiseParameter: requireProbability("noiseParameter", noiseParameter),
    numBuckets: requireInteger("numBuckets", numBuckets, { min: 2 }),
  };
}

/**
 * A mechanism known only to be (epsilon, delta)-DP.
 * @param epsilon - >= 0, finite
 * @param delta - in [0, 1]
 */
export function epsilonDeltaEvent(epsilon: number, delta: number): EpsilonDeltaEvent {
  return {
    kind: "epsilonDelta",
    epsilon: requireNonNegative("epsilon", epsilon),
    delta: requireProbability("delta", delta),
  };
}

/**
 * `event` run on a Poisson sample with rate `samplingProbability`.
 * @example
 * ```ts
 * import { gaussianEvent, poissonSampledEvent, selfComposedEvent } from "dpkit/accounting";
 * // 14,063 DP-SGD steps at q = 256/60000 and sigma = 1.1:
 * const training = selfComposedEvent(poissonSampledEvent(256 / 60000, gaussianEvent(1.1)), 14063);
 * ```
 */
export function poissonSampledEvent(samplingProbability: number, event: DpEvent): PoissonSampledEvent {
  return {
    kind: "poissonSampled",
    samplingProbability: requireProbability("samplingProbability", samplingProbability),
    event: validateEvent(event, "event"),
  };
}

/** `event` run on `sampleSize` records drawn without replacement from `sourceDatasetSize`. */
export function sampledWithoutReplacementEvent(
  sourceDatasetSize: number,
  sampleSize: number,
  event: DpEvent,
): SampledWithoutReplacementEvent {
  const n = requirePositiveInteger("sourceDatasetSize", sourceDatasetSize);
  const m = requireInteger("sampleSize", sampleSize, { min: 0, max: n });
  return { kind: "sampledWithoutReplacement", sourceDatasetSize: n, sampleSize: m, event: validateEvent(event, "event") };
}

/** Sequential composition of `events`. */
export function composedEvent(events: DpEvent[]): ComposedEvent {
  if (!Array.isArray(events)) {
    throw new DpError("invalid_parameter", `\`events\` must be an array. Found ${describeValue(events)}.`, "events");
  }
  return { kind: "composed", events: events.map((e, i) => validateEvent(e, `events[${i}]`)) };
}

/** `count`-fold composition of `event` (count >= 0). */
export function selfComposedEvent(event: DpEvent, count: number): SelfComposedEvent {
  return {
    kind: "selfComposed",
    event: validateEvent(event, "event"),
    count: requireInteger("count", count, { min: 0 }),
  };
}

function field(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/**
 * Checks that `value` is a well-formed `DpEvent` (every field, recursively) and returns a fresh
 * copy holding only the known fields.
 * @param value - anything, e.g. parsed JSON
 * @param path - the argument name used in error messages
 * @throws {@link DpError} `unsupported_event` for an unknown kind, `invalid_parameter` for a bad field
 */
export function validateEvent(value: unknown, path = "event"): DpEvent {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new DpError("invalid_parameter", `\`${path}\` must be a DpEvent object. Found ${describeValue(value)}.`, path);
  }
  const v = value as Record<string, unknown>;
  const kind = v.kind;
  if (typeof kind !== "string" || !(DP_EVENT_KINDS as readonly string[]).includes(kind)) {
    throw new DpError(
      "unsupported_event",
      `\`${field(path, "kind")}\` must be one of ${DP_EVENT_KINDS.join(", ")}. Found ${describeValue(kind)}.`,
      field(path, "kind"),
    );
  }
  const k = kind as DpEvent["kind"];
  switch (k) {
    case "noOp":
      return { kind: "noOp" };
    case "nonPrivate":
      return { kind: "nonPrivate" };
    case "gaussian":
      return { kind: "gaussian", noiseMultiplier: requirePositive(field(path, "noiseMultiplier"), v.noiseMultiplier) };
    case "laplace":
      return { kind: "laplace", noiseMultiplier: requirePositive(field(path, "noiseMultiplier"), v.noiseMultiplier) };
    case "randomizedResponse":
      return {
        kind: "randomizedResponse",
        noiseParameter: requireProbability(field(path, "noiseParameter"), v.noiseParameter),
        numBuckets: requireInteger(field(path, "numBuckets"), v.numBuckets, { min: 2 }),
      };
    case "epsilonDelta":
      return {
        kind: "epsilonDelta",
        epsilon: requireNonNegative(field(path, "epsilon"), v.epsilon),
        delta: requireProbability(field(path, "delta"), v.delta),
      };
    case "poissonSampled":
      return {
        kind: "poissonSampled",
        samplingProbability: requireProbability(field(path, "samplingProbability"), v.samplingProbability),
        event: validateEvent(v.event, field(path, "event")),
      };
    case "sampledWithoutReplacement": {
      const n = requirePositiveInteger(field(path, "sourceDatasetSize"), v.sourceDatasetSize);
      const m = requireInteger(field(path, "sampleSize"), v.sampleSize, { min: 0, max: n });
      return {
        kind: "sampledWithoutReplacement",
        sourceDatasetSize: n,
        sampleSize: m,
        event: validateEvent(v.event, field(path, "event")),
      };
    }
    case "composed": {
      if (!Array.isArray(v.events)) {
        throw new DpError(
          "invalid_parameter",
          `\`${field(path, "events")}\` must be an array. Found ${describeValue(v.events)}.`,
          field(path, "events"),
        );
      }
      return { kind: "composed", events: v.events.map((e, i) => validateEvent(e, `${field(path, "events")}[${i}]`)) };
    }
    case "selfComposed":
      return {
        kind: "selfComposed",
        event: validateEvent(v.event, field(path, "event")),
        count: requireInteger(field(path, "count"), v.count, { min: 0 }),
      };
    default:
      return assertNever(k);
  }
}

/** Serialises an event to a JSON string (after validating it). */
export function eventToJson(event: DpEvent): string {
  return JSON.stringify(validateEvent(event));
}

/**
 * Parses and validates a JSON string produced by {@link eventToJson} (or by hand).
 * @throws {@link DpError} `invalid_parameter` on malformed JSON or fields
 */
export function eventFromJson(json: string): DpEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new DpError("invalid_parameter", `\`json\` is not valid JSON: ${(e as Error).message}`, "json");
  }
  const event = validateEvent(parsed, "event");
  refuseUnknownFields(parsed, event, "event");
  return event;
}

/**
 * JSON written by hand may carry fields an event does not have (`count` on a `composed` event):
 * they would be ignored silently, so they are refused, naming the field.
 */
function refuseUnknownFields(raw: unknown, event: DpEvent, path: string): void {
  const r = raw as Record<string, unknown>;
  const e = event as unknown as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!(key in e)) {
      throw new DpError(
        "invalid_parameter",
        `\`${field(path, key)}\` is not a field of a ${JSON.stringify(event.kind)} event (it would be ignored).`,
        field(path, key),
      );
    }
  }
  if ("event" in e) refuseUnknownFields(r.event, e.event as DpEvent, field(path, "event"));
  if (Array.isArray(e.events))
    (e.events as DpEvent[]).forEach((sub, i) => refuseUnknownFields((r.events as unknown[])[i], sub, `${path}.events[${i}]`));
}
