/**
 * An in-process simulation of one secure-aggregation round: n clients and the server exchange
 * the real messages, clients drop out at chosen stages, and the result is checked against the
 * plain sum of the survivors' inputs. Used by the CLI, the tests and the benchmark.
 *
 * @see K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017.
 * @module
 */
import { DpError, requireInteger, requireOneOf, requireProbability } from "../../errors.js";
import { resolveRng, uniformInt, type Rng } from "../../random/index.js";
import { SecAggClient } from "./client.js";
import { newSecAggSessionId } from "./config.js";
import { secAggMinimumThreshold } from "./graph.js";
import { secAggMessageBytes, type SecAggMessage } from "./messages.js";
import { SecAggServer } from "./server.js";

/** The stage at which a client stops answering. */
export type SecAggDropStage = "advertiseKeys" | "shareKeys" | "maskedInput" | "unmasking";

/** Every drop stage, in protocol order. */
export const SECAGG_DROP_STAGES: readonly SecAggDropStage[] = ["advertiseKeys", "shareKeys", "maskedInput", "unmasking"];

/** Options for {@link simulateSecAgg}. */
export interface SimulateSecAggOptions {
  /** Number of clients n >= 2 (ids 1..n). */
  clients: number;
  /** Reconstruction threshold t; default a majority of each client's share holders ({@link secAggMinimumThreshold} of degree + 1). */
  threshold?: number;
  /** Entries per input. */
  dimension: number;
  /** Arithmetic modulo 2^modulusBits; default 32. */
  modulusBits?: number;
  /** SecAgg+ degree (even); omit for the complete graph. */
  degree?: number;
  /** Inputs per client (index i for client i + 1); random in [0, 2^modulusBits) when omitted. */
  inputs?: Uint32Array[];
  /** Explicit dropouts: the clients that stop answering at each stage. */
  dropouts?: Partial<Record<SecAggDropStage, number[]>>;
  /** Alternatively, a fraction of clients (rounded down) dropping at `dropStage`, chosen with `rng`. */
  dropoutRate?: number;
  /** Stage for `dropoutRate`; default "maskedInput" (after sharing keys, before the upload: the costly case). */
  dropStage?: SecAggDropStage;
  /** Randomness for keys, masks, inputs and dropouts; defaults to the secure source (a seeded Rng is insecure). */
  rng?: Rng;
  /** Pass each message through JSON serialisation, as over a network. Default false. */
  serialize?: (message: SecAggMessage) => SecAggMessage;
}

/** Outcome of {@link simulateSecAgg}. */
export interface SecAggSimulation {
  /** The released sum, or null when the protocol aborted. */
  sum: Uint32Array | null;
  /** The plain sum of the survivors' inputs (what `sum` must equal), or null when aborted. */
  expected: Uint32Array | null;
  /** Whether `sum` equals `expected` entry for entry. */
  exact: boolean;
  /** Why the protocol aborted, when it did. */
  abortReason?: string;
  survivors: number[];
  dropped: Record<SecAggDropStage, number[]>;
  degree: number;
  threshold: number;
  /** Total server compute time (wall clock), ms. */
  serverMs: number;
  /** Total server CPU time (process user + system time where the platform reports it, else wall clock), ms. */
  serverCpuMs: number;
  /** Mean CPU time per participating client (as `serverCpuMs`), ms. */
  clientCpuMsMean: number;
  /** Mean and max compute time per participating client, ms. */
  clientMsMean: number;
  clientMsMax: number;
  /** Mean bytes a client uploads / downloads (compact encoding, see secAggMessageBytes). */
  clientUploadBytes: number;
  clientDownloadBytes: number;
}

// CPU time of this process (Node); falls back to the wall clock elsewhere (browsers).
const cpuUsage = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process?.cpuUsage;
function cpuNow(): number {
  if (cpuUsage) {
    const u = cpuUsage();
    return (u.user + u.system) / 1000;
  }
  return performance.now();
}

function pickDropouts(n: number, count: number, rng: Rng): number[] {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = n - 1; i > 0; i--) {
    const j = uniformInt(i + 1, rng);
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return ids.slice(0, count).sort((a, b) => a - b);
}

