/**
 * The federated service protocol (version 1): the messages a client and the server exchange,
 * shared by both sides and by every transport (in-memory for the simulator, HTTP for the service).
 *
 * # Protocol (PROTOCOL.md in short)
 *
 * Shaped after Bonawitz et al. 2019 ("Towards Federated Learning at Scale") and Google's
 * federated-compute protocol (eligibility → task assignment → report), a subset:
 *
 * | step | client → server (POST, framed body) | server → client |
 * |------|--------------------------------------|-----------------|
 * | check in (selection) | `/v1/checkIn` {@link CheckInRequest} | {@link CheckInResponse}: `retry` (pace steering: come back in `retryAfterMs`), `assigned` (a per-client `token` for this round), or `done` |
 * | configuration | `/v1/poll` {@link PollRequest} | `wait` until the selection closes, then `plan`: the {@link TaskPlan} and the checkpoint (Float32Array) |
 * | reporting, no secure aggregation | `/v1/report` {@link ReportRequest} (the privatised update, Float32Array) | `ack` |
 * | reporting, secure aggregation | `/v1/secagg` {@link SecAggUploadRequest}: advertiseKeys → (poll: keyDirectory) → shareKeys → (poll: forwardedShares) → maskedInput → (poll: unmaskingRequest) → unmaskingResponse | `ack`, and the server's secagg messages through `/v1/poll` as `secagg` |
 * | end of round | `/v1/poll` | `complete` (check in again for the next round), `abandoned` (nothing released), `done` |
 *
 * - Every request after check-in carries `authorization: Bearer <token>`; the token names one
 *   assignment (population, round, slot); the server stores only its SHA-256. A token from an
 *   earlier round or another client's slot is refused (401/409): a client cannot upload into
 *   another client's assignment.
 * - Bodies are frames ({@link encodeFrame}): JSON header plus raw little-endian blobs for every
 *   `Uint8Array` / `Float32Array` (tensors, keys, masked inputs). No base64.
 * - Every message is checked at the boundary ({@link validateClientMessage},
 *   {@link validateServerMessage}): type, fields, lengths, sizes, finiteness — before any state
 *   changes. A refused request gets `{ type: "error", code, reason }` and the round goes on.
 * - HTTP status: 200 ok, 400 malformed, 401 unknown/expired token, 409 wrong phase or another
 *   slot's sender, 410 round over, 413 body too large, 429 rate-limited, 404 unknown path.
 * - Privacy work happens in the client: the plan's {@link ClientPrivacyPlan} says what the client
 *   must do to its delta before upload (clip, noise, encode); the server never receives a raw
 *   update except in the trusted-server modes (`none`, `server`).
 *
 * @see K. Bonawitz et al., "Towards Federated Learning at Scale: System Design", SysML 2019.
 * @module
 */
import type {
  AdvertiseKeysMessage,
  ForwardedSharesMessage,
  KeyDirectoryMessage,
  MaskedInputMessage,
  SecAggSessionConfig,
  ShareKeysMessage,
  UnmaskingRequestMessage,
  UnmaskingResponseMessage,
} from "../secagg/messages.js";

/** Protocol version carried in {@link CheckInRequest.protocol}. */
export const PROTOCOL_VERSION = 1;

/** What kind of runtime a client is (reported in `/status`). */
export type ClientKind = "node" | "browser";

/** Every client kind. */
export const CLIENT_KINDS: readonly ClientKind[] = ["node", "browser"];

/**
 * What a client does to its model delta before it leaves the device. Computed by the server
 * (it knows K, the minimum count and the noise multiplier) and applied by the client.
 *
 * - `none`: upload the raw delta (`--dp none`, or `--dp server`: the trusted server clips and noises).
 * - `clip-local`: clip to `l2NormClip`, add N(0, (z·C)²) per coordinate (local DP).
 * - `clip-distributed`: clip to `l2NormClip`, add N(0, noiseStddev²) per coordinate: one share of
 *   the round's noise (noiseStddev = z·C/√m); private against the server only behind secure aggregation.
 * - `ddg`: the distributed discrete Gaussian share (Kairouz et al. 2021) on a grid of `granularity`.
 */
export type ClientPrivacyPlan =
  | { kind: "none" }
  | { kind: "clip-local"; l2NormClip: number; noiseMultiplier: number }
  | {
      kind: "clip-distributed";
      l2NormClip: number;
      noiseStddev: number;
      /**
       * Adaptive clipping (Andrew et al. 2021): append one coordinate,
       * (‖Δ‖ <= C ? ½ : −½) + N(0, indicatorNoiseStddev²), the client's share of the noisy clipped count.
       */
      indicatorNoiseStddev?: number;
    }
  | { kind: "ddg"; l2NormClip: number; granularity: number; localNoiseStddev: number; beta?: number };

/** How a privatised upload becomes integers modulo 2^modulusBits for secure aggregation. */
export type SecAggEncodingPlan =
  /** `SecAggQuantizer({ clipRange, modulusBits, clients, scale })`: clip each coordinate, scale, round stochastically. */
  | { kind: "quantizer"; clipRange: number; scale: number; modulusBits: number; clients: number }
  /** Exact integers on a grid: round(v / granularity) in two's complement (the discrete Gaussian). */
  | { kind: "integers"; granularity: number; modulusBits: number };

/** The secure-aggregation part of a plan. */
export interface SecAggPlan {
  /** The session's public parameters (sessionId, clientIds, threshold, dimension, modulusBits, degree). */
  config: SecAggSessionConfig;
  /** This client's id in the session (one of `config.clientIds`). */
  clientId: number;
  /** How to encode the privatised upload. */
  encoding: SecAggEncodingPlan;
}

