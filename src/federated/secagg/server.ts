/**
 * The server side of secure aggregation (Bonawitz et al. 2017, semi-honest variant; SecAgg+ of
 * Bell et al. 2020 when the session has a degree), as a state machine:
 * `collectingKeys` → `collectingShares` → `collectingInputs` → `collectingUnmasking` → `done`,
 * or `aborted`, which releases nothing. Each `close…` call ends a round with the clients heard
 * from so far: the ones not heard from have dropped.
 *
 * @see K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017, Fig. 4.
 * @see J. Bell et al., "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020.
 * @module
 */
import { DpError } from "../../errors.js";
import type { Rng } from "../../random/index.js";
import { SECAGG_LABELS, validateSecAggConfig, type ResolvedSecAggConfig } from "./config.js";
import { isSecAggSurvivorSetConnected, secAggNeighbourGraph } from "./graph.js";
import type {
  AdvertiseKeysMessage,
  ForwardedSharesMessage,
  KeyDirectoryMessage,
  MaskedInputMessage,
  SecAggMessage,
  SecAggSessionConfig,
  ShareKeysMessage,
  UnmaskingRequestMessage,
  UnmaskingResponseMessage,
} from "./messages.js";
import { unpackSecAggVector } from "./messages.js";
import {
  addChaChaMask,
  bytesEqual,
  deriveSecAggKey,
  deriveSeedKey,
  randomBytes,
  secAggCommitment,
  secAggPublicKey,
  uint32Bytes,
} from "./primitives.js";
import { SHAMIR_SHARE_BYTES, secretToBytes, shamirDecodeElement, shamirReconstructVerified, type ShamirShare } from "./shamir.js";

/** Largest ciphertext a client may send for one neighbour (the shares are ~150 bytes). */
const MAX_CIPHERTEXT_BYTES = 4096;

const isBytes = (v: unknown, length?: number): v is Uint8Array => v instanceof Uint8Array && (length === undefined || v.length === length);
const describeSender = (v: unknown): string => (typeof v === "number" ? String(v) : (JSON.stringify(v) ?? String(v)));
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Checks the shape of one client message (types, lengths, array elements) before any state
 * changes; returns a reason when it is malformed. The server drops the sender of a malformed
 * message for the rest of the session. Content (who may send what) is checked afterwards.
 */
function malformed(message: Record<string, unknown>, maskedInputBytes: number): string | undefined {
  const keysOk = (k: string[], allowed: string[]): string | undefined => {
    const extra = k.filter((x) => !allowed.includes(x));
    return extra.length > 0 ? `unexpected field ${JSON.stringify(extra[0])}` : undefined;
  };
  const list = (name: string, check: (e: unknown) => string | undefined, max: number): string | undefined => {
    const v = message[name];
    if (!Array.isArray(v)) return `\`${name}\` must be an array`;
    if (v.length > max) return `\`${name}\` has ${v.length} entries; at most ${max} are possible`;
    for (let i = 0; i < v.length; i++) {
      const why = check(v[i]);
      if (why) return `\`${name}[${i}]\` ${why}`;
    }
    return undefined;
  };
  const id = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
  const share = (e: unknown): string | undefined => {
    if (!isObject(e)) return "must be an object";
    return (
      keysOk(Object.keys(e), ["owner", "share"]) ??
      (!id(e.owner)
        ? "has no valid `owner`"
        : !isBytes(e.share, SHAMIR_SHARE_BYTES)
          ? `must carry a ${SHAMIR_SHARE_BYTES}-byte \`share\``
          : undefined)
    );
  };
  const ciphertext = (e: unknown): string | undefined => {
    if (!isObject(e)) return "must be an object";
    const extra = keysOk(Object.keys(e), ["sender", "recipient", "nonce", "ciphertext"]);
    if (extra) return extra;
    if (!id(e.sender) || !id(e.recipient)) return "has no valid `sender`/`recipient`";
    if (!isBytes(e.nonce) || e.nonce.length === 0 || e.nonce.length > 64) return "has no valid `nonce`";
    if (!isBytes(e.ciphertext) || e.ciphertext.length === 0 || e.ciphertext.length > MAX_CIPHERTEXT_BYTES)
      return "has no valid `ciphertext`";
    return undefined;
  };
  const k = Object.keys(message);
  switch (message.stage) {
    case "advertiseKeys":
      return (
        keysOk(k, ["stage", "sender", "encryptionPublicKey", "maskingPublicKey"]) ??
        (!isBytes(message.encryptionPublicKey, 32) || !isBytes(message.maskingPublicKey, 32) ? "public keys are not 32 bytes" : undefined)
      );
    case "shareKeys":
      return (
        keysOk(k, ["stage", "sender", "selfMaskCommitment", "ciphertexts"]) ??
        (!isBytes(message.selfMaskCommitment, 32) ? "self-mask commitment is not 32 bytes" : list("ciphertexts", ciphertext, 1 << 20))
      );
    case "maskedInput":
      return (
        keysOk(k, ["stage", "sender", "maskedInput"]) ??
        (!isBytes(message.maskedInput, maskedInputBytes) ? `masked input must be ${maskedInputBytes} bytes` : undefined)
      );
    case "unmaskingResponse":
      return (
        keysOk(k, ["stage", "sender", "selfMaskShares", "keyShares"]) ??
        list("selfMaskShares", share, 1 << 20) ??
        list("keyShares", share, 1 << 20)
      );
    default:
      return "unknown stage";
  }
}

