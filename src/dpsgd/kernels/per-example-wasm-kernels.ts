/**
 * Per-example kernels for the Conv1D and recurrent rules, in a small hand-written WebAssembly
 * SIMD module (./wasm/per-example.wat) that owns its memory: the inputs are copied in (from
 * host views of the backend's tensors), the results copied out.
 *
 * - {@link conv1dPerExample}: every example's Conv1D kernel (and bias) gradient,
 *   `dW_i[k, c, :] = sum_q x_i[q·s + k·d, c] · g_i[q, :]`, and its squared norm, in one pass over
 *   the batch: two kernel rows by sixteen output channels at a time in eight f32x4 accumulators
 *   (tfjs-backend-wasm's route, one depthwise convolution with the examples as channels, runs its
 *   generic path for these shapes: about 3× slower for the same multiply-adds, measured). The sums
 *   over positions skip the positions whose output-gradient row is exactly zero (after
 *   GlobalMaxPooling1D all but each channel's argmax) where the example's input is finite: the
 *   skipped terms are ±0, so the result has the same bits.
 * - {@link recurrentGhostNorms}: the host ghost norms `sum_{t,s} (a_t·a_s)(g_t·g_s)` of a
 *   SimpleRNN/LSTM layer with `a_t = [x_t, h_{t-1}, 1]` over the live (unmasked) steps, the dot
 *   products in f32x4 lanes, the sums over pairs in float64 (the JS loop they replace summed the
 *   dot products in float64 too; the lanes add float32 products in float32).
 *
 * Same maths as the routes they replace; only the order and precision of the float additions
 * differ (float32 accumulation over at most the sequence length or the feature width). Null
 * where WebAssembly SIMD is unavailable: the callers keep their own routes.
 * @module
 */
import { WASM_BASE64 as PER_EXAMPLE_WASM_BASE64 } from "./wasm/per-example-wasm.js";
import { DpError } from "../../errors.js";
import { align16, base64Bytes, compileWasmModule, ensureMemory, lazyExports } from "../../util/wasm.js";

interface Exports {
  memory: WebAssembly.Memory;
  conv1d(
    x: number,
    g: number,
    out: number,
    sq: number,
    n: number,
    len: number,
    cin: number,
    p: number,
    k: number,
    o: number,
    stride: number,
    dil: number,
    bias: number,
    live: number,
  ): void;
  ghost(
    x: number,
    h: number,
    g: number,
    sq: number,
    live: number,
    n: number,
    t: number,
    din: number,
    u: number,
    q: number,
    bias: number,
  ): void;
  wsum(per: number, w: number, acc: number, n: number, d: number): void;
  embNorms(g: number, slots: number, scratch: number, sq: number, n: number, t: number, d: number): void;
  embRows(g: number, rowIdx: number, w: number, acc: number, n: number, t: number, d: number, rows: number): void;
  embMean(table: number, ids: number, out: number, n: number, t: number, d: number): void;
  embRowsPooled(h: number, rowIdx: number, w: number, acc: number, n: number, t: number, d: number, rows: number): void;
  outer(
    x: number,
    h: number,
    g: number,
    w: number,
    wg: number,
    out: number,
    n: number,
    t: number,
    din: number,
    u: number,
    q: number,
    bias: number,
  ): void;
}

let disabled = false;

let moduleBytes: WebAssembly.Module | null | undefined;
/** The compiled module (once), or null where it does not compile (no WebAssembly SIMD). */
function perExampleModule(): WebAssembly.Module | null {
  if (moduleBytes === undefined) moduleBytes = compileWasmModule(base64Bytes(PER_EXAMPLE_WASM_BASE64));
  return moduleBytes;
}

/** The Conv1D and recurrent kernels' instance. */
const instance = lazyExports<Exports>(perExampleModule);
/**
 * A second instance of the same module, with its own memory, for the Embedding kernels: a model
 * with an Embedding before a Conv1D or recurrent layer (every text model) keeps both layers' data
 * in place between the norms and the clipped sum (one shared memory made the Embedding's clipped
 * sum evict the Conv1D's per-example gradients, a 2.6 MB copy and a JS sum per step).
 */
