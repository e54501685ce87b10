/**
 * The client side of secure aggregation (Bonawitz et al. 2017, semi-honest variant; SecAgg+ of
 * Bell et al. 2020 when the session has a degree), as a state machine:
 * `start` → advertiseKeys → `keysAdvertised` → shareKeys → `sharesSent` → maskInput →
 * `inputSent` → unmask → `done`. A message for another stage, or a repeated one, is refused with
 * a `protocol_error` naming both stages and changes nothing; a failed check (tampered
 * ciphertext, an unmasking request that would reveal too much) aborts the client for good.
 *
 * @see K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017, Fig. 4.
 * @see J. Bell et al., "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020.
 * @module
 */
import { DpError, requireInteger } from "../../errors.js";
import type { Rng } from "../../random/index.js";
import { SECAGG_LABELS, validateSecAggConfig, type ResolvedSecAggConfig } from "./config.js";
import { isSecAggSurvivorSetConnected, secAggNeighbourGraph } from "./graph.js";
import type {
  AdvertiseKeysMessage,
  EncryptedShares,
  ForwardedSharesMessage,
  KeyDirectoryMessage,
  MaskedInputMessage,
  RevealedShare,
  SecAggSessionConfig,
  ShareKeysMessage,
  UnmaskingRequestMessage,
  UnmaskingResponseMessage,
} from "./messages.js";
import { packSecAggVector } from "./messages.js";
import {
  addChaChaMask,
  bytesEqual,
  concatBytes,
  deriveFromSharedSecret,
  deriveSecAggKey,
  deriveSeedKey,
  generateSecAggKeyPair,
  openShares,
  randomBytes,
  sealShares,
  secAggCommitment,
  secAggSharedSecret,
  uint32Bytes,
  type SecAggKeyPair,
} from "./primitives.js";
import { bytesToSecret, SHAMIR_SHARE_BYTES, shamirDecodeElement, shamirEncodeElement, shamirSplit } from "./shamir.js";

/** The stages of a client. */
export type SecAggClientStage = "start" | "keysAdvertised" | "sharesSent" | "inputSent" | "done" | "aborted";

/** Options for {@link SecAggClient}. */
export interface SecAggClientOptions {
  /** The session's public parameters (identical for every party). */
  config: SecAggSessionConfig;
  /** This client's id (one of `config.clientIds`). */
  id: number;
  /** Randomness for keys, the self-mask seed, share polynomials and nonces; defaults to the secure source. A seeded Rng is insecure. */
  rng?: Rng;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/**
 * One client of a secure-aggregation session.
 *
 * @remarks
 * Against an honest-but-curious server (and up to t - 1 colluding clients), the server learns
 * nothing about this client's input beyond the sum over the survivors: the input leaves only
 * masked by a self-mask PRG(b_u) and pairwise masks PRG(s_{u,v}) that cancel in the sum. In the
 * unmasking round the client reveals, for each peer, either its share of the peer's self-mask
 * seed (peer survived) or of its masking key (peer dropped) — never both; it refuses requests
 * that name a peer in both lists, that leave fewer than t survivors among its share holders, or
 * (SecAgg+) whose survivors are disconnected in the neighbour graph, which would reveal partial
 * sums. Randomness comes from `rng` (default: secure); a seeded Rng gives no security.
 *
 * @example
 * ```ts
 * import { SecAggClient } from "dpkit/federated";
 * const config = { sessionId: new Uint8Array(16), clientIds: [1, 2, 3], threshold: 2, dimension: 2, modulusBits: 16 };
 * const client = new SecAggClient({ config, id: 1 });
 * const hello = client.advertiseKeys(); // send to the server
 * ```
 * @see K. Bonawitz et al., CCS 2017.
 */
export class SecAggClient {
  /** This client's id. */
  readonly id: number;
  private readonly config: ResolvedSecAggConfig;
  private readonly rng: Rng | undefined;
  private currentStage: SecAggClientStage = "start";
  private encryptionKeys: SecAggKeyPair | undefined;
  private maskingKeys: SecAggKeyPair | undefined;
  private selfMaskSeed: Uint8Array | undefined;
  private directory = new Map<number, { encryptionPublicKey: Uint8Array; maskingPublicKey: Uint8Array }>();
  private graph = new Map<number, number[]>();
  private ownKeyShare: Uint8Array | undefined;
  private ownSelfMaskShare: Uint8Array | undefined;
  /** Shares held for each mask partner v (v's s^SK share and b share). */
  private held = new Map<number, { keyShare: Uint8Array; selfMaskShare: Uint8Array }>();
  /** What has been revealed about each peer, so no request can obtain both kinds. */
  private revealed = new Map<number, "selfMask" | "key">();
  /** X25519 secrets with each neighbour's encryption key (computed once, used both ways). */
  private encryptionSecrets = new Map<number, Uint8Array>();