/** The stages of the server. */
export type SecAggServerStage = "collectingKeys" | "collectingShares" | "collectingInputs" | "collectingUnmasking" | "done" | "aborted";

/** Options for {@link SecAggServer}. */
export interface SecAggServerOptions {
  /** The session's public parameters (identical for every party). */
  config: SecAggSessionConfig;
  /** Randomness for the SecAgg+ graph seed; defaults to the secure source. */
  rng?: Rng;
}

/** What the server releases: the sum of the survivors' inputs modulo 2^modulusBits. */
export interface SecAggResult {
  /** Σ_{u ∈ survivors} x_u mod 2^modulusBits. */
  sum: Uint32Array;
  /** Clients whose inputs are in the sum (U3), sorted. */
  survivors: number[];
  /** Clients that shared keys but sent no masked input (their masks were removed), sorted. */
  droppedAfterSharing: number[];
  /** Survivors that did not answer the unmasking round (their inputs are still in the sum). */
  silentInUnmasking: number[];
}

interface Advertised {
  encryptionPublicKey: Uint8Array;
  maskingPublicKey: Uint8Array;
}

/**
 * The aggregation server.
 *
 * @remarks
 * Honest-but-curious: it follows the protocol and sees only public keys, encrypted shares,
 * masked inputs (uniform modulo 2^modulusBits on their own) and, in the last round, either the
 * self-mask seed or the masking key of each client, never both. It outputs only the sum of the
 * survivors' inputs, and aborts — releasing nothing — when fewer than `threshold` clients remain
 * at any round, when a secret cannot be reconstructed, when a reconstruction fails its check
 * (tampered share), or (SecAgg+) when the survivors are disconnected in the neighbour graph.
 *
 * @example
 * ```ts
 * import { SecAggServer } from "dpkit/federated";
 * const config = { sessionId: new Uint8Array(16), clientIds: [1, 2, 3], threshold: 2, dimension: 2, modulusBits: 16 };
 * const server = new SecAggServer({ config });
 * server.stage; // "collectingKeys"
 * ```
 * @see K. Bonawitz et al., CCS 2017.
 */
export class SecAggServer {
  private readonly config: ResolvedSecAggConfig;
  private readonly rng: Rng | undefined;
  private currentStage: SecAggServerStage = "collectingKeys";
  private abortReason: string | undefined;
  private advertised = new Map<number, Advertised>();
  private graph = new Map<number, number[]>();
  private shareKeys = new Map<number, ShareKeysMessage>();
  private maskedInputs = new Map<number, Uint8Array>();
  private survivorList: number[] = [];
  private droppedByRecipient = new Map<number, number[]>();
  private responses = new Map<number, UnmaskingResponseMessage>();
  private droppedSenders = new Map<number, string>();