const embeddingInstance = lazyExports<Exports>(perExampleModule);

/** The instantiated module, or null where WebAssembly SIMD is not available (or the kernels are switched off). */
function kernel(): Exports | null {
  return disabled ? null : instance();
}

/** The Embedding kernels' instance (see {@link embeddingInstance}), or null like {@link kernel}. */
function embeddingKernel(): Exports | null {
  return disabled ? null : embeddingInstance();
}

/**
 * Switches the kernels off (true: the rules take their tensor and JS routes, as where WebAssembly
 * SIMD is missing) or on again; for tests and benchmarks (the same instance is kept). @internal
 */
export function setPerExampleKernelsDisabled(off: boolean): void {
  disabled = off;
}

/** Whether the per-example kernels can run here (WebAssembly with SIMD). @internal */
export function perExampleKernelsAvailable(): boolean {
  return kernel() !== null;
}

/** Grows the module's memory to hold `bytes` bytes; returns its buffer. */
const ensure = (k: Exports, bytes: number): ArrayBuffer => ensureMemory(k.memory, bytes);

/** Geometry of a Conv1D for {@link conv1dPerExample}. @internal */
export interface Conv1dShape {
  /** Examples, input length, input channels. */
  n: number;
  len: number;
  cin: number;
  /** Output positions and channels (`o` a multiple of 4). */
  positions: number;
  cout: number;
  /** Kernel size, stride, dilation, zero padding before the first input position. */
  kernelSize: number;
  stride: number;
  dilation: number;
  padLeft: number;
  /** Whether the layer has a bias (its per-example gradient, the sum of the rows of `g_i`, is appended). */
  bias: boolean;
}

/** Per-example Conv1D gradients held by the module, from {@link conv1dPerExample}. @internal */
export interface Conv1dPerExample {
  /** Each example's squared norm (kernel and bias), `[n]`. */
  squaredNorms: Float32Array;
  /** `sum_i w_i per_i` (`[(kernelSize·cin + bias) · cout]`, kernel rows then the bias row), float64 sums rounded once. */
  weightedSum(w: ArrayLike<number>): Float32Array;
}

/**
 * The result whose per-example gradients occupy the module's memory: the next call that needs the
 * memory first has it copy them out (so one model's several Conv1D layers, or a Conv1D and a
 * recurrent layer, each keep theirs; a model with one such layer never copies them). A Conv1D
 * result gives the memory up once its clipped sum is formed (the engine forms it once per step),
 * so the next step's first call does not copy out the last step's gradients.
 */
let holder: { evict(): void } | null = null;
/** Counts the calls that took the memory: a released result's data are intact while it is unchanged. */
let generation = 0;

function claim(): void {
  const h = holder;
  holder = null;
  generation++;
  h?.evict();
}

/**
 * Per-example Conv1D gradients (rows ordered (k, c) as tfjs's `[kernelSize, cin, cout]` kernel,
 * then the bias row) and their squared norms; `x` `[n, len, cin]` and `g` `[n, positions, cout]`
 * are read at once (host views are fine). The gradients stay in the module's memory for the
 * clipped sum. Null where the module is unavailable or `cout` is not a multiple of 4. @internal
 */
