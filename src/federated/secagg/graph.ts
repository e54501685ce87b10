/**
 * Who masks with whom: the complete graph of Bonawitz et al. (2017) or the random k-regular
 * neighbour graph of SecAgg+ (Bell et al. 2020).
 *
 * The SecAgg+ graph is a Harary graph H(k, n) — clients on a ring, each joined to the k/2
 * nearest on either side, hence k-connected — laid on a random permutation of the clients drawn
 * from public randomness: a 32-byte seed the server publishes with the key directory, expanded
 * with ChaCha20. Every client recomputes the graph from the seed and the roster, so the server
 * cannot show different clients different graphs.
 *
 * @see J. Bell, K. Bonawitz, A. Gascón, T. Lepoint, M. Raykova, "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020.
 * @module
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { DpError, requireInteger, requireOpenProbability, requireProbability } from "../../errors.js";
import { uniformInt, type Rng } from "../../random/index.js";

/**
 * A deterministic ChaCha20 stream as an {@link Rng}, for PUBLIC randomness only (the neighbour
 * graph): anyone with the seed can predict it, so it is marked `secure: false`.
 */
export class PublicChaChaRng implements Rng {
  readonly secure = false;
  private readonly key: Uint8Array;
  private counter = 0;
  private buffer = new Uint8Array(0);
  private pos = 0;

  /** @param seed - 32 bytes */
  constructor(seed: Uint8Array) {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) {
      throw new DpError("invalid_parameter", "`seed` must be 32 bytes.", "seed");
    }
    this.key = seed.slice();
  }

  private refill(): void {
    // 64 blocks of 64 bytes per refill; the block counter continues across refills.
    const nonce = new Uint8Array(12);
    this.buffer = chacha20(this.key, nonce, new Uint8Array(4096), undefined, this.counter);
    this.counter += 64;
    this.pos = 0;
  }

  nextUint32(): number {
    if (this.pos + 4 > this.buffer.length) this.refill();
    const b = this.buffer;
    const p = this.pos;
    this.pos += 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  fillBytes(out: Uint8Array): void {
    for (let i = 0; i < out.length; i++) {
      if (this.pos >= this.buffer.length) this.refill();
      out[i] = this.buffer[this.pos++];
    }
  }
}

/** Options for {@link secAggNeighbourGraph}. */
export interface SecAggGraphOptions {
  /** Ids of the clients that advertised keys (distinct positive integers). */
  clients: readonly number[];
  /** Neighbours per client (even, >= 2); `undefined` or >= clients - 1 gives the complete graph. */
  degree?: number;
  /** 32 bytes of public randomness for the permutation (required for a sparse graph). */
  seed?: Uint8Array;
}

/**
 * The neighbour lists of the masking/sharing graph: complete, or SecAgg+'s Harary graph H(k, n)
 * on a seeded random permutation.
 *
 * @remarks
 * Privacy: the server learns the sum over each connected component of the graph restricted to
 * the clients whose masked input it unmasks, so the protocol refuses to unmask a disconnected
 * survivor set (see {@link isSecAggSurvivorSetConnected}). H(k, n) is k-connected.
 *
 * @param options - clients, degree and seed
 * @returns a map from each client id to its sorted neighbour ids (never itself)
 * @throws {@link DpError} `invalid_parameter` for an odd or too small degree or a missing seed
 * @example
 * ```ts
 * import { secAggNeighbourGraph } from "dpkit/federated";
 * const g = secAggNeighbourGraph({ clients: [1, 2, 3, 4, 5, 6, 7, 8], degree: 4, seed: new Uint8Array(32) });
 * g.get(1)!.length; // 4
 * ```
 * @see J. Bell et al., "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020.
 */
