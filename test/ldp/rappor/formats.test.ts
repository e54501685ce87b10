import { describe, expect, it } from "vitest";
import { DpError, SeededRng } from "../../../src/index.js";
import {
  DEFAULT_RAPPOR_PARAMS,
  formatRapporCountsCsv,
  formatRapporMapCsv,
  formatRapporParamsCsv,
  formatRapporReportsCsv,
  hashRapporCandidates,
  parseRapporCountsCsv,
  parseRapporCsvRows,
  parseRapporMapCsv,
  parseRapporParamsCsv,
  parseRapporReportsCsv,
  rapporBloomBits,
  simulateRapporReports,
  sumRapporBits,
  type RapporParams,
} from "../../../src/ldp/index.js";

const P: RapporParams = { ...DEFAULT_RAPPOR_PARAMS };
const small: RapporParams = { numBits: 8, numHashes: 2, numCohorts: 4, probPrr: 0.5, probIrr0: 0.5, probIrr1: 0.75 };

describe("RAPPOR file formats", () => {
  it("params CSV: header k,h,m,p,q,f; round trip; validation", () => {
    const text = formatRapporParamsCsv(P);
    expect(text).toBe("k,h,m,p,q,f\n16,2,64,0.5,0.75,0.5\n");
    expect(parseRapporParamsCsv(text)).toEqual(P);
    expect(parseRapporParamsCsv("k,h,m,p,q,f\r\n32,4,8,0.25,0.8,0.1\r\n")).toEqual({
      numBits: 32,
      numHashes: 4,
      numCohorts: 8,
      probIrr0: 0.25,
      probIrr1: 0.8,
      probPrr: 0.1,
    });
    expect(() => parseRapporParamsCsv("k,h,m,p,q\n16,2,64,0.5,0.75\n")).toThrow(/header/);
    expect(() => parseRapporParamsCsv("k,h,m,p,q,f\n16,2,64,0.75,0.5,0.5\n")).toThrow(/`probIrr0`/);
    expect(() => parseRapporParamsCsv("k,h,m,p,q,f\n4,5,64,0.5,0.75,0.5\n")).toThrow(/`numHashes` must be <= `numBits`/);
    expect(() => parseRapporParamsCsv("k,h,m,p,q,f\n16,2,x,0.5,0.75,0.5\n")).toThrow(DpError);
  });

  it("reports CSV: bit strings most significant bit first; bloom/prr optional", () => {
    const rows = [
      { client: "c1", cohort: 3, bloom: 0b11, prr: 0b101, irr: 0b1000_0000 },
      { client: 'odd, "name"', cohort: 0, irr: 1 },
    ];
    const text = formatRapporReportsCsv(rows, 8);
    expect(text.split("\n")[0]).toBe("client,cohort,bloom,prr,irr");
    expect(text.split("\n")[1]).toBe("c1,3,00000011,00000101,10000000");
    expect(parseRapporReportsCsv(text, small)).toEqual(rows);
    // The reference's older 3-column form.
    expect(parseRapporReportsCsv("client,cohort,irr\nx,1,00000010\n", small)).toEqual([{ client: "x", cohort: 1, irr: 2 }]);
    expect(() => parseRapporReportsCsv("client,cohort,irr\nx,4,00000010\n", small)).toThrow(/cohort/);
    expect(() => parseRapporReportsCsv("client,cohort,irr\nx,1,0010\n", small)).toThrow(/8 bits/);
  });

  it("sum-bits: counts rows are N then bit sums, bit 0 first", () => {
    // irr "00000101" sets bits 0 and 2.
    const reports = parseRapporReportsCsv("client,cohort,irr\na,1,00000101\nb,1,00000100\nc,3,10000000\n", small);
    const counts = sumRapporBits(reports, small);
    const text = formatRapporCountsCsv(counts);
    expect(text).toBe("0,0,0,0,0,0,0,0,0\n2,1,0,2,0,0,0,0,0\n0,0,0,0,0,0,0,0,0\n1,0,0,0,0,0,0,0,1\n");
    const back = parseRapporCountsCsv(text, small);
    expect(Array.from(back.reports)).toEqual([0, 2, 0, 1]);
    expect(Array.from(back.bitSums)).toEqual(Array.from(counts.bitSums));
    expect(() => parseRapporCountsCsv("1,0\n", small)).toThrow(/one row per cohort/);
    expect(() => parseRapporCountsCsv(text.replace("2,1,0,2", "2,1,0,3"), small)).toThrow(/bit sum/);
  });

  it("map CSV: candidate, then per cohort and hash the 1-based bit index offset by cohort*k", () => {
    const map = hashRapporCandidates(["abc", "with,comma"], P);
    const text = formatRapporMapCsv(map);
    const first = parseRapporCsvRows(text)[0];
    expect(first.length).toBe(1 + 64 * 2);
    expect(first[0]).toBe("abc");
    // Cohort 0: bits [6, 13] -> 7, 14; cohort 1: bits [3, 12] -> 16 + 4, 16 + 13 (see hashing.test.ts).
    expect(first.slice(1, 5)).toEqual(["7", "14", "20", "29"]);
    const c63 = rapporBloomBits("abc", 63, 2, 16);
    expect(first.slice(127, 129).map(Number)).toEqual(c63.map((b) => 63 * 16 + b + 1));
    const back = parseRapporMapCsv(text, P);
    expect(back.candidates).toEqual(["abc", "with,comma"]);
    expect(Array.from(back.bits)).toEqual(Array.from(map.bits));
    expect(() => parseRapporMapCsv("a,1,2\n", P)).toThrow(/1 \+ m\*h/);
    const badIndex = "x," + Array.from({ length: 128 }, () => "17").join(",") + "\n";
    expect(() => parseRapporMapCsv(badIndex, P)).toThrow(/not a bit of cohort 0/);
  });

  it("simulated reports written and read back sum to the same counts", () => {
    const rows = simulateRapporReports({ params: small, values: ["a", "b", "a", "c"], rng: new SeededRng(5) });
    const text = formatRapporReportsCsv(rows, 8);
    const parsed = parseRapporReportsCsv(text, small);
    expect(parsed.map((r) => r.irr)).toEqual(rows.map((r) => r.irr));
    expect(parsed.map((r) => r.bloom)).toEqual(rows.map((r) => r.bloom));
    expect(Array.from(sumRapporBits(parsed, small).bitSums)).toEqual(Array.from(sumRapporBits(rows, small).bitSums));
  });
});

