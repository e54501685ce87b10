/**
 * What a federated client does to its model update before anything leaves the device: clip it
 * to an L2 norm, add its noise (the full local noise, or its share of the server's noise under
 * distributed DP), encode it as integers modulo 2^k for secure aggregation, and — where the plan
 * allows — compress it. These are the client half of the DP-FedAvg aggregators (McMahan et al.
 * 2018; Kairouz, Liu & Steinke 2021), driven by the plain-data plan the server sends, so the
 * server's code never holds the function that sees one client's raw update.
 *
 * @see H. B. McMahan et al., "Learning Differentially Private Recurrent Language Models", ICLR 2018.
 * @see P. Kairouz, Z. Liu, T. Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML 2021.
 * @module
 */
import { DpError, requireInteger, requireNonNegative, requireObject, requirePositive } from "../../errors.js";
import { requireSecureRng, type Rng } from "../../random/rng.js";
import { fillGaussian } from "../../random/gaussian.js";
import { addGaussianNoiseInPlace, type GaussianNoiseKind } from "../../mechanisms/gaussian-noise.js";
import type { UpdateCompressor } from "../compression/compressor.js";
import { NoCompression } from "../compression/compressor.js";
import { RandomSubsampler, StochasticQuantizer } from "../compression/quantize.js";
import { clipToL2Norm, l2NormOf } from "../core/vector.js";
import { ddgClientShare, ddgRoundedL2Bound } from "../secagg/ddg.js";
import { encodeSecAggIntegers, SecAggQuantizer } from "../secagg/encoding.js";
import type { ClientPrivacyPlan, SecAggEncodingPlan } from "../protocol/messages.js";

/**
 * The client's noise as the server plans it: the protocol's {@link ClientPrivacyPlan}.
 * - `none`: upload the raw delta (no DP, or a trusted server that clips and noises itself);
 * - `clip-local`: clip to C, add N(0, (zC)²) (local DP, against anyone);
 * - `clip-distributed`: clip to C, add this client's share N(0, noiseStddev²); m shares sum to
 *   the server-side noise (private against the server only behind secure aggregation);
 * - `ddg`: the distributed discrete Gaussian share (integers on a grid of step `granularity`,
 *   uploaded as multiples of it).
 */
export type ClientNoisePlan = ClientPrivacyPlan;

/** An uplink codec the plan may allow (only without secure aggregation: masks need the raw integers). */
export type CompressionPlan =
  { kind: "none" } | { kind: "quantize"; bits: number; rotate?: boolean } | { kind: "subsample"; fraction: number };

/** What {@link privatizeUpdate} returns. */
export interface PrivatizedUpdate {
  /** The vector that leaves the device (clipped and noised; maybe one coordinate longer). */
  upload: Float32Array;
  /** ‖Δ‖₂ before clipping (stays on the device; for local logs). */
  norm: number;
  /** Whether the update was scaled down. */
  wasClipped: boolean;
}

/**
 * Checks a {@link ClientNoisePlan} received from a server.
 * @param plan - the plan as received (untrusted)
 * @returns a clean copy
 * @throws {@link DpError} `protocol_error` naming the bad field
 * @example
 * ```ts
 * import { checkClientNoisePlan } from "dpkit/federated";
 * checkClientNoisePlan({ kind: "clip-distributed", l2NormClip: 1, noiseStddev: 0.5 });
 * ```
 */
export function checkClientNoisePlan(plan: unknown): ClientNoisePlan {
  const bad = (field: string, value: unknown): never => {
    throw new DpError("protocol_error", `The server's noise plan has a bad \`${field}\`: ${JSON.stringify(value)}.`, field);
  };
  if (plan === null || typeof plan !== "object") bad("plan", plan);
  const p = plan as Record<string, unknown>;
  const pos = (k: string): number =>
    typeof p[k] === "number" && Number.isFinite(p[k]) && (p[k] as number) > 0 ? (p[k] as number) : bad(k, p[k]);
  const nonNeg = (k: string): number =>
    typeof p[k] === "number" && Number.isFinite(p[k]) && (p[k] as number) >= 0 ? (p[k] as number) : bad(k, p[k]);
  switch (p.kind) {
    case "none":
      return { kind: "none" };
    case "clip-local":
      return { kind: "clip-local", l2NormClip: pos("l2NormClip"), noiseMultiplier: nonNeg("noiseMultiplier") };
    case "clip-distributed": {
      const out: ClientNoisePlan = { kind: "clip-distributed", l2NormClip: pos("l2NormClip"), noiseStddev: nonNeg("noiseStddev") };
      if (p.indicatorNoiseStddev !== undefined) out.indicatorNoiseStddev = nonNeg("indicatorNoiseStddev");
      return out;
    }
    case "ddg": {
      const g = pos("granularity");
      if (2 ** Math.round(Math.log2(g)) !== g) bad("granularity", g);
      const out: ClientNoisePlan = {
        kind: "ddg",
        l2NormClip: pos("l2NormClip"),
        granularity: g,
        localNoiseStddev: pos("localNoiseStddev"),
      };
      if (p.beta !== undefined) out.beta = pos("beta");
      return out;
    }
    default:
      return bad("kind", p.kind);
  }
}