  /**
   * @param options - config, id, rng
   * @throws {@link DpError} `invalid_parameter` for a bad config or an id not in it
   */
  constructor(options: SecAggClientOptions) {
    this.config = validateSecAggConfig(options.config);
    this.id = requireInteger("id", options.id, { min: 1 });
    if (!this.config.clientIds.includes(this.id)) {
      throw new DpError("invalid_parameter", `\`id\` must be one of \`clientIds\`. Found ${this.id}.`, "id");
    }
    this.rng = options.rng;
  }

  /** The current stage. */
  get stage(): SecAggClientStage {
    return this.currentStage;
  }

  private expect(stage: SecAggClientStage, action: string, message?: { stage?: unknown }, messageStage?: string): void {
    if (this.currentStage === "aborted") {
      throw new DpError("protocol_error", `client ${this.id}: aborted earlier; refusing ${action}.`);
    }
    if (this.currentStage !== stage) {
      throw new DpError(
        "protocol_error",
        `client ${this.id}: ${action} is not allowed in stage "${this.currentStage}" (expected stage "${stage}"); out-of-order or repeated message.`,
      );
    }
    if (messageStage !== undefined && (message === null || typeof message !== "object" || message.stage !== messageStage)) {
      throw new DpError(
        "protocol_error",
        `client ${this.id}: ${action} expects a "${messageStage}" message in stage "${this.currentStage}". Found ${JSON.stringify((message as { stage?: unknown } | null)?.stage)}.`,
      );
    }
  }

  private abort(reason: string): never {
    this.currentStage = "aborted";
    throw new DpError("protocol_error", `client ${this.id} aborts: ${reason}`);
  }

  private guarded<T>(body: () => T): T {
    try {
      return body();
    } catch (e) {
      this.currentStage = "aborted";
      if (e instanceof DpError) throw e;
      // A server message of the wrong shape (a null entry, a missing array) surfaces here as a
      // TypeError: it is a protocol violation like any other, and the client aborts.
      throw new DpError("protocol_error", `client ${this.id} aborts: malformed message from the server (${(e as Error).message}).`);
    }
  }

  /** Round 0 (AdvertiseKeys): generates two X25519 key pairs and returns the public keys. */
  advertiseKeys(): AdvertiseKeysMessage {
    this.expect("start", "advertiseKeys");
    this.encryptionKeys = generateSecAggKeyPair(this.rng);
    this.maskingKeys = generateSecAggKeyPair(this.rng);
    this.currentStage = "keysAdvertised";
    return {
      stage: "advertiseKeys",
      sender: this.id,
      encryptionPublicKey: this.encryptionKeys.publicKey,
      maskingPublicKey: this.maskingKeys.publicKey,
    };
  }

