/**
 * The messages of secure aggregation: plain objects with `Uint8Array` fields, so they can cross
 * a network unchanged (structured clone, CBOR, or {@link serializeSecAggMessage}'s JSON).
 *
 * Round 0 AdvertiseKeys: client → server {@link AdvertiseKeysMessage}; server → clients
 * {@link KeyDirectoryMessage}. Round 1 ShareKeys: client → server {@link ShareKeysMessage};
 * server → each client {@link ForwardedSharesMessage}. Round 2 MaskedInputCollection:
 * client → server {@link MaskedInputMessage}; server → each client {@link UnmaskingRequestMessage}.
 * Round 3 Unmasking: client → server {@link UnmaskingResponseMessage}.
 *
 * @see K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017, Fig. 4.
 * @module
 */
import { DpError } from "../../errors.js";

/** Public parameters of one aggregation, fixed before round 0 and known to every party. */
export interface SecAggSessionConfig {
  /** 16–64 random bytes naming this aggregation; salts every derived key. */
  sessionId: Uint8Array;
  /** Client ids expected (distinct positive integers). */
  clientIds: number[];
  /** Shares needed to reconstruct a secret; also the minimum number of survivors. */
  threshold: number;
  /** Entries per input vector. */
  dimension: number;
  /** Inputs, masks and the sum live modulo 2^modulusBits, 1 <= modulusBits <= 32. */
  modulusBits: number;
  /** SecAgg+ neighbours per client (even); omit for the complete graph of Bonawitz et al. */
  degree?: number;
}

/** Round 0, client → server: the client's two public keys. */
export interface AdvertiseKeysMessage {
  stage: "advertiseKeys";
  sender: number;
  /** X25519 public key c_u^PK (share encryption). */
  encryptionPublicKey: Uint8Array;
  /** X25519 public key s_u^PK (pairwise masks). */
  maskingPublicKey: Uint8Array;
}

/** One client's entry in the key directory. */
export interface SecAggDirectoryEntry {
  id: number;
  encryptionPublicKey: Uint8Array;
  maskingPublicKey: Uint8Array;
}

/** Round 0, server → every client: the keys of all clients that advertised (U1). */
export interface KeyDirectoryMessage {
  stage: "keyDirectory";
  entries: SecAggDirectoryEntry[];
  /** 32 bytes of public randomness for the SecAgg+ graph (empty for the complete graph). */
  graphSeed: Uint8Array;
}