/**
 * Clips and noises one model update on the device, as the server's plan says.
 *
 * @remarks
 * Privacy (client level): after clipping, one client's contribution has L2 norm at most C; the
 * Gaussian noise is drawn by dpkit's exact sampler from `rng` (default: the platform CSPRNG,
 * `crypto.getRandomValues`, in Node and in browsers alike). Local placement gives each upload
 * the Gaussian mechanism with multiplier z/2 against anyone (replace-one: two updates differ by
 * up to 2C); distributed shares protect the client only when the server sees the sum alone
 * (secure aggregation). Non-finite deltas become the zero vector (clipped), never an error that
 * depends on the data.
 *
 * @param delta - w_local − w_global (not modified)
 * @param plan - the server's {@link ClientNoisePlan}
 * @param rng - noise source; default secure. A source that is not `secure` is refused unless `allowInsecureRng`.
 * @param allowInsecureRng - accept a seeded `rng` (a reproducible simulation, NOT private); default false
 * @param noise - `clip-local` only: `"exact"` (default) adds discrete Gaussian noise on a power-of-two grid
 *   (`addGaussianNoise`, immune to the floating-point attack), `"continuous"` floating-point ziggurat noise
 * @returns the upload, the pre-clip norm and whether it was clipped
 * @throws {@link DpError} `protocol_error` for a malformed plan
 * @example
 * ```ts
 * import { privatizeUpdate } from "dpkit/federated";
 * const { upload } = privatizeUpdate(new Float32Array([3, 4]),
 *   { kind: "clip-local", l2NormClip: 1, noiseMultiplier: 0.5 });
 * upload.length; // 2
 * ```
 * @see McMahan et al., ICLR 2018 (DP-FedAvg); Andrew et al., NeurIPS 2021 (the indicator coordinate of adaptive clipping).
 */
export function privatizeUpdate(
  delta: Float32Array,
  plan: ClientNoisePlan,
  rng?: Rng,
  allowInsecureRng = false,
  noise: GaussianNoiseKind = "exact",
): PrivatizedUpdate {
  if (!(delta instanceof Float32Array)) throw new DpError("invalid_parameter", "`delta` must be a Float32Array.", "delta");
  const p = checkClientNoisePlan(plan);
  // The device's noise: an insecure (seeded) source only on the caller's explicit opt-in.
  if (p.kind !== "none") requireSecureRng(rng, allowInsecureRng);
  if (p.kind === "none") {
    return { upload: delta.slice(), norm: l2NormOf(delta), wasClipped: false };
  }
  if (p.kind === "ddg") {
    const norm = l2NormOf(delta);
    const params = {
      l2NormClip: p.l2NormClip,
      granularity: p.granularity,
      localNoiseStddev: p.localNoiseStddev,
      beta: p.beta,
      dimension: delta.length,
    };
    const reach = ddgRoundedL2Bound(params) + 40 * p.localNoiseStddev;
    if (!(reach < 2 ** 24)) {
      throw new DpError(
        "protocol_error",
        `A discrete Gaussian share could exceed 2^24 grid steps (${Math.ceil(reach)}) and lose precision in float32: the plan's \`granularity\` is too fine.`,
        "granularity",
      );
    }
    const z = ddgClientShare(delta, params, rng);
    const upload = new Float32Array(z.length);
    for (let i = 0; i < z.length; i++) upload[i] = z[i] * p.granularity;
    return { upload, norm, wasClipped: !(norm <= p.l2NormClip) };
  }
  const { clipped, norm, wasClipped } = clipToL2Norm(delta, p.l2NormClip);
  const stddev = p.kind === "clip-local" ? p.noiseMultiplier * p.l2NormClip : p.noiseStddev;
  // clip-local: one Gaussian mechanism per client, exact grid noise by default. clip-distributed:
  // continuous shares (a sum of discrete Gaussians is not a discrete Gaussian; the exact
  // distributed plan is "ddg").
  const kind = p.kind === "clip-local" ? noise : "continuous";
  const indicator = p.kind === "clip-distributed" && p.indicatorNoiseStddev !== undefined;
  // The noise is added in place, in one pass, rounded to float32 once (addGaussianNoise's values).
  const upload = indicator ? new Float32Array(clipped.length + 1) : clipped;
  if (indicator) upload.set(clipped);
  addGaussianNoiseInPlace([upload.subarray(0, clipped.length)], {
    stddev,
    sensitivity: p.l2NormClip,
    noise: kind,
    rng,
    divisor: 1,
    name: "delta",
  });
  if (p.kind === "clip-distributed" && p.indicatorNoiseStddev !== undefined) {
    upload[clipped.length] = fillGaussian(new Float64Array(1), p.indicatorNoiseStddev, rng)[0] + (wasClipped ? -0.5 : 0.5);
  }
  return { upload, norm, wasClipped };
}