  /**
   * @param options - config and rng
   * @throws {@link DpError} `invalid_parameter` for a bad config
   */
  constructor(options: SecAggServerOptions) {
    this.config = validateSecAggConfig(options.config);
    this.rng = options.rng;
  }

  /** The current stage. */
  get stage(): SecAggServerStage {
    return this.currentStage;
  }

  /** Why the server aborted, if it did. */
  get abortedBecause(): string | undefined {
    return this.abortReason;
  }

  private expect(stage: SecAggServerStage, action: string, message?: { stage?: unknown } | null, messageStage?: string): void {
    if (this.currentStage === "aborted") throw new DpError("protocol_error", `server: aborted (${this.abortReason}); refusing ${action}.`);
    if (this.currentStage !== stage) {
      throw new DpError(
        "protocol_error",
        `server: ${action} is not allowed in stage "${this.currentStage}" (expected stage "${stage}"); out-of-order message.`,
      );
    }
    if (messageStage !== undefined && (message === null || typeof message !== "object" || message.stage !== messageStage)) {
      throw new DpError(
        "protocol_error",
        `server: ${action} expects a "${messageStage}" message in stage "${this.currentStage}". Found ${JSON.stringify(message?.stage)}.`,
      );
    }
  }

  private abort(reason: string): never {
    this.currentStage = "aborted";
    this.abortReason = reason;
    throw new DpError("protocol_error", `server aborts, releasing nothing: ${reason}`);
  }

  private reject(reason: string): never {
    throw new DpError("protocol_error", `server: ${reason}`);
  }

  /**
   * The boundary check of every incoming message: a known sender that is still in the session,
   * then the message's shape. A malformed message drops its sender for the rest of the session
   * (as if it had gone offline), so it can neither wedge the round nor retry with another shape.
   */
  private admit(message: { sender?: unknown }, stage: string): number {
    const u = message.sender;
    if (!Number.isSafeInteger(u) || !this.config.clientIds.includes(u as number))
      this.reject(`${stage} from unknown client ${describeSender(u)}.`);
    const id = u as number;
    const why = this.droppedSenders.get(id);
    if (why !== undefined) this.reject(`client ${id} was dropped from this session (${why}); refusing its ${stage}.`);
    const bad = malformed(message as Record<string, unknown>, this.config.dimension * Math.ceil(this.config.modulusBits / 8));
    if (bad !== undefined) {
      const reason = `malformed ${stage}: ${bad}`;
      this.droppedSenders.set(id, reason);
      this.reject(`client ${id} dropped: ${reason}.`);
    }
    return id;
  }

  private dropSender(u: number, reason: string): never {
    this.droppedSenders.set(u, reason);
    this.reject(`${reason}; client ${u} dropped.`);
  }

  /** Clients dropped for sending a malformed message, with the reason. */
  get droppedForMisbehaviour(): ReadonlyMap<number, string> {
    return this.droppedSenders;
  }

  /**
   * Accepts any client message, dispatching on its `stage`; a message for another round than
   * the current one is refused with a `protocol_error` naming both.
   */
  receive(message: SecAggMessage): void {
    switch (message?.stage) {
      case "advertiseKeys":
        return this.receiveAdvertiseKeys(message);
      case "shareKeys":
        return this.receiveShareKeys(message);
      case "maskedInput":
        return this.receiveMaskedInput(message);
      case "unmaskingResponse":
        return this.receiveUnmaskingResponse(message);
      default:
        throw new DpError(
          "protocol_error",
          `server: a client cannot send a ${JSON.stringify((message as { stage?: unknown } | null)?.stage)} message (stage "${this.currentStage}").`,
        );
    }
  }