/** An encrypted pair of shares e_{u,v} = AE(u ‖ v ‖ s_u^SK share ‖ b_u share). */
export interface EncryptedShares {
  sender: number;
  recipient: number;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

/** Round 1, client → server: one ciphertext per share holder, and a commitment to the self-mask seed. */
export interface ShareKeysMessage {
  stage: "shareKeys";
  sender: number;
  /** SHA-256 commitment to b_u, used to verify its reconstruction. */
  selfMaskCommitment: Uint8Array;
  ciphertexts: EncryptedShares[];
}

/** Round 1, server → client v: the ciphertexts addressed to v (their senders form v's U2). */
export interface ForwardedSharesMessage {
  stage: "forwardedShares";
  recipient: number;
  ciphertexts: EncryptedShares[];
}

/** Round 2, client → server: y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_{u,v}) mod 2^modulusBits, packed little-endian. */
export interface MaskedInputMessage {
  stage: "maskedInput";
  sender: number;
  /** dimension × ceil(modulusBits / 8) bytes. */
  maskedInput: Uint8Array;
}

/** Round 2, server → client u: who survived (U3) and which of u's neighbours dropped after sharing. */
export interface UnmaskingRequestMessage {
  stage: "unmaskingRequest";
  recipient: number;
  /** Every client whose masked input the server holds (U3), sorted. */
  survivors: number[];
  /** u's mask partners (in U2) whose masked input never arrived. */
  dropped: number[];
}

/** One revealed share, owned by `owner`, held by the sender. */
export interface RevealedShare {
  owner: number;
  share: Uint8Array;
}

/** Round 3, client → server: b-shares of survivors and s^SK-shares of dropped neighbours. */
export interface UnmaskingResponseMessage {
  stage: "unmaskingResponse";
  sender: number;
  selfMaskShares: RevealedShare[];
  keyShares: RevealedShare[];
}

/** Any secure-aggregation message. */
export type SecAggMessage =
  | AdvertiseKeysMessage
  | KeyDirectoryMessage
  | ShareKeysMessage
  | ForwardedSharesMessage
  | MaskedInputMessage
  | UnmaskingRequestMessage
  | UnmaskingResponseMessage;

const BYTES_TAG = "$bytes";

// btoa/atob exist in browsers and in Node >= 16, unlike Buffer.
const b64 = globalThis as unknown as { btoa(s: string): string; atob(s: string): string };

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return b64.btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = b64.atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Serialises a message to JSON (byte fields as base64).
 * @example
 * ```ts
 * import { serializeSecAggMessage, deserializeSecAggMessage } from "dpkit/federated";
 * const m = deserializeSecAggMessage(serializeSecAggMessage({ stage: "maskedInput", sender: 1, maskedInput: new Uint8Array(4) }));
 * ```
 */
export function serializeSecAggMessage(message: SecAggMessage): string {
  return JSON.stringify(message, (_k, v) => (v instanceof Uint8Array ? { [BYTES_TAG]: toBase64(v) } : v));
}

/**
 * Parses a message written by {@link serializeSecAggMessage}.
 * @throws {@link DpError} `protocol_error` for malformed input
 */
export function deserializeSecAggMessage(text: string): SecAggMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, (_k, v) =>
      v !== null && typeof v === "object" && typeof (v as Record<string, unknown>)[BYTES_TAG] === "string"
        ? fromBase64((v as Record<string, string>)[BYTES_TAG])
        : v,
    );
  } catch (e) {
    throw new DpError("protocol_error", `Malformed secure-aggregation message: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || typeof (parsed as { stage?: unknown }).stage !== "string") {
    throw new DpError("protocol_error", "Malformed secure-aggregation message: no `stage`.");
  }
  return parsed as SecAggMessage;
}

/**
 * The size of a message in a compact binary encoding: byte fields at their length, every
 * integer 4 bytes, plus 1 byte for the stage. What the benchmark reports as "bytes".
 */
export function secAggMessageBytes(message: SecAggMessage): number {
  let total = 1;
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) total += v.length + 4;
    else if (typeof v === "number") total += 4;
    else if (Array.isArray(v)) {
      total += 4;
      for (const x of v) walk(x);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) if (k !== "stage") walk(x);
    }
  };
  walk(message);
  return total;
}

/** Packs values in [0, 2^modulusBits) as little-endian words of ceil(modulusBits / 8) bytes. */
export function packSecAggVector(values: Uint32Array, modulusBits: number): Uint8Array {
  const w = Math.ceil(modulusBits / 8);
  const out = new Uint8Array(values.length * w);
  for (let i = 0, o = 0; i < values.length; i++, o += w) {
    let v = values[i];
    for (let b = 0; b < w; b++) {
      out[o + b] = v & 255;
      v >>>= 8;
    }
  }
  return out;
}

/**
 * Inverse of {@link packSecAggVector}.
 * @throws {@link DpError} `protocol_error` when the length does not match the dimension
 */
export function unpackSecAggVector(bytes: Uint8Array, dimension: number, modulusBits: number): Uint32Array {
  const w = Math.ceil(modulusBits / 8);
  if (!(bytes instanceof Uint8Array) || bytes.length !== dimension * w) {
    throw new DpError("protocol_error", `A masked input must be ${dimension * w} bytes. Found ${bytes?.length}.`);
  }
  const mask = modulusBits === 32 ? -1 : (1 << modulusBits) - 1;
  const out = new Uint32Array(dimension);
  for (let i = 0, o = 0; i < dimension; i++, o += w) {
    let v = 0;
    for (let b = w - 1; b >= 0; b--) v = v * 256 + bytes[o + b];
    out[i] = (v & mask) >>> 0;
  }
  return out;
}
