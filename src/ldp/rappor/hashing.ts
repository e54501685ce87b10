/**
 * The hashing of the reference RAPPOR client (google/rappor, client/python/rappor.py), so that
 * dpkit's reports and the reference's are interchangeable:
 *
 * - Bloom bits: `MD5(be32(cohort) || utf8(value))`; hash i sets bit `digest[i] mod k`.
 * - PRR masks: `HMAC-SHA256(secret, be32(bloom))`; for bit i the digest byte `b = digest[i]`
 *   gives the uniform bit `b & 1` and the noise-mask bit `(b >> 1) < 128 f`.
 *   Then `prr = (bloom & ~fMask) | (uniform & fMask)`.
 *
 * Bit strings are written most significant bit first, as the reference's `bit_string`.
 * MD5 and HMAC-SHA256 come from @noble/hashes, so this runs in a browser as well as in Node.
 *
 * @see https://github.com/google/rappor/blob/master/client/python/rappor.py
 * @module
 */
import { md5 } from "@noble/hashes/legacy.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { DpError, requireInteger, requireProbability } from "../../errors.js";

const encoder = new TextEncoder();

/** A value to encode: a string (hashed as UTF-8) or raw bytes. */
export type RapporValue = string | Uint8Array;

function toBytes(name: string, value: RapporValue): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new DpError("invalid_parameter", `\`${name}\` must be a string or a Uint8Array. Found ${typeof value}.`, name);
}

/**
 * The 4-byte big-endian encoding of an unsigned 32-bit integer (Python's `struct.pack('>L', i)`),
 * used for the cohort prefix of the Bloom hash and for the Bloom filter in the PRR's HMAC.
 * @param value - an integer in [0, 2^32)
 * @returns 4 bytes, most significant first
 * @throws {@link DpError} `invalid_parameter` outside [0, 2^32)
 * @example
 * ```ts
 * import { rapporBigEndian32 } from "dpkit/ldp";
 * rapporBigEndian32(258); // Uint8Array [0, 0, 1, 2]
 * ```
 */