  /** Round 0: records a client's public keys. Repeated or unknown senders are refused. */
  receiveAdvertiseKeys(message: AdvertiseKeysMessage): void {
    this.expect("collectingKeys", "receiveAdvertiseKeys", message, "advertiseKeys");
    if (isObject(message) && this.advertised.has(message.sender as number))
      this.reject(`repeated advertiseKeys from client ${message.sender}.`);
    const u = this.admit(message, "advertiseKeys");
    this.advertised.set(u, { encryptionPublicKey: message.encryptionPublicKey, maskingPublicKey: message.maskingPublicKey });
  }

  /**
   * Ends round 0: aborts if fewer than `threshold` clients advertised; otherwise fixes U1, draws
   * the public graph seed and returns the key directory to broadcast.
   */
  closeAdvertiseKeys(): KeyDirectoryMessage {
    this.expect("collectingKeys", "closeAdvertiseKeys");
    if (this.advertised.size < this.config.threshold)
      this.abort(`only ${this.advertised.size} clients advertised keys; the threshold is ${this.config.threshold}.`);
    const graphSeed = this.config.sparse ? randomBytes(32, this.rng) : new Uint8Array(0);
    const ids = [...this.advertised.keys()].sort((a, b) => a - b);
    this.graph = secAggNeighbourGraph({ clients: ids, degree: this.config.sparse ? this.config.degree : undefined, seed: graphSeed });
    this.currentStage = "collectingShares";
    return {
      stage: "keyDirectory",
      entries: ids.map((id) => ({ id, ...this.advertised.get(id)! })),
      graphSeed,
    };
  }

  /** Round 1: records a client's encrypted shares (one per neighbour) and self-mask commitment. */
  receiveShareKeys(message: ShareKeysMessage): void {
    this.expect("collectingShares", "receiveShareKeys", message, "shareKeys");
    if (isObject(message) && this.shareKeys.has(message.sender as number)) this.reject(`repeated shareKeys from client ${message.sender}.`);
    if (isObject(message) && !this.advertised.has(message.sender as number))
      this.reject(`shareKeys from client ${describeSender(message.sender)}, who did not advertise keys.`);
    const u = this.admit(message, "shareKeys");
    const expected = new Set(this.graph.get(u)!);
    const seen = new Set<number>();
    for (const c of message.ciphertexts) {
      if (c.sender !== u || !expected.has(c.recipient) || seen.has(c.recipient))
        this.dropSender(u, `client ${u} sent a ciphertext for ${c.recipient}, not one per neighbour`);
      seen.add(c.recipient);
    }
    if (seen.size !== expected.size) this.dropSender(u, `client ${u} sent ${seen.size} ciphertexts for ${expected.size} neighbours`);
    this.shareKeys.set(u, message);
  }

  /**
   * Ends round 1: aborts if fewer than `threshold` clients shared keys (U2); otherwise returns,
   * for each client in U2, the ciphertexts addressed to it by other clients in U2.
   */
  closeShareKeys(): ForwardedSharesMessage[] {
    this.expect("collectingShares", "closeShareKeys");
    if (this.shareKeys.size < this.config.threshold)
      this.abort(`only ${this.shareKeys.size} clients shared keys; the threshold is ${this.config.threshold}.`);
    const inbox = new Map<number, ForwardedSharesMessage>();
    for (const v of this.shareKeys.keys()) inbox.set(v, { stage: "forwardedShares", recipient: v, ciphertexts: [] });
    for (const [, m] of [...this.shareKeys.entries()].sort((a, b) => a[0] - b[0])) {
      for (const c of m.ciphertexts) inbox.get(c.recipient)?.ciphertexts.push(c);
    }
    this.currentStage = "collectingInputs";
    return [...inbox.values()].sort((a, b) => a.recipient - b.recipient);
  }