export function conv1dPerExample(x: ArrayLike<number>, g: Float32Array, s: Conv1dShape): Conv1dPerExample | null {
  const k = kernel();
  if (k === null || s.cout % 4 !== 0 || s.n === 0) return null;
  claim();
  const need = (s.positions - 1) * s.stride + (s.kernelSize - 1) * s.dilation + 1; // padded positions read
  const rowsOut = s.kernelSize * s.cin + (s.bias ? 1 : 0);
  const d = rowsOut * s.cout;
  const xBytes = 4 * s.n * need * s.cin;
  const gOff = align16(xBytes);
  const perOff = align16(gOff + 4 * g.length);
  const perLen = s.n * d;
  const sqOff = align16(perOff + 4 * perLen);
  const liveOff = align16(sqOff + 8 * s.n);
  const buf = ensure(k, liveOff + 4 * s.positions);
  // x, padded: example i's positions [padLeft, padLeft + len) of `need`, zeros elsewhere.
  const xm = new Float32Array(buf, 0, s.n * need * s.cin);
  const copy = Math.max(0, Math.min(s.len, need - s.padLeft));
  const src = x as Float32Array;
  if (s.padLeft > 0 || copy < need) xm.fill(0);
  for (let i = 0; i < s.n; i++) {
    const from = i * s.len * s.cin;
    xm.set(src.subarray(from, from + copy * s.cin), (i * need + s.padLeft) * s.cin);
  }
  new Float32Array(buf, gOff, g.length).set(g);
  k.conv1d(0, gOff, perOff, sqOff, s.n, need, s.cin, s.positions, s.kernelSize, s.cout, s.stride, s.dilation, s.bias ? 1 : 0, liveOff);
  const squaredNorms = Float32Array.from(new Float64Array(k.memory.buffer, sqOff, s.n));
  let saved: Float32Array | null = null;
  const self = {
    evict() {
      saved = new Float32Array(k.memory.buffer, perOff, perLen).slice();
    },
  };
  holder = self;
  const mine = generation;
  return {
    squaredNorms,
    weightedSum(w) {
      if (saved !== null) return weightedRowSum(saved, s.n, w);
      if (holder !== self && generation !== mine) {
        throw new DpError(
          "invalid_state",
          "This Conv1D result's per-example gradients were released after its clipped sum and overwritten since.",
          "w",
        );
      }
      if (holder === self) holder = null; // released: a later call takes the memory without copying them out
      // w and the float64 sums after the gradients
      const wOff = align16(perOff + 4 * perLen);
      const accOff = align16(wOff + 4 * s.n);
      const mem = ensure(k, accOff + 8 * d);
      new Float32Array(mem, wOff, s.n).set(w);
      k.wsum(perOff, wOff, accOff, s.n, d);
      return Float32Array.from(new Float64Array(k.memory.buffer, accOff, d));
    },
  };
}

/**
 * `sum_i w_i per_i` over the rows of `per` (`[n, d]`), in float64, rounded to float32 once;
 * examples with weight 0 are skipped (the module's `wsum`, on the host). @internal
 */
export function weightedRowSum(per: Float32Array, n: number, w: ArrayLike<number>): Float32Array {
  const d = n > 0 ? per.length / n : 0;
  const acc = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const wi = Math.fround(w[i]);
    if (wi === 0) continue;
    const o = i * d;
    for (let j = 0; j < d; j++) acc[j] += wi * per[o + j];
  }
  return Float32Array.from(acc);
}

/**
 * Squared norms `sum_{t,s} (a_t·a_s)(g_t·g_s)` per example, `a_t = [x_t, h_t, 1 if bias]`, over
 * the steps whose `g_t` is not all zero; `x` `[n, steps, din]`, `h` `[n, steps, units]`, `g`
 * `[n, steps, q]` (read at once: host views are fine). Null where the module is unavailable. @internal
 */
export function recurrentGhostNorms(
  x: ArrayLike<number>,
  h: Float32Array,
  g: ArrayLike<number>,
  n: number,
  steps: number,
  din: number,
  units: number,
  q: number,
  bias: boolean,
): Float32Array | null {
  const k = kernel();
  if (k === null || n === 0) return null;
  claim();
  const hOff = align16(4 * n * steps * din);
  const gOff = align16(hOff + 4 * h.length);
  const liveOff = align16(gOff + 4 * n * steps * q);
  const sqOff = align16(liveOff + 4 * steps);
  const buf = ensure(k, sqOff + 8 * n);
  new Float32Array(buf, 0, n * steps * din).set(x as Float32Array);
  new Float32Array(buf, hOff, h.length).set(h);
  new Float32Array(buf, gOff, n * steps * q).set(g as Float32Array);
  k.ghost(0, hOff, gOff, sqOff, liveOff, n, steps, din, units, q, bias ? 1 : 0);
  return Float32Array.from(new Float64Array(k.memory.buffer, sqOff, n));
}

