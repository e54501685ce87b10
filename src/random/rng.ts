/**
 * Randomness sources. Every random bit dpkit uses comes through an {@link Rng}.
 *
 * The default, {@link secureRng}, reads the platform CSPRNG (`crypto.getRandomValues`) in
 * chunks. {@link SeededRng} (MT19937) exists for reproducible simulations and tests
 * only: it is predictable, never the default, and marked `secure: false`.
 *
 * @module
 */
import { DpError, requireInteger } from "../errors.js";
import { Mt19937 } from "./mt19937.js";

/** A source of uniformly random bits. */
export interface Rng {
  /** `true` only for a cryptographically secure source. */
  readonly secure: boolean;
  /** A uniformly random integer in [0, 2^32). */
  nextUint32(): number;
  /** Fills `out` with uniformly random bytes. */
  fillBytes(out: Uint8Array): void;
}

/** crypto.getRandomValues refuses more than 65,536 bytes per call. */
const MAX_GET_RANDOM_VALUES = 65_536;

type GetRandomValues = (array: Uint8Array) => Uint8Array;

function findCrypto(): GetRandomValues | undefined {
  const c = (globalThis as { crypto?: { getRandomValues?: GetRandomValues } }).crypto;
  if (c && typeof c.getRandomValues === "function") return c.getRandomValues.bind(c);
  return undefined;
}

/**
 * The platform CSPRNG (`crypto.getRandomValues`), buffered: bytes are fetched in chunks of
 * 64 KiB (the most one call may return) and handed out in order, never reused.
 *
 * @remarks
 * Throws `insecure_randomness` at construction when no secure source exists; dpkit never falls
 * back to a non-cryptographic generator. Every sampler defaults to the shared instance from {@link secureRng}.
 *
 * @example
 * ```ts
 * import { SecureRng } from "dpkit/random";
 * const rng = new SecureRng(); // or pass your own secure getRandomValues
 * rng.nextUint32();
 * ```
 */
export class SecureRng implements Rng {
  readonly secure = true;
  private readonly getRandomValues: GetRandomValues;
  private readonly bytes: Uint8Array;
  private readonly words: Uint32Array;
  private wordPos: number;

  /**
   * @param getRandomValues - a secure byte source; defaults to `globalThis.crypto.getRandomValues`
   * @throws {@link DpError} `insecure_randomness` if none is available
   */
  constructor(getRandomValues?: GetRandomValues) {
    const g = getRandomValues ?? findCrypto();
    if (!g) {
      throw new DpError(
        "insecure_randomness",
        "No cryptographically secure random source (globalThis.crypto.getRandomValues) is available; dpkit refuses to fall back to a non-cryptographic generator.",
      );
    }
    this.getRandomValues = g;
    this.bytes = new Uint8Array(MAX_GET_RANDOM_VALUES);
    this.words = new Uint32Array(this.bytes.buffer);
    this.wordPos = this.words.length; // empty: refill on first use
  }

  private refill(): void {
    this.getRandomValues(this.bytes);
    this.wordPos = 0;
  }

  nextUint32(): number {
    if (this.wordPos >= this.words.length) this.refill();
    return this.words[this.wordPos++];
  }

  fillBytes(out: Uint8Array): void {
    // Large requests go straight to the source in chunks; the buffer is for small draws.
    for (let off = 0; off < out.length; off += MAX_GET_RANDOM_VALUES) {
      this.getRandomValues(out.subarray(off, Math.min(out.length, off + MAX_GET_RANDOM_VALUES)));
    }
  }

  /**
   * Fills `out` with uniform 32-bit words (fast path for vector samplers).
   * @internal
   */
  fillUint32(out: Uint32Array): void {
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    this.fillBytes(bytes);
  }
}

/**
 * A seeded, reproducible, **insecure** generator (the Mersenne Twister MT19937).
 *
 * @remarks
 * For simulations and tests only. Its output is predictable from its seed and from 624 outputs;
 * noise drawn from it gives **no** privacy. Every dpkit API that accepts an `Rng` defaults to
 * {@link secureRng} and says so.
 *
 * @example
 * ```ts
 * import { SeededRng } from "dpkit/random";
 * const rng = new SeededRng(42); // reproducible, NOT private
 * rng.nextUint32();
 * ```
 */
export class SeededRng implements Rng {
  readonly secure = false;
  private readonly engine: Mt19937;

  /** @param seed - any safe integer */
  constructor(seed: number) {
    requireInteger("seed", seed);
    this.engine = new Mt19937((seed | 0) ^ (Math.floor(seed / 2 ** 32) | 0));
  }

  nextUint32(): number {
    return this.engine.nextUint32();
  }

  fillBytes(out: Uint8Array): void {
    let i = 0;
    for (; i + 4 <= out.length; i += 4) {
      const w = this.engine.nextUint32();
      out[i] = w & 0xff;
      out[i + 1] = (w >>> 8) & 0xff;
      out[i + 2] = (w >>> 16) & 0xff;
      out[i + 3] = w >>> 24;
    }
    if (i < out.length) {
      let w = this.engine.nextUint32();
      for (; i < out.length; i++) {
        out[i] = w & 0xff;
        w >>>= 8;
      }
    }
  }
}

let defaultRng: SecureRng | undefined;

/**
 * The shared default secure source (created on first use).
 *
 * @remarks
 * This is what every dpkit function uses when its `rng` option is omitted.
 *
 * @returns the process-wide {@link SecureRng}
 * @throws {@link DpError} `insecure_randomness` if the platform has no CSPRNG
 * @example
 * ```ts
 * import { secureRng, uniformInt } from "dpkit/random";
 * uniformInt(10, secureRng()); // same as uniformInt(10)
 * ```
 */
export function secureRng(): SecureRng {
  if (!defaultRng) defaultRng = new SecureRng();
  return defaultRng;
}

/**
 * Creates a seeded, reproducible, **insecure** generator — for tests and simulations only.
 *
 * @remarks
 * Noise drawn from it gives no privacy: its outputs are predictable from the seed.
 *
 * @param seed - any safe integer
 * @returns a {@link SeededRng}
 * @example
 * ```ts
 * import { seededRng, discreteLaplace } from "dpkit/random";
 * discreteLaplace(1, seededRng(7)); // reproducible, NOT private
 * ```
 */
export function seededRng(seed: number): SeededRng {
  return new SeededRng(seed);
}

/**
 * Returns `rng` if given, else the shared secure source.
 *
 * @remarks
 * The one place where the default is decided, so no sampler can silently use anything else.
 *
 * @param rng - an optional source
 * @returns `rng` or {@link secureRng}()
 * @example
 * ```ts
 * import { resolveRng } from "dpkit/random";
 * resolveRng().secure; // true
 * ```
 */
export function resolveRng(rng?: Rng): Rng {
  return rng ?? secureRng();
}