  /** Round 2: records a client's masked input. */
  receiveMaskedInput(message: MaskedInputMessage): void {
    this.expect("collectingInputs", "receiveMaskedInput", message, "maskedInput");
    if (isObject(message) && this.maskedInputs.has(message.sender as number))
      this.reject(`repeated maskedInput from client ${message.sender}.`);
    if (isObject(message) && !this.shareKeys.has(message.sender as number))
      this.reject(`maskedInput from client ${describeSender(message.sender)}, who did not share keys.`);
    const u = this.admit(message, "maskedInput");
    this.maskedInputs.set(u, message.maskedInput);
  }

  private partners(u: number): number[] {
    return this.graph.get(u)!.filter((v) => this.shareKeys.has(v));
  }

  /**
   * Ends round 2: aborts if fewer than `threshold` masked inputs arrived (U3), or (SecAgg+) if
   * U3 is disconnected in the graph; otherwise returns one unmasking request per survivor.
   */
  closeMaskedInput(): UnmaskingRequestMessage[] {
    this.expect("collectingInputs", "closeMaskedInput");
    const survivors = [...this.maskedInputs.keys()].sort((a, b) => a - b);
    if (survivors.length < this.config.threshold)
      this.abort(`only ${survivors.length} masked inputs arrived; the threshold is ${this.config.threshold}.`);
    if (this.config.sparse && !isSecAggSurvivorSetConnected(this.graph, survivors)) {
      this.abort("the survivors are disconnected in the neighbour graph; unmasking would reveal partial sums.");
    }
    this.survivorList = survivors;
    const alive = new Set(survivors);
    const requests: UnmaskingRequestMessage[] = [];
    for (const u of survivors) {
      const dropped = this.partners(u).filter((v) => !alive.has(v));
      this.droppedByRecipient.set(u, dropped);
      requests.push({ stage: "unmaskingRequest", recipient: u, survivors: survivors.slice(), dropped });
    }
    this.currentStage = "collectingUnmasking";
    return requests;
  }

  /** Round 3: records a survivor's revealed shares after checking they are the ones requested. */
  receiveUnmaskingResponse(message: UnmaskingResponseMessage): void {
    this.expect("collectingUnmasking", "receiveUnmaskingResponse", message, "unmaskingResponse");
    if (isObject(message) && this.responses.has(message.sender as number))
      this.reject(`repeated unmaskingResponse from client ${message.sender}.`);
    if (isObject(message) && !this.maskedInputs.has(message.sender as number))
      this.reject(`unmaskingResponse from client ${describeSender(message.sender)}, who is not a survivor.`);
    const u = this.admit(message, "unmaskingResponse");
    const alive = new Set(this.survivorList);
    const mayHold = new Set([u, ...this.partners(u)]);
    const droppedAsked = new Set(this.droppedByRecipient.get(u));
    const owners = new Set<number>();
    for (const s of message.selfMaskShares) {
      if (!alive.has(s.owner) || !mayHold.has(s.owner) || owners.has(s.owner))
        this.dropSender(u, `client ${u} revealed an unexpected self-mask share of ${s.owner}`);
      owners.add(s.owner);
    }
    for (const s of message.keyShares) {
      if (!droppedAsked.has(s.owner) || owners.has(s.owner))
        this.dropSender(u, `client ${u} revealed an unexpected key share of ${s.owner}`);
      owners.add(s.owner);
    }
    this.responses.set(u, message);
  }

