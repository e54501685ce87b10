/**
 * Fixed test vectors pinning compatibility with the reference RAPPOR client
 * (google/rappor client/python/rappor.py: get_bloom_bits and get_prr_masks).
 *
 * The expected values were computed independently with Python 3's hashlib/hmac/struct by a
 * one-off script mirroring rappor.py:
 *
 *   d = hashlib.md5(struct.pack('>L', cohort) + word.encode('utf-8')).digest()
 *   bloom_bits = [d[i] % k for i in range(h)]
 *   d = hmac.new(secret.encode(), struct.pack('>L', bits), digestmod=hashlib.sha256).digest()
 *   uniform |= (d[i] & 1) << i;  f_mask |= ((d[i] >> 1) < f * 128) << i   (i < k)
 *   prr = (bits & ~f_mask) | (uniform & f_mask)
 */
import { describe, expect, it } from "vitest";
import {
  rapporBigEndian32,
  parseRapporBitString,
  rapporBitString,
  rapporBloomBits,
  rapporBloomFilter,
  rapporPermanentResponse,
  rapporPrrMasks,
} from "../../../src/ldp/index.js";

describe("RAPPOR hashing test vectors (reference client)", () => {
  it("Bloom bits: MD5 of the 4-byte big-endian cohort followed by the UTF-8 value", () => {
    expect(rapporBloomBits("abc", 0, 2, 16)).toEqual([6, 13]);
    expect(rapporBloomBits("abc", 1, 2, 16)).toEqual([3, 12]);
    expect(rapporBloomBits("v1", 63, 2, 16)).toEqual([1, 4]);
    expect(rapporBloomBits("https://www.google.com/", 5, 4, 32)).toEqual([21, 4, 28, 12]);
    expect(rapporBloomBits("", 0, 16, 256)).toEqual([241, 211, 255, 132, 67, 41, 119, 50, 134, 45, 242, 29, 196, 229, 114, 98]);
    expect(rapporBloomBits("héllo wörld", 7, 3, 8)).toEqual([4, 6, 2]);
    expect(rapporBloomBits("abc", 4294967295, 2, 16)).toEqual([2, 14]);
    expect(rapporBloomFilter("abc", 0, 2, 16)).toBe((1 << 6) | (1 << 13));
  });

  it("PRR masks: HMAC-SHA256(secret, be32(bloom)), uniform = byte & 1, fMask = (byte >> 1) < 128 f", () => {
    expect(rapporPrrMasks("secret", 0b1010, 0.5, 16)).toEqual({ uniform: 55005, fMask: 62931 });
    expect(rapporPermanentResponse("secret", 0b1010, 0.5, 16)).toBe(54489);
    expect(rapporPrrMasks("secret", 0, 0.5, 16)).toEqual({ uniform: 40017, fMask: 16273 });
    expect(rapporPermanentResponse("secret", 0, 0.5, 16)).toBe(7185);
    expect(rapporPrrMasks("client-secret-0", 0x80000001, 0.25, 32)).toEqual({ uniform: 567980515, fMask: 3166208 });
    expect(rapporPermanentResponse("client-secret-0", 0x80000001, 0.25, 32)).toBe(2148536321);
    expect(rapporPrrMasks("s", 12345, 0.3, 8)).toEqual({ uniform: 221, fMask: 0 });
    expect(rapporPrrMasks("", 65535, 1.0, 16)).toEqual({ uniform: 28555, fMask: 65535 });
    expect(rapporPermanentResponse("", 65535, 1.0, 16)).toBe(28555);
    expect(rapporPrrMasks("abc", 7, 0.0, 16)).toEqual({ uniform: 13605, fMask: 0 });
    expect(rapporPermanentResponse("abc", 7, 0.0, 16)).toBe(7);
    // Bytes and UTF-8 strings are the same secret.
    expect(rapporPrrMasks(new TextEncoder().encode("secret"), 0, 0.5, 16)).toEqual({ uniform: 40017, fMask: 16273 });
  });

  it("bit strings are most significant bit first", () => {
    expect(rapporBitString(5, 8)).toBe("00000101");
    expect(rapporBitString(0x80000001, 32)).toBe("1" + "0".repeat(30) + "1");
    expect(parseRapporBitString("00000101", 8)).toBe(5);
    expect(parseRapporBitString("1" + "0".repeat(30) + "1", 32)).toBe(0x80000001);
    expect(() => parseRapporBitString("0101", 8)).toThrow(/8 bits/);
    expect(() => parseRapporBitString("0000010x", 8)).toThrow(/8 bits/);
    expect(Array.from(rapporBigEndian32(0x01020304))).toEqual([1, 2, 3, 4]);
  });
});

describe("reports published by the reference implementation", () => {
  // Rows of case_reports.csv from google/rappor doc/data-flow.md (written by tests/rappor_sim.py,
  // which uses the client name as the secret), with params k=32, h=1, m=64, p=0.25, q=0.75,
  // f=0.5. The values come from the same doc's case_true_values.csv (c1: v16, v13, v19, v16,
  // v2, v31, v8, ...; c2: v58, v4, v26, ...). dpkit must reproduce the Bloom filter and PRR.
  const params = { numBits: 32, numHashes: 1, numCohorts: 64, probIrr0: 0.25, probIrr1: 0.75, probPrr: 0.5 };
  const csv = `client,cohort,bloom,prr,irr
c1,1,00000000000000000010000000000000,11011100100000000010000101100001,01001101100000000010000111000010
c1,1,00000000000000001000000000000000,00011011010000101010010000010100,00011011000001100010010000011100
c1,1,10000000000000000000000000000000,10101000001110000000000000010000,00101010010111101000010100010000
c1,1,00000000000000000010000000000000,11011100100000000010000101100001,10011000100101101110000101100000
c1,1,00000000000000000000000000000001,00100100000000000100001000000100,01000010100100010000011000101101
c1,1,00010000000000000000000000000000,00010001000100000100000011000010,10001001000100001110010011000000
c1,1,00000000010000000000000000000000,00000010001000000001100000101110,10011110001000000101100100101110
c2,2,00000000000010000000000000000000,10011001001000110001000001000000,10011111011011111000000011001010
c2,2,00000000000100000000000000000000,01100000000100000001001000000010,11110000110010010000001010001110
c2,2,00000000000000000000000000001000,10001010101000000000100000001000,00001010101000000100000110101000
`;
  const values = ["v16", "v13", "v19", "v16", "v2", "v31", "v8", "v58", "v4", "v26"];

  it("dpkit reproduces the reference's Bloom filters and PRRs for the same client secrets", async () => {
    const { parseRapporReportsCsv, createRapporEncoder } = await import("../../../src/ldp/index.js");
    const rows = parseRapporReportsCsv(csv, params);
    expect(rows).toHaveLength(values.length);
    rows.forEach((row, i) => {
      const client = createRapporEncoder({ params, secret: row.client, cohort: row.cohort, allowInsecureRng: true });
      const mine = client.encodeDetailed(values[i]);
      expect(mine.bloom).toBe(row.bloom);
      expect(mine.prr).toBe(row.prr);
    });
    // Negative control: another secret gives other PRRs.
    const other = createRapporEncoder({ params, secret: "c3", cohort: 1, allowInsecureRng: true });
    expect(other.encodeDetailed("v16").prr).not.toBe(rows[0].prr);
  });
});