export function secAggNeighbourGraph(options: SecAggGraphOptions): Map<number, number[]> {
  const ids = [...options.clients].sort((a, b) => a - b);
  const n = ids.length;
  const graph = new Map<number, number[]>();
  const degree = options.degree;
  if (degree === undefined || degree >= n - 1) {
    for (const u of ids)
      graph.set(
        u,
        ids.filter((v) => v !== u),
      );
    return graph;
  }
  requireInteger("degree", degree, { min: 2 });
  if (degree % 2 !== 0) throw new DpError("invalid_parameter", `\`degree\` must be even. Found ${degree}.`, "degree");
  if (!options.seed) throw new DpError("invalid_parameter", "`seed` is required for a SecAgg+ graph.", "seed");
  const rng = new PublicChaChaRng(options.seed);
  const order = ids.slice();
  for (let i = n - 1; i > 0; i--) {
    const j = uniformInt(i + 1, rng);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const half = degree / 2;
  for (let i = 0; i < n; i++) {
    const nbrs: number[] = [];
    for (let s = 1; s <= half; s++) {
      nbrs.push(order[(i + s) % n], order[(i - s + n) % n]);
    }
    graph.set(
      order[i],
      nbrs.sort((a, b) => a - b),
    );
  }
  return graph;
}

/**
 * Whether the graph restricted to `survivors` is connected (a single survivor counts as connected).
 * Unmasking a disconnected survivor set would reveal the sum of each component separately.
 */
export function isSecAggSurvivorSetConnected(graph: ReadonlyMap<number, readonly number[]>, survivors: readonly number[]): boolean {
  if (survivors.length <= 1) return true;
  const alive = new Set(survivors);
  const seen = new Set<number>([survivors[0]]);
  const stack = [survivors[0]];
  while (stack.length) {
    const u = stack.pop()!;
    for (const v of graph.get(u) ?? []) {
      if (alive.has(v) && !seen.has(v)) {
        seen.add(v);
        stack.push(v);
      }
    }
  }
  return seen.size === alive.size;
}

/** The smallest threshold that keeps a majority of share holders honest-required: floor(holders / 2) + 1. */
export function secAggMinimumThreshold(holders: number): number {
  return Math.floor(holders / 2) + 1;
}

function logBinomialPmf(k: number, i: number, p: number): number {
  let lg = 0;
  for (let j = 1; j <= i; j++) lg += Math.log((k - i + j) / j);
  return lg + i * Math.log(p) + (k - i) * Math.log1p(-p);
}

/** P[Binomial(k, p) < t]. */
function binomialCdfBelow(k: number, p: number, t: number): number {
  if (p >= 1) return t > k ? 1 : 0;
  if (p <= 0) return t > 0 ? 1 : 0;
  let s = 0;
  for (let i = 0; i < Math.min(t, k + 1); i++) s += Math.exp(logBinomialPmf(k, i, p));
  return Math.min(1, s);
}

/** Options for {@link secAggPlusParameters}. */
export interface SecAggPlusParameterOptions {
  /** Number of clients n >= 2. */
  clients: number;
  /** Expected fraction of clients that drop out, in [0, 0.5). */
  dropoutRate: number;
  /** Acceptable probability that the round fails (union bound); default 1e-6. */
  failureProbability?: number;
}

/** Degree and threshold of a SecAgg+ round; `degree = clients - 1` means the complete graph. */
export interface SecAggPlusParameters {
  degree: number;
  threshold: number;
  /** The union bound on the failure probability achieved. */
  failureBound: number;
}

/**
 * Chooses SecAgg+'s degree k (even, at least 2·ceil(log2 n)) and threshold
 * t = floor((k + 1) / 2) + 1 so that, with independent dropouts at `dropoutRate`, a round fails
 * with probability at most `failureProbability`.
 *
 * @remarks
 * Two failure events are bounded (union bound over clients): a client keeps fewer than t live
 * share holders among its k neighbours (P[Binomial(k, 1 - rate) < t]); k/2 consecutive clients
 * on the ring drop, which can disconnect the survivors (rate^(k/2)). The majority threshold
 * keeps a server that lies about dropouts from collecting both kinds of share of one client.
 * k grows like log(n) / (1/2 - rate)^2: near-linear total cost in n, but a large constant for
 * high dropout rates. When k reaches n - 1 the complete graph is returned.
 *
 * @param options - clients, dropoutRate, failureProbability
 * @returns degree, threshold and the achieved failure bound
 * @throws {@link DpError} `invalid_parameter` for bad inputs
 * @example
 * ```ts
 * import { secAggPlusParameters } from "dpkit/federated";
 * secAggPlusParameters({ clients: 1000, dropoutRate: 0.1 }); // { degree: 38, threshold: 20, failureBound: ... }
 * ```
 * @see J. Bell et al., "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020.
 */
export function secAggPlusParameters(options: SecAggPlusParameterOptions): SecAggPlusParameters {
  const n = requireInteger("clients", options.clients, { min: 2 });
  const rate = requireProbability("dropoutRate", options.dropoutRate);
  if (!(rate < 0.5)) throw new DpError("invalid_parameter", `\`dropoutRate\` must be < 0.5. Found ${rate}.`, "dropoutRate");
  const failure = requireOpenProbability("failureProbability", options.failureProbability ?? 1e-6);
  const kMin = Math.max(2, 2 * Math.ceil(Math.log2(n)));
  for (let k = kMin; k < n - 1; k += 2) {
    const t = secAggMinimumThreshold(k + 1);
    const bound = n * binomialCdfBelow(k, 1 - rate, t) + n * Math.pow(rate, k / 2);
    if (bound <= failure) return { degree: k, threshold: t, failureBound: bound };
  }
  const t = secAggMinimumThreshold(n);
  return { degree: n - 1, threshold: t, failureBound: n * binomialCdfBelow(n - 1, 1 - rate, t) };
}
