/**
 * Shamir secret sharing over the prime field GF(2^521 - 1), with verified reconstruction.
 *
 * Secure aggregation shares two 32-byte secrets per client (the masking key and the self-mask
 * seed); 2^521 - 1 (a Mersenne prime) is larger than every 256-bit secret, so a secret is a
 * field element without reduction. A t-of-m sharing picks a uniformly random polynomial
 * f(x) = s + a_1 x + ... + a_{t-1} x^{t-1} and hands holder x the value f(x); any t shares
 * determine s by Lagrange interpolation at 0, fewer than t reveal nothing about it.
 *
 * @see A. Shamir, "How to share a secret", CACM 22(11), 1979.
 * @module
 */
import { DpError, requireInteger } from "../../errors.js";
import { uniformBigInt, type Rng } from "../../random/index.js";

/** The field modulus, 2^521 - 1 (a Mersenne prime). */
export const SHAMIR_PRIME: bigint = (1n << 521n) - 1n;

/** Bytes of one encoded field element (ceil(521 / 8)). */
export const SHAMIR_SHARE_BYTES = 66;

/** One share: the holder's x-coordinate (a positive integer) and f(x). */
export interface ShamirShare {
  /** The holder's x-coordinate (a client id); never 0. */
  x: number;
  /** f(x) in [0, SHAMIR_PRIME). */
  y: bigint;
}

/** Options for {@link shamirSplit}. */
export interface ShamirSplitOptions {
  /** The secret, in [0, SHAMIR_PRIME). */
  secret: bigint;
  /** How many shares reconstruct the secret; 1 <= threshold <= holders.length. */
  threshold: number;
  /** Distinct positive integer x-coordinates, one per holder. */
  holders: readonly number[];
  /** Randomness for the polynomial's coefficients; defaults to the secure source (a seeded Rng is insecure). */
  rng?: Rng;
}

function mod(a: bigint): bigint {
  const r = a % SHAMIR_PRIME;
  return r < 0n ? r + SHAMIR_PRIME : r;
}

function inverse(a: bigint): bigint {
  // Extended Euclid; a is non-zero modulo the prime.
  let [oldR, r] = [mod(a), SHAMIR_PRIME];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new DpError("protocol_error", "Shamir: a share's x-coordinate has no inverse (duplicate holder).");
  return mod(oldS);
}

function evaluate(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let i = coefficients.length - 1; i >= 0; i--) acc = mod(acc * x + coefficients[i]);
  return acc;
}

function checkHolders(name: string, xs: readonly number[]): void {
  const seen = new Set<number>();
  for (const x of xs) {
    requireInteger(`${name} x-coordinate`, x, { min: 1 });
    if (seen.has(x)) throw new DpError("invalid_parameter", `\`${name}\` must have distinct x-coordinates. Found ${x} twice.`, name);
    seen.add(x);
  }
}

/**
 * Splits `secret` into one share per holder, any `threshold` of which reconstruct it.
 *
 * @remarks
 * Information-theoretically hiding: fewer than `threshold` shares are independent of the secret.
 * The coefficients are drawn with `rng`; a seeded Rng makes the sharing predictable (insecure).
 *
 * @param options - secret, threshold, holders and rng
 * @returns one share per holder, in the order of `holders`
 * @throws {@link DpError} `invalid_parameter` for a secret out of range, a bad threshold or repeated holders
 * @example
 * ```ts
 * import { shamirSplit, shamirReconstruct } from "dpkit/federated";
 * const shares = shamirSplit({ secret: 42n, threshold: 2, holders: [1, 2, 3] });
 * shamirReconstruct(shares.slice(1), 2); // 42n
 * ```
 * @see A. Shamir, "How to share a secret", 1979.
 */
export function shamirSplit(options: ShamirSplitOptions): ShamirShare[] {
  const { secret, threshold, holders, rng } = options;
  if (typeof secret !== "bigint" || secret < 0n || secret >= SHAMIR_PRIME) {
    throw new DpError("invalid_parameter", "`secret` must be a bigint in [0, 2^521 - 1).", "secret");
  }
  checkHolders("holders", holders);
  requireInteger("threshold", threshold, { min: 1, max: Math.max(1, holders.length) });
  const coefficients = [secret];
  for (let i = 1; i < threshold; i++) coefficients.push(uniformBigInt(SHAMIR_PRIME, rng));
  return holders.map((x) => ({ x, y: evaluate(coefficients, BigInt(x)) }));
}

/** Lagrange coefficients at 0 for a list of x-coordinates, cached (many secrets share one holder set). */
const LAGRANGE_CACHE = new Map<string, bigint[]>();
const LAGRANGE_CACHE_LIMIT = 256;