/** A recurrent layer's per-example terms held by the module, from {@link recurrentPerExample}. @internal */
export interface RecurrentPerExample {
  /** Each example's squared norm (kernel, recurrent kernel and bias), `[n]`. */
  squaredNorms: Float32Array;
  /**
   * `sum_i w_i sum_t a_t g_tᵀ`, `[(din + units + bias), q]` row-major: the kernel's din rows, the
   * recurrent kernel's units rows, then the bias row.
   */
  weightedSum(w: ArrayLike<number>): Float32Array;
}

/**
 * Ghost norms and, later, the clipped sum of a SimpleRNN/LSTM layer (`a_t = [x_t, h_{t-1}, 1]`)
 * from one copy of `x`, `h` and `g` in the module's memory. `read` returns host views of `x`
 * `[n, steps, din]` and `g` `[n, steps, q]` (read at once); it is called again for the clipped
 * sum if another call took the memory in between. Null where the module is unavailable or `q` is
 * not a multiple of 4. @internal
 */
export function recurrentPerExample(
  read: () => { x: ArrayLike<number>; g: ArrayLike<number> },
  h: Float32Array,
  n: number,
  steps: number,
  din: number,
  units: number,
  q: number,
  bias: boolean,
): RecurrentPerExample | null {
  const k = kernel();
  if (k === null || n === 0 || q % 4 !== 0) return null;
  const hOff = align16(4 * n * steps * din);
  const gOff = align16(hOff + 4 * h.length);
  const liveOff = align16(gOff + 4 * n * steps * q);
  const sqOff = align16(liveOff + 4 * steps);
  const wOff = align16(sqOff + 8 * n);
  const wgOff = align16(wOff + 4 * n);
  const rows = din + units + (bias ? 1 : 0);
  const outOff = align16(wgOff + 4 * n * steps * q);
  const load = (): void => {
    claim();
    const buf = ensure(k, outOff + 4 * rows * q);
    const { x, g } = read();
    new Float32Array(buf, 0, n * steps * din).set(x as Float32Array);
    new Float32Array(buf, hOff, h.length).set(h);
    new Float32Array(buf, gOff, n * steps * q).set(g as Float32Array);
  };
  load();
  k.ghost(0, hOff, gOff, sqOff, liveOff, n, steps, din, units, q, bias ? 1 : 0);
  const squaredNorms = Float32Array.from(new Float64Array(k.memory.buffer, sqOff, n));
  const self = { evict() {} }; // (x and g are read again from the tensors, h is the caller's)
  holder = self;
  return {
    squaredNorms,
    weightedSum(w) {
      if (holder !== self) {
        load();
        holder = self;
      }
      new Float32Array(k.memory.buffer, wOff, n).set(w);
      k.outer(0, hOff, gOff, wOff, wgOff, outOff, n, steps, din, units, q, bias ? 1 : 0);
      return new Float32Array(k.memory.buffer, outOff, rows * q).slice();
    },
  };
}

/** An Embedding layer's per-example terms held by the module, from {@link embeddingPerExample}. @internal */
export interface EmbeddingPerExample {
  /** Each example's squared norm, `[n]`. */
  squaredNorms: Float32Array;
  /** `sum_i w_i grad_i` as the dense `[vocab, dim]` table gradient (zero outside the rows the batch touches). */
  weightedSum(w: ArrayLike<number>): Float32Array;
}

/** The Embedding result whose gradient occupies the Embedding instance's memory (a model may have several Embedding layers). */
let embeddingHolder: object | null = null;

/** A deliberate fault for the tests' negative control: the accumulator's rows are not zeroed (stale sums from the last call stay). */
let embeddingFault: "no-zero" | null = null;