  /**
   * Round 1 (ShareKeys): checks the key directory, derives the neighbour graph, samples the
   * self-mask seed b_u, Shamir-shares b_u and the masking secret key among the share holders,
   * and encrypts each holder's pair of shares with ChaCha20-Poly1305.
   * @throws {@link DpError} `protocol_error` out of order, or (aborting) for a bad directory
   */
  shareKeys(directory: KeyDirectoryMessage): ShareKeysMessage {
    this.expect("keysAdvertised", "shareKeys", directory, "keyDirectory");
    return this.guarded(() => {
      const cfg = this.config;
      if (!Array.isArray(directory.entries)) this.abort("the key directory has no entries.");
      const seenKeys = new Set<string>();
      for (const e of directory.entries) {
        if (!cfg.clientIds.includes(e.id)) this.abort(`the key directory names unknown client ${e.id}.`);
        if (this.directory.has(e.id)) this.abort(`the key directory lists client ${e.id} twice.`);
        if (
          !(e.encryptionPublicKey instanceof Uint8Array) ||
          e.encryptionPublicKey.length !== 32 ||
          !(e.maskingPublicKey instanceof Uint8Array) ||
          e.maskingPublicKey.length !== 32
        ) {
          this.abort(`client ${e.id}'s public keys are not 32 bytes.`);
        }
        for (const k of [e.encryptionPublicKey, e.maskingPublicKey]) {
          const hex = Array.from(k, (b) => b.toString(16).padStart(2, "0")).join("");
          if (seenKeys.has(hex)) this.abort("two public keys in the key directory are equal.");
          seenKeys.add(hex);
        }
        this.directory.set(e.id, { encryptionPublicKey: e.encryptionPublicKey, maskingPublicKey: e.maskingPublicKey });
      }
      const mine = this.directory.get(this.id);
      if (
        !mine ||
        !bytesEqual(mine.encryptionPublicKey, this.encryptionKeys!.publicKey) ||
        !bytesEqual(mine.maskingPublicKey, this.maskingKeys!.publicKey)
      ) {
        this.abort("the key directory does not carry this client's own keys.");
      }
      if (this.directory.size < cfg.threshold)
        this.abort(`only ${this.directory.size} clients advertised keys; the threshold is ${cfg.threshold}.`);
      if (cfg.sparse && !(directory.graphSeed instanceof Uint8Array && directory.graphSeed.length === 32)) {
        this.abort("the key directory has no 32-byte graph seed.");
      }
      this.graph = secAggNeighbourGraph({
        clients: [...this.directory.keys()],
        degree: cfg.sparse ? cfg.degree : undefined,
        seed: directory.graphSeed,
      });
      const neighbours = this.graph.get(this.id)!;
      const holders = [this.id, ...neighbours].sort((a, b) => a - b);
      if (holders.length < cfg.threshold) this.abort(`only ${holders.length} share holders; the threshold is ${cfg.threshold}.`);

      this.selfMaskSeed = randomBytes(32, this.rng);
      const keyShares = shamirSplit({
        secret: bytesToSecret(this.maskingKeys!.secretKey),
        threshold: cfg.threshold,
        holders,
        rng: this.rng,
      });
      const seedShares = shamirSplit({ secret: bytesToSecret(this.selfMaskSeed), threshold: cfg.threshold, holders, rng: this.rng });
      const ciphertexts: EncryptedShares[] = [];
      for (let i = 0; i < holders.length; i++) {
        const v = holders[i];
        const keyShare = shamirEncodeElement(keyShares[i].y);
        const selfMaskShare = shamirEncodeElement(seedShares[i].y);
        if (v === this.id) {
          this.ownKeyShare = keyShare;
          this.ownSelfMaskShare = selfMaskShare;
          continue;
        }
        const shared = secAggSharedSecret(this.encryptionKeys!.secretKey, this.directory.get(v)!.encryptionPublicKey);
        this.encryptionSecrets.set(v, shared);
        const key = deriveFromSharedSecret(shared, cfg.sessionId, SECAGG_LABELS.shareEncryption(this.id, v));
        const nonce = randomBytes(12, this.rng);
        const plaintext = concatBytes(uint32Bytes(this.id), uint32Bytes(v), keyShare, selfMaskShare);
        const aad = concatBytes(cfg.sessionId, uint32Bytes(this.id), uint32Bytes(v));
        ciphertexts.push({ sender: this.id, recipient: v, nonce, ciphertext: sealShares(key, nonce, plaintext, aad) });
      }
      this.currentStage = "sharesSent";
      return {
        stage: "shareKeys",
        sender: this.id,
        selfMaskCommitment: secAggCommitment(cfg.sessionId, SECAGG_LABELS.selfMaskCommitment, uint32Bytes(this.id), this.selfMaskSeed),
        ciphertexts,
      };
    });
  }

