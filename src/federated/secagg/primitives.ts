/**
 * The cryptographic building blocks of secure aggregation, all from audited libraries:
 * X25519 key agreement (@noble/curves), HKDF-SHA256 and SHA-256 (@noble/hashes), the ChaCha20
 * stream as a PRG for masks and ChaCha20-Poly1305 for the shares (@noble/ciphers).
 *
 * Every derived key is bound to the session id and to a purpose label (domain separation), and
 * the share-encryption keys are directional (u→v differs from v→u), so no key ever encrypts two
 * messages.
 *
 * @see K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017.
 * @module
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { chacha20, chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { DpError } from "../../errors.js";
import { resolveRng, type Rng } from "../../random/index.js";

const ENCODER = new TextEncoder();
const ZERO_NONCE = new Uint8Array(12);

/** An X25519 key pair (32-byte secret and public keys). */
export interface SecAggKeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Constant-time-ish byte equality (length first, then every byte). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** A 32-bit unsigned integer as 4 big-endian bytes. */
export function uint32Bytes(value: number): Uint8Array {
  return new Uint8Array([(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

/** Random bytes from `rng` (default: the secure source). */
export function randomBytes(length: number, rng?: Rng): Uint8Array {
  const out = new Uint8Array(length);
  resolveRng(rng).fillBytes(out);
  return out;
}

/** A fresh X25519 key pair; the secret key comes from `rng` (a seeded Rng is insecure). */
export function generateSecAggKeyPair(rng?: Rng): SecAggKeyPair {
  const secretKey = randomBytes(32, rng);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/** The X25519 public key of a secret key. */
export function secAggPublicKey(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

/**
 * The raw X25519 shared secret.
 * @throws {@link DpError} `protocol_error` when the peer's key is invalid (e.g. a low-order point)
 */
export function secAggSharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  try {
    return x25519.getSharedSecret(secretKey, peerPublicKey);
  } catch (e) {
    throw new DpError("protocol_error", `Key agreement failed: ${(e as Error).message}`);
  }
}

/** HKDF-SHA256 of a shared secret, with the session id as salt and `label` as info. */
export function deriveFromSharedSecret(shared: Uint8Array, sessionId: Uint8Array, label: string): Uint8Array {
  return hkdf(sha256, shared, sessionId, ENCODER.encode(label), 32);
}

/**
 * X25519 agreement followed by HKDF-SHA256 with the session id as salt and `label` as info.
 * @throws {@link DpError} `protocol_error` when the peer's key is invalid (e.g. a low-order point)
 */
export function deriveSecAggKey(secretKey: Uint8Array, peerPublicKey: Uint8Array, sessionId: Uint8Array, label: string): Uint8Array {
  return deriveFromSharedSecret(secAggSharedSecret(secretKey, peerPublicKey), sessionId, label);
}

/** HKDF-SHA256 of a 32-byte seed (domain separation for the self-mask). */
export function deriveSeedKey(seed: Uint8Array, sessionId: Uint8Array, label: string): Uint8Array {
  return hkdf(sha256, seed, sessionId, ENCODER.encode(label), 32);
}

/** SHA-256 commitment to a value, bound to a session and a purpose. */
export function secAggCommitment(sessionId: Uint8Array, label: string, ...parts: Uint8Array[]): Uint8Array {
  return sha256(concatBytes(ENCODER.encode(label), sessionId, ...parts));
}

/**
 * Adds `sign` × PRG(key) to `acc` modulo 2^modulusBits, entry by entry. The PRG is the
 * ChaCha20 keystream (RFC 8439, zero nonce: every key expands exactly one mask) read as
 * little-endian words of ceil(modulusBits / 8) bytes, each reduced modulo 2^modulusBits —
 * uniform because the modulus is a power of two.
 */
export function addChaChaMask(acc: Uint32Array, key: Uint8Array, sign: 1 | -1, modulusBits: number): void {
  const bytesPerEntry = Math.ceil(modulusBits / 8);
  const stream = chacha20(key, ZERO_NONCE, new Uint8Array(acc.length * bytesPerEntry));
  const mask = modulusBits === 32 ? -1 : (1 << modulusBits) - 1;
  const d = acc.length;
  if (bytesPerEntry === 4) {
    for (let i = 0, o = 0; i < d; i++, o += 4) {
      const v = (stream[o] | (stream[o + 1] << 8) | (stream[o + 2] << 16) | (stream[o + 3] << 24)) >>> 0;
      acc[i] = ((sign === 1 ? acc[i] + v : acc[i] - v) & mask) >>> 0;
    }
  } else if (bytesPerEntry === 2) {
    for (let i = 0, o = 0; i < d; i++, o += 2) {
      const v = stream[o] | (stream[o + 1] << 8);
      acc[i] = ((sign === 1 ? acc[i] + v : acc[i] - v) & mask) >>> 0;
    }
  } else {
    for (let i = 0, o = 0; i < d; i++, o += bytesPerEntry) {
      let v = 0;
      for (let b = bytesPerEntry - 1; b >= 0; b--) v = v * 256 + stream[o + b];
      acc[i] = ((sign === 1 ? acc[i] + v : acc[i] - v) & mask) >>> 0;
    }
  }
}

/** ChaCha20-Poly1305 encryption (key used once: zero nonce is safe, a random one is carried anyway). */
export function sealShares(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce, associatedData).encrypt(plaintext);
}

/**
 * ChaCha20-Poly1305 decryption.
 * @throws {@link DpError} `protocol_error` when the tag does not verify (tampered ciphertext)
 */
export function openShares(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  associatedData: Uint8Array,
  what: string,
): Uint8Array {
  try {
    return chacha20poly1305(key, nonce, associatedData).decrypt(ciphertext);
  } catch {
    throw new DpError("protocol_error", `${what}: authentication failed (tampered or misdirected ciphertext).`);
  }
}