/** The model a task trains: a name the client knows how to build, and its flat size. */
export interface ModelSpec {
  /** e.g. "mlp" or "cnn" for the MNIST demo, or a user's own name. */
  name: string;
  /** Number of parameters (length of the flat weights and of the delta). */
  dimension: number;
  /** Input shape of one example (without the batch axis), when the client needs it. */
  inputShape?: number[];
  /** Number of classes, when the client needs it. */
  numClasses?: number;
}

/** Local training hyper-parameters. */
export interface TrainingPlan {
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  /** A client with fewer examples should not train (eligibility). */
  minExamples: number;
}

/** The plan of one round, sent in the configuration phase. */
export interface TaskPlan {
  population: string;
  /** 0-based round number (completed rounds before this one). */
  round: number;
  taskId: string;
  model: ModelSpec;
  training: TrainingPlan;
  privacy: ClientPrivacyPlan;
  /** Present when the round runs secure aggregation. */
  secagg?: SecAggPlan;
  /** Length of the upload (the model dimension). */
  uploadLength: number;
  /** K: the number of clients the round was planned for. */
  expectedClients: number;
  /** Milliseconds from now until the reporting deadline. */
  deadlineMs: number;
}

/** Client → server: ask to take part (selection). */
export interface CheckInRequest {
  type: "checkIn";
  protocol: number;
  population: string;
  clientKind: ClientKind;
  /** Examples the client holds (eligibility); optional. */
  numExamples?: number;
  /** Free label for logs (e.g. "node-3"); never used for authentication. */
  label?: string;
}

/** Client → server: what should I do now? (token) */
export interface PollRequest {
  type: "poll";
  round: number;
}

/** Client → server: the privatised update (no secure aggregation). (token) */
export interface ReportRequest {
  type: "report";
  round: number;
  numExamples: number;
  update: Float32Array;
  /** Mean local training loss (a non-private diagnostic; omit to keep it on the device). */
  meanLoss?: number;
}

/** A secure-aggregation message a client sends. */
export type ClientSecAggMessage = AdvertiseKeysMessage | ShareKeysMessage | MaskedInputMessage | UnmaskingResponseMessage;

/** A secure-aggregation message the server sends. */
export type ServerSecAggMessage = KeyDirectoryMessage | ForwardedSharesMessage | UnmaskingRequestMessage;

/** Client → server: one secure-aggregation message; `message.sender` must be the token's slot. (token) */
export interface SecAggUploadRequest {
  type: "secagg";
  round: number;
  message: ClientSecAggMessage;
}

/** Any client → server message. */
export type ClientMessage = CheckInRequest | PollRequest | ReportRequest | SecAggUploadRequest;

/** The request paths: `/v1/<type>`. */
export const CLIENT_MESSAGE_TYPES = ["checkIn", "poll", "report", "secagg"] as const;

/** Server → client: come back later (pace steering). */
export interface RetryResponse {
  type: "retry";
  retryAfterMs: number;
  reason: string;
}

/** Server → client: the population is finished (rounds done or the privacy budget reached). */
export interface DoneResponse {
  type: "done";
  reason: string;
}

/** Server → client: selected for a round. */
export interface AssignedResponse {
  type: "assigned";
  /** Bearer token for every later request of this round (secret; 64 hex characters). */
  token: string;
  population: string;
  round: number;
  /** Poll again after this many milliseconds. */
  retryAfterMs: number;
}

/** Any answer to a check-in. */
export type CheckInResponse = RetryResponse | DoneResponse | AssignedResponse;

/** Server → client: nothing to do yet. */
export interface WaitResponse {
  type: "wait";
  phase: RoundPhase;
  retryAfterMs: number;
}

/** Server → client: the configuration (plan and checkpoint). */
export interface PlanResponse {
  type: "plan";
  plan: TaskPlan;
  /** The global weights to train from (length `plan.model.dimension`). */
  checkpoint: Float32Array;
}

/** Server → client: a secure-aggregation message to answer. */
export interface SecAggServerResponse {
  type: "secagg";
  round: number;
  message: ServerSecAggMessage;
}

/** Server → client: the round completed (check in again for the next one). */
export interface CompleteResponse {
  type: "complete";
  round: number;
  accepted: number;
}

/** Server → client: the round was abandoned; nothing was released. */
export interface AbandonedResponse {
  type: "abandoned";
  round: number;
  reason: string;
}

/** Server → client: an upload was taken. */
export interface AckResponse {
  type: "ack";
  retryAfterMs: number;
}

/** Error codes of {@link ErrorResponse} and their HTTP statuses. */
export const PROTOCOL_ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  gone: 410,
  too_large: 413,
  unsupported_media: 415,
  internal: 500,
} as const;

/** A machine-readable reason for a refused request. */
export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_STATUS;

/** Server → client: the request was refused; the round goes on. */
export interface ErrorResponse {
  type: "error";
  code: ProtocolErrorCode;
  reason: string;
}

/** Any server → client message. */
export type ServerMessage =
  | RetryResponse
  | DoneResponse
  | AssignedResponse
  | WaitResponse
  | PlanResponse
  | SecAggServerResponse
  | CompleteResponse
  | AbandonedResponse
  | AckResponse
  | ErrorResponse;

/**
 * The phases of a round (Bonawitz et al. 2019): selection → configuration → reporting, and
 * for secure aggregation the protocol's stages within reporting; then completed or abandoned.
 */
export type RoundPhase =
  | "selection"
  | "configuration"
  | "reporting"
  | "secagg:advertiseKeys"
  | "secagg:shareKeys"
  | "secagg:maskedInput"
  | "secagg:unmasking"
  | "completed"
  | "abandoned";