  /**
   * Round 2 (MaskedInputCollection): decrypts and checks the shares addressed to this client
   * (their senders are its mask partners), then returns
   * y_u = x_u + PRG(b_u) + Σ_{v partner} (u > v ? +1 : -1)·PRG(s_{u,v}) mod 2^modulusBits.
   * @param forwarded - the server's forwarded ciphertexts
   * @param input - the client's input, integers in [0, 2^modulusBits), `dimension` entries
   * @throws {@link DpError} `protocol_error` out of order, or (aborting) on a tampered ciphertext
   */
  maskInput(forwarded: ForwardedSharesMessage, input: Uint32Array | ArrayLike<number>): MaskedInputMessage {
    this.expect("sharesSent", "maskInput", forwarded, "forwardedShares");
    const cfg = this.config;
    if (input === null || typeof input !== "object" || input.length !== cfg.dimension) {
      throw new DpError("invalid_parameter", `\`input\` must have ${cfg.dimension} entries. Found ${input?.length}.`, "input");
    }
    const limit = 2 ** cfg.modulusBits;
    for (let i = 0; i < input.length; i++) {
      const v = input[i];
      if (!(Number.isInteger(v) && v >= 0 && v < limit)) {
        throw new DpError(
          "invalid_parameter",
          `\`input\` must hold integers in [0, 2^${cfg.modulusBits}). Found ${v} at index ${i}.`,
          "input",
        );
      }
    }
    return this.guarded(() => {
      if (forwarded.recipient !== this.id) this.abort(`forwarded shares are addressed to ${forwarded.recipient}.`);
      const neighbours = new Set(this.graph.get(this.id)!);
      for (const c of forwarded.ciphertexts ?? []) {
        const v = c.sender;
        if (!neighbours.has(v)) this.abort(`received shares from ${v}, who is not a neighbour.`);
        if (this.held.has(v)) this.abort(`received two sets of shares from ${v}.`);
        if (c.recipient !== this.id) this.abort(`a ciphertext from ${v} is addressed to ${c.recipient}.`);
        const shared =
          this.encryptionSecrets.get(v) ?? secAggSharedSecret(this.encryptionKeys!.secretKey, this.directory.get(v)!.encryptionPublicKey);
        const key = deriveFromSharedSecret(shared, cfg.sessionId, SECAGG_LABELS.shareEncryption(v, this.id));
        const aad = concatBytes(cfg.sessionId, uint32Bytes(v), uint32Bytes(this.id));
        let plain: Uint8Array;
        try {
          plain = openShares(key, c.nonce, c.ciphertext, aad, `client ${this.id}: shares from ${v}`);
        } catch (e) {
          this.abort((e as Error).message);
        }
        if (plain.length !== 8 + 2 * SHAMIR_SHARE_BYTES || readUint32(plain, 0) !== v || readUint32(plain, 4) !== this.id) {
          this.abort(`the shares from ${v} name the wrong sender or recipient.`);
        }
        const keyShare = plain.slice(8, 8 + SHAMIR_SHARE_BYTES);
        const selfMaskShare = plain.slice(8 + SHAMIR_SHARE_BYTES);
        shamirDecodeElement(keyShare);
        shamirDecodeElement(selfMaskShare);
        this.held.set(v, { keyShare, selfMaskShare });
      }
      if (this.held.size + 1 < cfg.threshold)
        this.abort(`only ${this.held.size + 1} share holders remain; the threshold is ${cfg.threshold}.`);

      const y = new Uint32Array(cfg.dimension);
      for (let i = 0; i < y.length; i++) y[i] = input[i];
      addChaChaMask(y, deriveSeedKey(this.selfMaskSeed!, cfg.sessionId, SECAGG_LABELS.selfMask), 1, cfg.modulusBits);
      for (const v of [...this.held.keys()].sort((a, b) => a - b)) {
        const key = deriveSecAggKey(
          this.maskingKeys!.secretKey,
          this.directory.get(v)!.maskingPublicKey,
          cfg.sessionId,
          SECAGG_LABELS.pairwiseMask(this.id, v),
        );
        addChaChaMask(y, key, this.id > v ? 1 : -1, cfg.modulusBits);
      }
      this.currentStage = "inputSent";
      return { stage: "maskedInput", sender: this.id, maskedInput: packSecAggVector(y, cfg.modulusBits) };
    });
  }

