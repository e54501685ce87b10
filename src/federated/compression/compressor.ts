/**
 * The update-compression interface (Konečný et al. 2016): a client encodes its upload into
 * bytes, the server decodes them back into a vector of the agreed length.
 * @module
 */
import { DpError } from "../../errors.js";
import type { Rng } from "../../random/rng.js";

/**
 * An uplink codec. Randomised codecs draw their randomness from `rng` and put whatever the
 * decoder needs to reproduce it (e.g. a 32-bit seed) into the bytes, so the byte count is honest.
 */
export interface UpdateCompressor {
  /** Short name for logs, e.g. "quantize(2 bit)". */
  readonly name: string;
  /** True when decode(encode(v)) is an unbiased estimate of v. */
  readonly unbiased: boolean;
  /**
   * Client side: encodes `vector`. Randomness defaults to the secure source; a seeded Rng is
   * insecure (simulation only).
   */
  encode(vector: Float32Array, rng?: Rng): Uint8Array;
  /** Server side: decodes bytes from {@link UpdateCompressor.encode} into a vector of `length`. */
  decode(bytes: Uint8Array, length: number): Float32Array;
  /** Bytes `encode` produces for a vector of `length` (what the uplink costs). */
  encodedBytes(length: number): number;
}

/** The identity codec: 4 bytes per float32 coordinate. */
export class NoCompression implements UpdateCompressor {
  readonly name = "none";
  readonly unbiased = true;
  encode(vector: Float32Array): Uint8Array {
    return new Uint8Array(vector.slice().buffer);
  }
  decode(bytes: Uint8Array, length: number): Float32Array {
    const out = new Float32Array(length);
    new Uint8Array(out.buffer).set(bytes.subarray(0, 4 * length));
    return out;
  }
  encodedBytes(length: number): number {
    return 4 * length;
  }
}

/**
 * Checks that `bytes` is what `compressor.encode` produces for `length` coordinates and returns a
 * little-endian view of it (every decoder's first step).
 * @throws {@link DpError} `invalid_parameter` naming `bytes`
 * @internal
 */
export function encodedView(compressor: UpdateCompressor, bytes: Uint8Array, length: number): DataView {
  const expected = compressor.encodedBytes(length);
  if (bytes.length !== expected) {
    throw new DpError(
      "invalid_parameter",
      `\`bytes\` must have length ${expected} for ${length} coordinates. Found ${bytes.length}.`,
      "bytes",
    );
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
