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