  /**
   * Round 3 (Unmasking): reveals its share of b_v for each surviving share owner v and of s_v^SK
   * for each dropped mask partner v, after checking the request.
   * @throws {@link DpError} `protocol_error` out of order, or (aborting) when the request names a
   *   peer as both survivor and dropped ("refuses to reveal both"), omits a partner, names an
   *   unknown one, leaves fewer than t survivors among this client's share holders, or (SecAgg+)
   *   has survivors disconnected in the neighbour graph
   */
  unmask(request: UnmaskingRequestMessage): UnmaskingResponseMessage {
    this.expect("inputSent", "unmask", request, "unmaskingRequest");
    return this.guarded(() => {
      const cfg = this.config;
      if (request.recipient !== this.id) this.abort(`the unmasking request is addressed to ${request.recipient}.`);
      const survivors = new Set(request.survivors ?? []);
      const dropped = new Set(request.dropped ?? []);
      for (const v of dropped) {
        if (survivors.has(v)) {
          this.abort(`refuses to reveal both the self-mask share and the key share of client ${v} (named as survivor and as dropped).`);
        }
        if (!this.held.has(v)) this.abort(`the request names ${v} as dropped, but ${v} is not a mask partner.`);
      }
      if (!survivors.has(this.id)) this.abort("the request does not list this client as a survivor.");
      for (const v of survivors) if (!this.directory.has(v)) this.abort(`the request names unknown survivor ${v}.`);
      for (const v of this.held.keys()) {
        if (!survivors.has(v) && !dropped.has(v)) this.abort(`the request does not say whether partner ${v} survived.`);
      }
      const liveHolders = 1 + [...this.held.keys()].filter((v) => survivors.has(v)).length;
      if (liveHolders < cfg.threshold)
        this.abort(`only ${liveHolders} of this client's share holders survived; the threshold is ${cfg.threshold}.`);
      if (cfg.sparse && !isSecAggSurvivorSetConnected(this.graph, [...survivors])) {
        this.abort("the survivors are disconnected in the neighbour graph; unmasking would reveal partial sums.");
      }
      const selfMaskShares: RevealedShare[] = [];
      const keyShares: RevealedShare[] = [];
      const reveal = (owner: number, kind: "selfMask" | "key"): void => {
        const before = this.revealed.get(owner);
        if (before !== undefined && before !== kind)
          this.abort(`refuses to reveal both the self-mask share and the key share of client ${owner}.`);
        this.revealed.set(owner, kind);
      };
      reveal(this.id, "selfMask");
      selfMaskShares.push({ owner: this.id, share: this.ownSelfMaskShare! });
      for (const [v, s] of [...this.held.entries()].sort((a, b) => a[0] - b[0])) {
        if (survivors.has(v)) {
          reveal(v, "selfMask");
          selfMaskShares.push({ owner: v, share: s.selfMaskShare });
        } else {
          reveal(v, "key");
          keyShares.push({ owner: v, share: s.keyShare });
        }
      }
      this.currentStage = "done";
      return { stage: "unmaskingResponse", sender: this.id, selfMaskShares, keyShares };
    });
  }

  /**
   * The share this client holds of `owner`'s masking key (tests and audits only: an honest
   * client reveals it only in {@link SecAggClient.unmask}).
   * @internal
   */
  heldKeyShareForTesting(owner: number): Uint8Array | undefined {
    return owner === this.id ? this.ownKeyShare : this.held.get(owner)?.keyShare;
  }
}