function lagrangeAtZero(xs: readonly number[]): bigint[] {
  const cacheKey = xs.join(",");
  const hit = LAGRANGE_CACHE.get(cacheKey);
  if (hit) return hit;
  const t = xs.length;
  const big = xs.map((x) => BigInt(x));
  let all = 1n;
  for (const x of big) all = mod(all * x);
  // lambda_i = prod_{j != i} x_j / (x_j - x_i) = (prod_j x_j / x_i) / prod_{j != i} (x_j - x_i)
  const den: bigint[] = new Array(t);
  for (let i = 0; i < t; i++) {
    let d = big[i];
    for (let j = 0; j < t; j++) if (j !== i) d = mod(d * (big[j] - big[i]));
    den[i] = d;
  }
  // Batch inversion (one modular inverse for all t denominators).
  const prefix: bigint[] = new Array(t);
  let acc = 1n;
  for (let i = 0; i < t; i++) {
    prefix[i] = acc;
    acc = mod(acc * den[i]);
  }
  let inv = inverse(acc);
  const lambda: bigint[] = new Array(t);
  for (let i = t - 1; i >= 0; i--) {
    lambda[i] = mod(all * mod(inv * prefix[i]));
    inv = mod(inv * den[i]);
  }
  if (LAGRANGE_CACHE.size >= LAGRANGE_CACHE_LIMIT) LAGRANGE_CACHE.delete(LAGRANGE_CACHE.keys().next().value!);
  LAGRANGE_CACHE.set(cacheKey, lambda);
  return lambda;
}

function interpolateAtZero(points: readonly ShamirShare[]): bigint {
  const lambda = lagrangeAtZero(points.map((p) => p.x));
  let acc = 0n;
  for (let i = 0; i < points.length; i++) acc += points[i].y * lambda[i];
  return mod(acc);
}

/**
 * Reconstructs the secret from the first `threshold` of `shares` (Lagrange interpolation at 0).
 *
 * @remarks
 * Does not check that the other shares agree: use {@link shamirReconstructVerified} when more
 * than `threshold` shares are at hand.
 *
 * @param shares - at least `threshold` shares with distinct x-coordinates
 * @param threshold - the sharing's threshold
 * @returns the secret
 * @throws {@link DpError} `protocol_error` when fewer than `threshold` shares are given
 * @example
 * ```ts
 * import { shamirSplit, shamirReconstruct } from "dpkit/federated";
 * shamirReconstruct(shamirSplit({ secret: 7n, threshold: 3, holders: [1, 2, 3, 4] }), 3); // 7n
 * ```
 * @see A. Shamir, "How to share a secret", 1979.
 */
export function shamirReconstruct(shares: readonly ShamirShare[], threshold: number): bigint {
  requireInteger("threshold", threshold, { min: 1 });
  if (shares.length < threshold) {
    throw new DpError("protocol_error", `Shamir: ${shares.length} shares cannot reconstruct a ${threshold}-of-n secret.`);
  }
  const used = shares.slice(0, threshold);
  checkHolders(
    "shares",
    used.map((s) => s.x),
  );
  return interpolateAtZero(used);
}

/**
 * Reconstructs the secret and verifies the reconstruction: when more than `threshold` shares are
 * given, the first and the last `threshold` of them (two different subsets) must give the same
 * secret — a tampered share in either subset changes its result; and `check`, when given, must
 * accept the secret (e.g. the public key derived from a reconstructed private key equals the
 * advertised one, or a commitment matches).
 *
 * @param shares - at least `threshold` shares with distinct x-coordinates
 * @param threshold - the sharing's threshold
 * @param check - optional predicate on the reconstructed secret
 * @returns the secret
 * @throws {@link DpError} `protocol_error` when too few shares, the two subsets disagree, or `check` fails
 * @example
 * ```ts
 * import { shamirSplit, shamirReconstructVerified } from "dpkit/federated";
 * const shares = shamirSplit({ secret: 9n, threshold: 2, holders: [1, 2, 3] });
 * shamirReconstructVerified(shares, 2, (s) => s === 9n); // 9n
 * ```
 * @see A. Shamir, "How to share a secret", 1979.
 */
export function shamirReconstructVerified(shares: readonly ShamirShare[], threshold: number, check?: (secret: bigint) => boolean): bigint {
  const secret = shamirReconstruct(shares, threshold);
  checkHolders(
    "shares",
    shares.map((s) => s.x),
  );
  if (shares.length > threshold && interpolateAtZero(shares.slice(shares.length - threshold)) !== secret) {
    throw new DpError("protocol_error", "Shamir: two subsets of the shares reconstruct different secrets (tampered share).");
  }
  if (check && !check(secret)) {
    throw new DpError("protocol_error", "Shamir: the reconstructed secret fails its verification (tampered share).");
  }
  return secret;
}

/** Encodes a field element as 66 big-endian bytes. */
export function shamirEncodeElement(value: bigint): Uint8Array {
  const out = new Uint8Array(SHAMIR_SHARE_BYTES);
  let v = value;
  for (let i = SHAMIR_SHARE_BYTES - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Decodes 66 big-endian bytes into a field element; rejects values not below the prime. */
export function shamirDecodeElement(bytes: Uint8Array): bigint {
  if (bytes.length !== SHAMIR_SHARE_BYTES) {
    throw new DpError("protocol_error", `Shamir: a share must be ${SHAMIR_SHARE_BYTES} bytes. Found ${bytes.length}.`);
  }
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  if (v >= SHAMIR_PRIME) throw new DpError("protocol_error", "Shamir: a share is not a field element (tampered share).");
  return v;
}

/** A 32-byte secret as a field element (big-endian). */
export function bytesToSecret(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** A field element below 2^256 as 32 big-endian bytes; rejects larger values. */
export function secretToBytes(secret: bigint): Uint8Array {
  if (secret < 0n || secret >= 1n << 256n)
    throw new DpError("protocol_error", "Shamir: the reconstructed secret is not a 32-byte value (tampered share).");
  const out = new Uint8Array(32);
  let v = secret;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
