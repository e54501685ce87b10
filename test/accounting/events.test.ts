import { describe, expect, it } from "vitest";
import { DpError } from "../../src/errors.js";
import {
  DP_EVENT_KINDS,
  composedEvent,
  epsilonDeltaEvent,
  eventFromJson,
  eventToJson,
  gaussianEvent,
  laplaceEvent,
  noOpEvent,
  nonPrivateEvent,
  poissonSampledEvent,
  randomizedResponseEvent,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
  validateEvent,
  type DpEvent,
} from "../../src/accounting/events.js";

const all: DpEvent[] = [
  noOpEvent(),
  nonPrivateEvent(),
  gaussianEvent(1.1),
  laplaceEvent(0.5),
  randomizedResponseEvent(0.25, 4),
  epsilonDeltaEvent(1, 1e-6),
  poissonSampledEvent(256 / 60000, gaussianEvent(1.1)),
  sampledWithoutReplacementEvent(60000, 256, laplaceEvent(2)),
  composedEvent([gaussianEvent(2), laplaceEvent(1)]),
  selfComposedEvent(poissonSampledEvent(0.01, gaussianEvent(1)), 14063),
];

describe("DpEvent", () => {
  it("has a constructor for every kind", () => {
    expect(new Set(all.map((e) => e.kind))).toEqual(new Set(DP_EVENT_KINDS));
  });

  it("round-trips through JSON exactly, including the exact double 256/60000", () => {
    for (const e of all) {
      const back = eventFromJson(eventToJson(e));
      expect(back).toEqual(e);
    }
    const nested = selfComposedEvent(composedEvent(all), 3);
    expect(eventFromJson(JSON.stringify(nested))).toEqual(nested);
    const q = (eventFromJson(eventToJson(all[6])) as { samplingProbability: number }).samplingProbability;
    expect(q).toBe(256 / 60000);
  });

  it("drops unknown fields on validation", () => {
    expect(validateEvent({ kind: "gaussian", noiseMultiplier: 1, extra: 5 })).toEqual({ kind: "gaussian", noiseMultiplier: 1 });
  });

  it("rejects bad fields with the path of the field", () => {
    const cases: [unknown, RegExp][] = [
      [{ kind: "gaussian", noiseMultiplier: 0 }, /`event.noiseMultiplier` must be > 0. Found 0./],
      [{ kind: "gaussian", noiseMultiplier: NaN }, /`event.noiseMultiplier`/],
      [{ kind: "laplace" }, /`event.noiseMultiplier` must be a finite number. Found undefined./],
      [{ kind: "randomizedResponse", noiseParameter: 1.5, numBuckets: 2 }, /`event.noiseParameter` must be in \[0, 1\]/],
      [{ kind: "randomizedResponse", noiseParameter: 0.5, numBuckets: 1 }, /`event.numBuckets` must be an integer >= 2/],
      [{ kind: "epsilonDelta", epsilon: -1, delta: 0 }, /`event.epsilon` must be >= 0/],
      [{ kind: "epsilonDelta", epsilon: 1, delta: 2 }, /`event.delta`/],
      [{ kind: "poissonSampled", samplingProbability: 1.1, event: { kind: "noOp" } }, /`event.samplingProbability`/],
      [
        { kind: "poissonSampled", samplingProbability: 0.1, event: { kind: "gaussian", noiseMultiplier: -1 } },
        /`event.event.noiseMultiplier`/,
      ],
      [
        { kind: "sampledWithoutReplacement", sourceDatasetSize: 10, sampleSize: 11, event: { kind: "noOp" } },
        /`event.sampleSize` must be an integer in \[0, 10\]/,
      ],
      [{ kind: "composed", events: "x" }, /`event.events` must be an array/],
      [{ kind: "composed", events: [{ kind: "noOp" }, { kind: "bogus" }] }, /`event.events\[1\].kind` must be one of/],
      [{ kind: "selfComposed", event: { kind: "noOp" }, count: 2.5 }, /`event.count` must be a safe integer/],
      [null, /`event` must be a DpEvent object. Found null./],
      [[], /`event` must be a DpEvent object/],
    ];
    for (const [v, re] of cases) expect(() => validateEvent(v)).toThrow(re);
  });

  it("answers unsupported_event for unknown kinds and invalid_parameter for bad JSON", () => {
    try {
      validateEvent({ kind: "zcdp", rho: 1 });
      expect.unreachable();
    } catch (e) {
      expect((e as DpError).code).toBe("unsupported_event");
    }
    expect(() => eventFromJson("{not json")).toThrow(/`json` is not valid JSON/);
  });

  it("constructors validate their arguments", () => {
    expect(() => gaussianEvent(-1)).toThrow("`noiseMultiplier` must be > 0. Found -1.");
    expect(() => poissonSampledEvent(NaN, noOpEvent())).toThrow(/`samplingProbability`/);
    expect(() => selfComposedEvent(noOpEvent(), -1)).toThrow(/`count`/);
    expect(() => composedEvent([{ kind: "nope" } as unknown as DpEvent])).toThrow(/`events\[0\].kind`/);
  });
});