describe("basic RAPPOR", () => {
  it("one-hot reports decode against the identity map", async () => {
    const { createRapporEncoder, basicRapporMap, decodeRappor } = await import("../../../src/ldp/index.js");
    const params: RapporParams = { numBits: 4, numHashes: 1, numCohorts: 1, probPrr: 0.25, probIrr0: 0.25, probIrr1: 0.75 };
    const rng = new SeededRng(9);
    const truth = [6000, 3000, 1000, 0];
    const reports = truth.flatMap((n, v) =>
      Array.from({ length: n }, () => createRapporEncoder({ params, basic: true, rng, allowInsecureRng: true }).encode(v)),
    );
    const map = basicRapporMap(["a", "b", "c", "d"], params);
    const res = decodeRappor({ params, counts: sumRapporBits(reports, params), map, background: false });
    const byName = new Map(res.detected.map((d) => [d.candidate, d]));
    for (const [j, name] of ["a", "b", "c"].entries()) {
      const d = byName.get(name)!;
      expect(Math.abs(d.estimate - truth[j])).toBeLessThan(4 * d.standardError);
    }
    expect(byName.has("d")).toBe(false);
    expect(() => basicRapporMap(["a", "b", "c", "d", "e"], params)).toThrow(/at most k = 4/);
  });
});
