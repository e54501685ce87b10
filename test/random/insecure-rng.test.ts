import { describe, expect, it } from "vitest";
import { DpError } from "../../src/errors.js";
import {
  exponentialMechanism,
  gaussianMechanism,
  geometricMechanism,
  laplaceMechanism,
  privateCount,
  privateMean,
  privateSum,
  reportNoisyMaxMechanism,
} from "../../src/mechanisms/index.js";
import { binaryRandomizedResponse, kRandomizedResponse, optimizedLocalHashing, optimizedUnaryEncoding } from "../../src/ldp/index.js";
import { requireSecureRng, SeededRng, type Rng } from "../../src/random/index.js";

// Issue 12, defect 10: the `secure` flag of a random source was never checked.
const seeded = (): Rng => new SeededRng(1);
const unmarked = (): Rng => ({ nextUint32: () => 4, fillBytes: (b: Uint8Array) => b.fill(4) }) as unknown as Rng;

const RELEASES: [string, (o: { rng?: Rng; allowInsecureRng?: boolean }) => { secure: boolean }][] = [
  ["laplaceMechanism", (o) => laplaceMechanism({ epsilon: 1, sensitivity: 1, ...o })],
  ["gaussianMechanism", (o) => gaussianMechanism({ epsilon: 1, delta: 1e-5, sensitivity: 1, ...o })],
  ["geometricMechanism", (o) => geometricMechanism({ epsilon: 1, ...o })],
  ["exponentialMechanism", (o) => exponentialMechanism({ epsilon: 1, sensitivity: 1, ...o })],
  ["reportNoisyMaxMechanism", (o) => reportNoisyMaxMechanism({ epsilon: 1, sensitivity: 1, ...o })],
  ["privateCount", (o) => privateCount({ data: [1, 2], epsilon: 1, ...o })],
  ["privateSum", (o) => privateSum({ data: [1, 2], lower: 0, upper: 2, epsilon: 1, ...o })],
  ["privateMean", (o) => privateMean({ data: [1, 2], lower: 0, upper: 2, epsilon: 1, ...o })],
  ["kRandomizedResponse", (o) => kRandomizedResponse({ epsilon: 1, k: 3, ...o })],
  ["binaryRandomizedResponse", (o) => binaryRandomizedResponse({ epsilon: 1, ...o })],
  ["optimizedUnaryEncoding", (o) => optimizedUnaryEncoding({ epsilon: 1, domainSize: 4, ...o })],
  ["optimizedLocalHashing", (o) => optimizedLocalHashing({ epsilon: 1, domainSize: 4, ...o })],
];

describe("release paths refuse an insecure random source unless the caller opts in", () => {
  for (const [name, make] of RELEASES) {
    it(name, () => {
      for (const rng of [seeded(), unmarked()]) {
        let caught: unknown;
        try {
          make({ rng });
        } catch (e) {
          caught = e;
        }
        expect(caught).toBeInstanceOf(DpError);
        expect((caught as DpError).code).toBe("insecure_randomness");
        expect((caught as DpError).message).toMatch(/allowInsecureRng: true/);
      }
      expect(make({ rng: seeded(), allowInsecureRng: true }).secure).toBe(false); // opted in: says it is not private
      expect(make({}).secure).toBe(true); // control: the default source
    });
  }

  it("requireSecureRng accepts only secure: true", () => {
    expect(requireSecureRng(undefined, false)).toBe(true);
    expect(() => requireSecureRng({ ...seeded(), secure: "yes" } as unknown as Rng, false)).toThrow(DpError);
    expect(requireSecureRng(seeded(), true)).toBe(false);
  });
});
