import { describe, expect, it } from "vitest";
import { DpError } from "../../src/errors.js";
import { privateCount } from "../../src/mechanisms/index.js";
import { DEFAULT_RAPPOR_PARAMS, decodeRappor, parseRapporCountsCsv, parseRapporMapCsv, type RapporParams } from "../../src/ldp/index.js";
import { SeededRng } from "../../src/random/index.js";

// Issue 12, defect 12: lenient parsing. Unknown fields and values that would be misread are errors.
describe("no silent misreadings", () => {
  it("privateCount counts records, not the characters of a string", () => {
    expect(() => privateCount({ data: "hello" as never, epsilon: 1 })).toThrow(/`data` must be an array of records/);
    expect(() => privateCount({ data: { length: 5 } as never, epsilon: 1 })).toThrow(DpError);
    expect(Number.isInteger(privateCount({ data: ["a", "b"], epsilon: 1 }).value)).toBe(true); // control
  });

  it("SeededRng: seed -1 is refused (it gave seed 0's stream), and distinct seeds give distinct streams", () => {
    expect(() => new SeededRng(-1)).toThrow(/`seed` must be an integer in \[0, 4294967295\]/);
    expect(() => new SeededRng(2 ** 32)).toThrow(DpError); // would have folded onto seed 1
    expect(new SeededRng(0).nextUint32()).not.toBe(new SeededRng(1).nextUint32());
  });

  it("rappor: report counts beyond 2^53 and an empty map are refused", () => {
    const P: RapporParams = { ...DEFAULT_RAPPOR_PARAMS, numBits: 2, numHashes: 1, numCohorts: 1 };
    expect(() => parseRapporCountsCsv("1e308,0,0\n", P)).toThrow(/number of reports must be an integer in \[0, 2\^53 - 1\]/);
    expect(() => parseRapporMapCsv("", P)).toThrow(/`map` must hold between 1 and 10000 candidates. Found 0/);
    const counts = parseRapporCountsCsv("100,50,50\n", P);
    expect(() =>
      decodeRappor({ params: P, counts, map: { candidates: [], numCohorts: 1, numHashes: 1, numBits: 2, bits: new Int32Array(0) } }),
    ).toThrow(/`map` must hold between 1/);
  });
});