/** Switches the Embedding kernels' test fault on (`"no-zero"`) or off (`null`); for the negative control only. @internal */
export function setEmbeddingKernelFault(fault: "no-zero" | null): void {
  embeddingFault = fault;
}

/**
 * The Embedding rule's terms from one copy of the output gradient in the module's memory (the
 * Embedding kernels' own instance): `read` returns a host view of `g` `[n, steps, dim]` (called
 * again for the clipped sum if another Embedding layer took the memory in between); `slots` are
 * the rule's (example, distinct token) slots, `ids` the checked token ids. The squared norms are
 * the slot sums' (float32 sums, float64 squares), the clipped sum is accumulated at the token rows
 * of a zeroed `[vocab, dim]` table in the module (float32, as the segment sum it replaces) and
 * copied out. Null where the module is unavailable or `dim` is not
 * a multiple of 4. @internal
 */
export function embeddingPerExample(
  read: () => ArrayLike<number>,
  slots: Int32Array,
  ids: Int32Array,
  n: number,
  steps: number,
  dim: number,
  vocab: number,
): EmbeddingPerExample | null {
  const k = embeddingKernel();
  if (k === null || n === 0 || dim % 4 !== 0) return null;
  const positions = n * steps;
  const slotsOff = align16(4 * positions * dim);
  const scratchOff = align16(slotsOff + 4 * positions);
  const sqOff = align16(scratchOff + 4 * steps * dim);
  const rowIdxOff = align16(sqOff + 8 * n);
  const wOff = align16(rowIdxOff + 4 * positions);
  const accOff = align16(wOff + 4 * n);
  const self = {};
  const load = (): void => {
    embeddingHolder = self;
    const buf = ensureMemory(k.memory, accOff + 4 * vocab * dim);
    new Float32Array(buf, 0, positions * dim).set(read() as Float32Array);
  };
  load();
  new Int32Array(k.memory.buffer, slotsOff, positions).set(slots);
  k.embNorms(0, slotsOff, scratchOff, sqOff, n, steps, dim);
  const squaredNorms = Float32Array.from(new Float64Array(k.memory.buffer, sqOff, n));
  return {
    squaredNorms,
    weightedSum(w) {
      if (embeddingHolder !== self) load();
      // the table's gradient, zeroed and accumulated at the token rows in the module's memory (a
      // SIMD fill and a copy out: measured cheaper than accumulating the distinct rows compactly and
      // scattering them into a zero array in JS, 0.18 vs 0.53 ms at 16,384 positions, 6,966 rows)
      new Int32Array(k.memory.buffer, rowIdxOff, positions).set(ids);
      new Float32Array(k.memory.buffer, wOff, n).set(w);
      // (the last argument is the number of rows zeroed first; the fault zeroes none)
      k.embRows(0, rowIdxOff, wOff, accOff, n, steps, dim, embeddingFault === "no-zero" ? 0 : vocab);
      const out = new Float32Array(k.memory.buffer, accOff, vocab * dim).slice();
      return out;
    },
  };
}

/**
 * The forward pass of an Embedding followed by GlobalAveragePooling1D without the `[n, steps, dim]`
 * lookup: `out[i, :] = (sum_t table[ids[i, t], :]) / steps` (float32 sums in step order, one float32
 * divide), from a host view of the `[vocab, dim]` table (read at once) and checked ids. Runs in the
 * Embedding instance (any result held there reads its gradient again). Null where the module is
 * unavailable or `dim` is not a multiple of 4. @internal
 */
export function embeddingMeanOverSteps(
  table: ArrayLike<number>,
  ids: Int32Array,
  n: number,
  steps: number,
  dim: number,
  vocab: number,
): Float32Array | null {
  const k = embeddingKernel();
  if (k === null || n === 0 || steps === 0 || dim % 4 !== 0) return null;
  embeddingHolder = null;
  const idsOff = align16(4 * vocab * dim);
  const outOff = align16(idsOff + 4 * n * steps);
  const buf = ensureMemory(k.memory, outOff + 4 * n * dim);
  new Float32Array(buf, 0, vocab * dim).set(table as Float32Array);
  new Int32Array(buf, idsOff, n * steps).set(ids);
  k.embMean(0, idsOff, outOff, n, steps, dim);
  return new Float32Array(k.memory.buffer, outOff, n * dim).slice();
}