/** Most clients one {@link simulateSecAgg} round simulates. */
export const MAX_SIMULATED_SECAGG_CLIENTS = 100_000;
/** Most (client, neighbour) pairs one simulated round handles (key agreements and shares). */
export const MAX_SIMULATED_SECAGG_PAIRS = 2_000_000;
/** Most mask entries (pairs × dimension) one simulated round expands. */
export const MAX_SIMULATED_SECAGG_MASK_ENTRIES = 2 ** 32;

/**
 * Runs one complete secure-aggregation round in process.
 *
 * @remarks
 * A simulation, for tests, benchmarks and the CLI: every party runs here, so nothing is
 * private. The clients and server are the real ones and exchange the real messages.
 *
 * @param options - clients, threshold, dimension, graph, dropouts, rng
 * @returns the released sum, the expected sum, timings and bytes
 * @throws {@link DpError} `invalid_parameter` for bad options (an abort is reported, not thrown)
 * @example
 * ```ts
 * import { simulateSecAgg } from "dpkit/federated";
 * const r = simulateSecAgg({ clients: 10, threshold: 6, dimension: 100, dropoutRate: 0.3 });
 * r.exact; // true
 * ```
 * @see K. Bonawitz et al., CCS 2017.
 */
export function simulateSecAgg(options: SimulateSecAggOptions): SecAggSimulation {
  const n = requireInteger("clients", options.clients, { min: 2, max: MAX_SIMULATED_SECAGG_CLIENTS });
  // The work is one key agreement and one Shamir share per pair of neighbours, and one mask per
  // entry and neighbour: checked up front, so a large request is refused instead of running for hours.
  const neighbours = Math.min(n - 1, options.degree ?? n - 1);
  const dimension = requireInteger("dimension", options.dimension, { min: 1 });
  if (n * neighbours > MAX_SIMULATED_SECAGG_PAIRS) {
    throw new DpError(
      "invalid_parameter",
      `\`clients\` × neighbours = ${n} × ${neighbours} is more than ${MAX_SIMULATED_SECAGG_PAIRS} pairs for one simulated round: use fewer clients or SecAgg+ with a smaller degree.`,
      "clients",
    );
  }
  if (n * neighbours * dimension > MAX_SIMULATED_SECAGG_MASK_ENTRIES) {
    throw new DpError(
      "invalid_parameter",
      `\`dimension\` ${dimension} × ${n * neighbours} neighbour pairs is more than ${MAX_SIMULATED_SECAGG_MASK_ENTRIES} mask entries for one simulated round: use a smaller dimension or fewer clients.`,
      "dimension",
    );
  }
  const modulusBits = options.modulusBits ?? 32;
  const rate = options.dropoutRate === undefined ? undefined : requireProbability("dropoutRate", options.dropoutRate);
  if (rate !== undefined && !(rate < 1))
    throw new DpError("invalid_parameter", `\`dropoutRate\` must be < 1. Found ${rate}.`, "dropoutRate");
  const stage = requireOneOf("dropStage", options.dropStage ?? "maskedInput", SECAGG_DROP_STAGES);
  const rng = resolveRng(options.rng);
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const config = {
    sessionId: newSecAggSessionId(rng),
    clientIds: ids,
    threshold: options.threshold ?? secAggMinimumThreshold(neighbours + 1),
    dimension: options.dimension,
    modulusBits,
    degree: options.degree,
  };
  const server = new SecAggServer({ config, rng });
  const clients = ids.map((id) => new SecAggClient({ config, id, rng }));
  const dim = requireInteger("dimension", options.dimension, { min: 1 });
  const limit = 2 ** modulusBits;
  let inputs = options.inputs;
  if (inputs) {
    if (inputs.length !== n)
      throw new DpError("invalid_parameter", `\`inputs\` must have one vector per client (${n}). Found ${inputs.length}.`, "inputs");
  } else {
    inputs = ids.map(() => {
      const v = new Uint32Array(dim);
      for (let i = 0; i < dim; i++) v[i] = modulusBits === 32 ? rng.nextUint32() : rng.nextUint32() % limit;
      return v;
    });
  }
  const dropped: Record<SecAggDropStage, number[]> = { advertiseKeys: [], shareKeys: [], maskedInput: [], unmasking: [] };
  for (const s of SECAGG_DROP_STAGES) dropped[s] = [...(options.dropouts?.[s] ?? [])].sort((a, b) => a - b);
  if (rate !== undefined) dropped[stage] = pickDropouts(n, Math.floor(rate * n), rng);
  const gone = new Set<number>();
  const clientMs = new Map<number, number>();
  const up = new Map<number, number>();
  const down = new Map<number, number>();
  let serverMs = 0;
  let serverCpuMs = 0;
  const clientCpu = new Map<number, number>();
  const pass = <T extends SecAggMessage>(m: T): T => (options.serialize ? (options.serialize(m) as T) : m);
  const asClient = <T>(id: number, f: () => T): T => {
    const t0 = performance.now();
    const c0 = cpuNow();
    const r = f();
    clientCpu.set(id, (clientCpu.get(id) ?? 0) + cpuNow() - c0);
    clientMs.set(id, (clientMs.get(id) ?? 0) + performance.now() - t0);
    return r;
  };
  const asServer = <T>(f: () => T): T => {
    const t0 = performance.now();
    const c0 = cpuNow();
    const r = f();
    serverCpuMs += cpuNow() - c0;
    serverMs += performance.now() - t0;
    return r;
  };
  const sent = (id: number, m: SecAggMessage): void => {
    up.set(id, (up.get(id) ?? 0) + secAggMessageBytes(m));
  };
  const got = (id: number, m: SecAggMessage): void => {
    down.set(id, (down.get(id) ?? 0) + secAggMessageBytes(m));
  };

  let sum: Uint32Array | null = null;
  let abortReason: string | undefined;
  let survivors: number[] = [];
  try {
    for (const id of dropped.advertiseKeys) gone.add(id);
    for (const c of clients) {
      if (gone.has(c.id)) continue;
      const m = pass(asClient(c.id, () => c.advertiseKeys()));
      sent(c.id, m);
      asServer(() => server.receive(m));
    }
    const directory = pass(asServer(() => server.closeAdvertiseKeys()));
    for (const id of dropped.shareKeys) gone.add(id);
    for (const c of clients) {
      if (gone.has(c.id)) continue;
      got(c.id, directory);
      const m = pass(asClient(c.id, () => c.shareKeys(directory)));
      sent(c.id, m);
      asServer(() => server.receive(m));
    }
    const forwarded = asServer(() => server.closeShareKeys());
    for (const id of dropped.maskedInput) gone.add(id);
    for (const f of forwarded) {
      if (gone.has(f.recipient)) continue;
      const c = clients[f.recipient - 1];
      const msg = pass(f);
      got(c.id, msg);
      const m = pass(asClient(c.id, () => c.maskInput(msg, inputs![c.id - 1])));
      sent(c.id, m);
      asServer(() => server.receive(m));
    }
    const requests = asServer(() => server.closeMaskedInput());
    for (const id of dropped.unmasking) gone.add(id);
    for (const r of requests) {
      if (gone.has(r.recipient)) continue;
      const c = clients[r.recipient - 1];
      const msg = pass(r);
      got(c.id, msg);
      const m = pass(asClient(c.id, () => c.unmask(msg)));
      sent(c.id, m);
      asServer(() => server.receive(m));
    }
    const result = asServer(() => server.finalize());
    sum = result.sum;
    survivors = result.survivors;
  } catch (e) {
    if (!(e instanceof DpError) || e.code !== "protocol_error") throw e;
    abortReason = e.message;
  }
  let expected: Uint32Array | null = null;
  let exact = false;
  if (sum) {
    const mask = modulusBits === 32 ? -1 : (1 << modulusBits) - 1;
    expected = new Uint32Array(dim);
    for (const u of survivors) {
      const x = inputs[u - 1];
      for (let i = 0; i < dim; i++) expected[i] = ((expected[i] + x[i]) & mask) >>> 0;
    }
    exact = expected.every((v, i) => v === sum![i]);
  }
  const times = [...clientMs.values()];
  const ups = [...up.values()];
  const downs = [...down.values()];
  const mean = (a: number[]): number => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : 0);
  return {
    sum,
    expected,
    exact,
    abortReason,
    survivors,
    dropped,
    degree: options.degree !== undefined && options.degree < n - 1 ? options.degree : n - 1,
    threshold: config.threshold,
    serverMs,
    serverCpuMs,
    clientCpuMsMean: mean([...clientCpu.values()]),
    clientMsMean: mean(times),
    clientMsMax: times.length ? Math.max(...times) : 0,
    clientUploadBytes: mean(ups),
    clientDownloadBytes: mean(downs),
  };
}