  /**
   * Ends round 3: reconstructs (and verifies) each survivor's self-mask seed and each dropped
   * partner's masking key from at least `threshold` shares, removes every mask, and releases
   * the sum. Aborts, releasing nothing, when fewer than `threshold` survivors answered, when a
   * secret has too few shares, or when a reconstruction fails verification.
   * @returns the sum of the survivors' inputs modulo 2^modulusBits
   */
  finalize(): SecAggResult {
    this.expect("collectingUnmasking", "finalize");
    const cfg = this.config;
    if (this.responses.size < cfg.threshold)
      this.abort(`only ${this.responses.size} survivors answered the unmasking round; the threshold is ${cfg.threshold}.`);
    const selfMaskShares = new Map<number, ShamirShare[]>();
    const keyShares = new Map<number, ShamirShare[]>();
    const decode = (bytes: Uint8Array): bigint => {
      try {
        return shamirDecodeElement(bytes);
      } catch (e) {
        this.abort((e as Error).message);
      }
    };
    for (const [holder, r] of [...this.responses.entries()].sort((a, b) => a[0] - b[0])) {
      for (const s of r.selfMaskShares) {
        if (!selfMaskShares.has(s.owner)) selfMaskShares.set(s.owner, []);
        selfMaskShares.get(s.owner)!.push({ x: holder, y: decode(s.share) });
      }
      for (const s of r.keyShares) {
        if (!keyShares.has(s.owner)) keyShares.set(s.owner, []);
        keyShares.get(s.owner)!.push({ x: holder, y: decode(s.share) });
      }
    }
    const reconstruct = (shares: ShamirShare[] | undefined, what: string, check: (secret: Uint8Array) => boolean): Uint8Array => {
      if (!shares || shares.length < cfg.threshold)
        this.abort(`only ${shares?.length ?? 0} shares of ${what}; the threshold is ${cfg.threshold}.`);
      try {
        const secret = shamirReconstructVerified(shares, cfg.threshold, (s) => s < 1n << 256n && check(secretToBytes(s)));
        return secretToBytes(secret);
      } catch (e) {
        this.abort(`${what}: ${(e as Error).message}`);
      }
    };

    const acc = new Uint32Array(cfg.dimension);
    const mask = cfg.modulusBits === 32 ? -1 : (1 << cfg.modulusBits) - 1;
    // Reconstruct everything before touching the masked inputs: an abort releases nothing.
    const seeds = new Map<number, Uint8Array>();
    for (const u of this.survivorList) {
      const commitment = this.shareKeys.get(u)!.selfMaskCommitment;
      seeds.set(
        u,
        reconstruct(selfMaskShares.get(u), `the self-mask seed of client ${u}`, (b) =>
          bytesEqual(secAggCommitment(cfg.sessionId, SECAGG_LABELS.selfMaskCommitment, uint32Bytes(u), b), commitment),
        ),
      );
    }
    const alive = new Set(this.survivorList);
    const droppedKeys = new Map<number, Uint8Array>();
    for (const v of [...this.shareKeys.keys()].sort((a, b) => a - b)) {
      if (alive.has(v)) continue;
      if (!this.partners(v).some((u) => alive.has(u))) continue;
      const publicKey = this.advertised.get(v)!.maskingPublicKey;
      droppedKeys.set(
        v,
        reconstruct(keyShares.get(v), `the masking key of dropped client ${v}`, (sk) => bytesEqual(secAggPublicKey(sk), publicKey)),
      );
    }
    for (const u of this.survivorList) {
      const y = unpackSecAggVector(this.maskedInputs.get(u)!, cfg.dimension, cfg.modulusBits);
      for (let i = 0; i < acc.length; i++) acc[i] = ((acc[i] + y[i]) & mask) >>> 0;
      addChaChaMask(acc, deriveSeedKey(seeds.get(u)!, cfg.sessionId, SECAGG_LABELS.selfMask), -1, cfg.modulusBits);
    }
    for (const [v, sk] of droppedKeys) {
      for (const u of this.partners(v)) {
        if (!alive.has(u)) continue;
        const key = deriveSecAggKey(sk, this.advertised.get(u)!.maskingPublicKey, cfg.sessionId, SECAGG_LABELS.pairwiseMask(u, v));
        // y_u carried (u > v ? +1 : -1)·PRG(s_{u,v}); remove it.
        addChaChaMask(acc, key, u > v ? -1 : 1, cfg.modulusBits);
      }
    }
    this.currentStage = "done";
    return {
      sum: acc,
      survivors: this.survivorList.slice(),
      droppedAfterSharing: [...this.shareKeys.keys()].filter((v) => !alive.has(v)).sort((a, b) => a - b),
      silentInUnmasking: this.survivorList.filter((u) => !this.responses.has(u)),
    };
  }
}