/**
 * Encodes a privatised upload as integers modulo 2^modulusBits, the input of the client's
 * secure-aggregation masking ({@link SecAggClient.maskInput}).
 *
 * @param upload - from {@link privatizeUpdate}
 * @param plan - the server's encoding (the server decodes the sum with the same parameters)
 * @param rng - randomness of the stochastic rounding; default secure
 * @returns integers in [0, 2^modulusBits)
 * @throws {@link DpError} `protocol_error` for a malformed plan
 * @example
 * ```ts
 * import { encodeForSecureAggregation } from "dpkit/federated";
 * encodeForSecureAggregation(new Float32Array([0.5, -0.25]),
 *   { kind: "quantizer", clipRange: 1, modulusBits: 32, clients: 10, scale: 2 ** 20 });
 * ```
 */
export function encodeForSecureAggregation(upload: Float32Array, plan: SecAggEncodingPlan, rng?: Rng): Uint32Array {
  try {
    requireObject("encoding", plan);
    if (plan.kind === "quantizer") {
      const q = new SecAggQuantizer({ clipRange: plan.clipRange, modulusBits: plan.modulusBits, clients: plan.clients, scale: plan.scale });
      return q.encode(upload, rng);
    }
    if (plan.kind === "integers") {
      const g = requirePositive("granularity", plan.granularity);
      const bits = requireInteger("modulusBits", plan.modulusBits, { min: 2, max: 32 });
      return encodeSecAggIntegers(
        Array.from(upload, (v) => Math.round(v / g)),
        bits,
      );
    }
  } catch (e) {
    if (e instanceof DpError)
      throw new DpError("protocol_error", `The server's secure-aggregation encoding is unusable: ${e.message}`, "encoding");
    throw e;
  }
  throw new DpError(
    "protocol_error",
    `The server's secure-aggregation encoding has an unknown kind ${JSON.stringify((plan as { kind?: unknown }).kind)}.`,
    "encoding",
  );
}

/**
 * The uplink codec a {@link CompressionPlan} names (shared by client and server).
 * @throws {@link DpError} `protocol_error` for an unknown or malformed plan
 * @example
 * ```ts
 * import { compressorForPlan } from "dpkit/federated";
 * compressorForPlan({ kind: "quantize", bits: 8 }).encodedBytes(1000);
 * ```
 */
export function compressorForPlan(plan: CompressionPlan | undefined): UpdateCompressor {
  try {
    if (plan === undefined || plan.kind === "none") return new NoCompression();
    if (plan.kind === "quantize") return new StochasticQuantizer({ bits: plan.bits, rotate: plan.rotate });
    if (plan.kind === "subsample") return new RandomSubsampler({ fraction: requireNonNegative("fraction", plan.fraction) });
  } catch (e) {
    if (e instanceof DpError) throw new DpError("protocol_error", `The server's compression plan is unusable: ${e.message}`, "compression");
    throw e;
  }
  throw new DpError("protocol_error", `Unknown compression ${JSON.stringify((plan as { kind?: unknown }).kind)}.`, "compression");
}

/**
 * {@link privatizeUpdate}'s upload alone: the client half that the simulator (`runFedAvg`'s
 * `privatize` option) applies to each simulated client's delta.
 * @param delta - w_local − w_global (not modified)
 * @param plan - the aggregator's client plan
 * @param rng - noise source; default secure. A seeded Rng is **insecure** (simulation only).
 * @returns the vector that leaves the device
 * @example
 * ```ts
 * import { DpFedAvgAggregator, privatizeUpload } from "dpkit/federated";
 * const agg = new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, noisePlacement: "client-local" });
 * privatizeUpload(new Float32Array([3, 4]), agg.clientPlan({ round: 0, dimension: 2, expectedClients: 10 }));
 * ```
 */
export function privatizeUpload(delta: Float32Array, plan: ClientNoisePlan, rng?: Rng): Float32Array {
  // The simulator passes a seeded round rng only when its driver seeded the run (`seed`): that
  // seed is the explicit opt-in to a reproducible, non-private simulation.
  return privatizeUpdate(delta, plan, rng, true).upload;
}