/**
 * The Embedding rule's terms when the layer's output is averaged over its steps at once
 * (GlobalAveragePooling1D): every position of example i has the same output gradient
 * `h_i = dy_i / steps` (float32, the value the pooling's gradient gives each position), so example
 * i's gradient has row `v` = `c_{i,v} h_i` (c: v's count in example i) and its squared norm is
 * `(sum_v c_{i,v}^2) · ‖h_i‖²` (float64). The clipped sum adds `w_i h_i` at each position's row of a
 * zeroed `[vocab, dim]` table in the module (float32, in position order: the same additions as
 * {@link embeddingPerExample} on the broadcast gradient). `dy` `[n, dim]` is read at once. Null
 * where the module is unavailable or `dim` is not a multiple of 4. @internal
 */
export function embeddingPooledPerExample(
  dy: ArrayLike<number>,
  ids: Int32Array,
  n: number,
  steps: number,
  dim: number,
  vocab: number,
): EmbeddingPerExample | null {
  const k = embeddingKernel();
  if (k === null || n === 0 || steps === 0 || dim % 4 !== 0) return null;
  const h = new Float32Array(n * dim);
  for (let q = 0; q < h.length; q++) h[q] = dy[q] / steps;
  // sum_v c_v^2 per example: positions of the same token counted with a per-example stamp
  const countSq = countSquares(ids, n, steps, vocab);
  const squaredNorms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let hh = 0;
    for (let j = 0; j < dim; j++) hh += h[i * dim + j] * h[i * dim + j];
    squaredNorms[i] = countSq[i] * hh;
  }
  const rowIdxOff = align16(4 * n * dim);
  const wOff = align16(rowIdxOff + 4 * n * steps);
  const accOff = align16(wOff + 4 * n);
  return {
    squaredNorms,
    weightedSum(w) {
      embeddingHolder = null;
      const buf = ensureMemory(k.memory, accOff + 4 * vocab * dim);
      new Float32Array(buf, 0, n * dim).set(h);
      new Int32Array(buf, rowIdxOff, n * steps).set(ids);
      new Float32Array(buf, wOff, n).set(w);
      k.embRowsPooled(0, rowIdxOff, wOff, accOff, n, steps, dim, embeddingFault === "no-zero" ? 0 : vocab);
      return new Float32Array(k.memory.buffer, accOff, vocab * dim).slice();
    },
  };
}

/** Reused across calls: `countStamp[v]` is the last (call, example) stamp that counted token v, `countOf[v]` its count. */
let countStamp = new Int32Array(0);
let countOf = new Int32Array(0);
let countBase = 0;

/** `sum_v c_{i,v}^2` for each example i of `ids` `[n, steps]` (c: the count of token v in example i). */
function countSquares(ids: Int32Array, n: number, steps: number, vocab: number): Float64Array {
  if (countStamp.length !== vocab || countBase > 0x7fffffff - n - 1) {
    countStamp = new Int32Array(vocab).fill(-1);
    countOf = new Int32Array(vocab);
    countBase = 0;
  }
  const stamp = countStamp;
  const count = countOf;
  const out = new Float64Array(n);
  for (let i = 0, p = 0; i < n; i++) {
    const st = countBase + i;
    let acc = 0;
    for (let t = 0; t < steps; t++, p++) {
      const v = ids[p];
      if (stamp[v] !== st) {
        stamp[v] = st;
        count[v] = 0;
      }
      // (c + 1)^2 - c^2 = 2c + 1: the sum of squares grows as the count does
      acc += 2 * count[v] + 1;
      count[v]++;
    }
    out[i] = acc;
  }
  countBase += n;
  return out;
}