export function rapporBigEndian32(value: number): Uint8Array {
  const v = requireInteger("value", value, { min: 0, max: 0xffffffff });
  return new Uint8Array([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/**
 * The Bloom filter bit indices of `value` in `cohort` (the reference's `get_bloom_bits`):
 * byte i of `MD5(be32(cohort) || value)` modulo `numBits`, for i < `numHashes`. Indices may
 * repeat (then the filter has fewer than h bits set), exactly as in the reference.
 *
 * @param value - the value (UTF-8 for strings)
 * @param cohort - the client's cohort, an unsigned 32-bit integer
 * @param numHashes - h, 1 … 16
 * @param numBits - k, 1 … 256
 * @returns h bit indices in [0, k)
 * @throws {@link DpError} `invalid_parameter` for out-of-range arguments
 * @example
 * ```ts
 * import { rapporBloomBits } from "dpkit/ldp";
 * rapporBloomBits("abc", 0, 2, 16); // two bit indices in [0, 16)
 * ```
 */
export function rapporBloomBits(value: RapporValue, cohort: number, numHashes: number, numBits: number): number[] {
  const h = requireInteger("numHashes", numHashes, { min: 1, max: 16 });
  const k = requireInteger("numBits", numBits, { min: 1, max: 256 });
  const bytes = toBytes("value", value);
  const input = new Uint8Array(4 + bytes.length);
  input.set(rapporBigEndian32(cohort), 0);
  input.set(bytes, 4);
  const digest = md5(input);
  const out = new Array<number>(h);
  for (let i = 0; i < h; i++) out[i] = digest[i] % k;
  return out;
}

/**
 * The Bloom filter of `value` in `cohort` as an integer (bit i = 2^i), k <= 32.
 * @param value - the value
 * @param cohort - the client's cohort
 * @param numHashes - h
 * @param numBits - k, 1 … 32
 * @returns the filter as an unsigned 32-bit integer
 * @example
 * ```ts
 * import { rapporBloomFilter } from "dpkit/ldp";
 * const bloom = rapporBloomFilter("abc", 0, 2, 16);
 * ```
 */
export function rapporBloomFilter(value: RapporValue, cohort: number, numHashes: number, numBits: number): number {
  requireInteger("numBits", numBits, { min: 1, max: 32 });
  let bloom = 0;
  for (const b of rapporBloomBits(value, cohort, numHashes, numBits)) bloom |= 1 << b;
  return bloom >>> 0;
}

/** The PRR masks derived from the client secret (see {@link rapporPrrMasks}). */
export interface RapporPrrMasks {
  /** Bits that are 1 with probability 1/2 (`digest[i] & 1`). */
  uniform: number;
  /** Bits that are 1 with probability f (`(digest[i] >> 1) < 128 f`): these bits are replaced by `uniform`. */
  fMask: number;
}

/**
 * The permanent-randomized-response masks of the reference client (`get_prr_masks`):
 * `HMAC-SHA256(secret, be32(bloom))`, one digest byte per bit.
 *
 * @remarks
 * Deterministic in (secret, bloom) by design: the same value always gets the same PRR, so
 * repeated reports cannot be averaged. Privacy rests on the secret being uniformly random and
 * never leaving the client.
 *
 * @param secret - the client secret (strings are UTF-8 encoded)
 * @param bloom - the Bloom filter as an unsigned 32-bit integer
 * @param probPrr - f in [0, 1]
 * @param numBits - k, 1 … 32
 * @returns the uniform and f masks
 * @example
 * ```ts
 * import { rapporPrrMasks } from "dpkit/ldp";
 * const { uniform, fMask } = rapporPrrMasks("secret", 0b1010, 0.5, 16);
 * ```
 */
export function rapporPrrMasks(secret: RapporValue, bloom: number, probPrr: number, numBits: number): RapporPrrMasks {
  const k = requireInteger("numBits", numBits, { min: 1, max: 32 });
  const f = requireProbability("probPrr", probPrr);
  const digest = hmac(sha256, toBytes("secret", secret), rapporBigEndian32(bloom));
  const threshold128 = f * 128;
  let uniform = 0;
  let fMask = 0;
  for (let i = 0; i < k; i++) {
    const byte = digest[i];
    uniform |= (byte & 1) << i;
    if (byte >> 1 < threshold128) fMask |= 1 << i;
  }
  return { uniform: uniform >>> 0, fMask: fMask >>> 0 };
}

/**
 * The permanent randomized response of a Bloom filter: `(bloom & ~fMask) | (uniform & fMask)`,
 * restricted to the low k bits.
 * @param secret - the client secret
 * @param bloom - the Bloom filter
 * @param probPrr - f
 * @param numBits - k, 1 … 32
 * @returns the PRR as an unsigned 32-bit integer
 * @example
 * ```ts
 * import { rapporPermanentResponse } from "dpkit/ldp";
 * const prr = rapporPermanentResponse("secret", 0b1010, 0.5, 16);
 * ```
 */
export function rapporPermanentResponse(secret: RapporValue, bloom: number, probPrr: number, numBits: number): number {
  const { uniform, fMask } = rapporPrrMasks(secret, bloom, probPrr, numBits);
  const low = numBits === 32 ? 0xffffffff : (1 << numBits) - 1;
  return (((bloom & ~fMask) | (uniform & fMask)) & low) >>> 0;
}

/**
 * Writes the low `numBits` bits of `bits` as a string, most significant bit first (the
 * reference's `bit_string`).
 * @example
 * ```ts
 * import { rapporBitString } from "dpkit/ldp";
 * rapporBitString(5, 8); // "00000101"
 * ```
 */
export function rapporBitString(bits: number, numBits: number): string {
  const k = requireInteger("numBits", numBits, { min: 1, max: 32 });
  let s = "";
  for (let i = k - 1; i >= 0; i--) s += (bits >>> i) & 1 ? "1" : "0";
  return s;
}

/**
 * Parses a bit string written most significant bit first.
 * @throws {@link DpError} `invalid_parameter` when it has the wrong length or characters other than 0/1
 * @example
 * ```ts
 * import { parseRapporBitString } from "dpkit/ldp";
 * parseRapporBitString("00000101", 8); // 5
 * ```
 */
export function parseRapporBitString(text: string, numBits: number, name = "bits"): number {
  const k = requireInteger("numBits", numBits, { min: 1, max: 32 });
  if (typeof text !== "string" || text.length !== k || !/^[01]+$/.test(text)) {
    throw new DpError("invalid_parameter", `\`${name}\` must be a string of ${k} bits (0/1). Found ${JSON.stringify(text)}.`, name);
  }
  let v = 0;
  for (let i = 0; i < k; i++) if (text.charCodeAt(i) === 49) v |= 1 << (k - 1 - i);
  return v >>> 0;
}
