/**
 * The fused per-example clipping step of a stack of Dense layers (an MLP), on typed arrays in one
 * WebAssembly SIMD instance of ./wasm/sparse-dense.wat with its own memory: no tfjs kernel
 * dispatch, no tensor allocation, the weights read once per step.
 *
 * The maths is the Dense rule's (../engine/layers/dense.ts), written out for the whole stack:
 * - forward: `z_l = a_{l-1} W_l + b_l`, `a_l = f_l(z_l)` (the first product over the input's
 *   nonzeros when it is sparse enough, as the rule's sparse path; tanh and sigmoid evaluated in f64
 *   and rounded once, softmax in f64 per row);
 * - the loss's gradient with respect to the output, as tfjs's autodiff forms it for dpkit's named
 *   losses (../engine/losses.ts: probabilities normalised by their sum and clipped to
 *   `[1e-7, 1 - 1e-7]`, where the clip passes no gradient; logits through log-softmax /
 *   log-sigmoid), then back through the output activation: `g_L`;
 * - backward deltas `g_{l-1} = (g_l W_lᵀ) ⊙ f'_{l-1}(a_{l-1})`, with f' from the activation's
 *   output as tfjs's gradients take it;
 * - per-example squared norms `Σ_l ‖a_{l-1,i}‖²·‖g_{l,i}‖² (+ ‖g_{l,i}‖² for a bias)` (Goodfellow 2015);
 * - after the caller's clip factors c: the clipped sums `a_{l-1}ᵀ (c ⊙ g_l)` and `Σ_i c_i g_{l,i}`
 *   (book-keeping: from the same a and g, no second pass).
 * With the default register-tiled kernels (sparse-dense.ts `setSparseKernels`) the products run
 * in `gemmT` / `forwardT` / `clippedT` (a ReLU applied as the product is stored) and the first
 * layer's input norms come from its CSR; with `{ tiled: false }` the earlier axpy kernels run, for
 * side-by-side benchmarks. Both give the same sums up to the order of the float additions.
 * @module
 */
import { sparseDenseModule, sparseKernelOptions, type SparseDenseExports } from "./sparse-dense.js";
import { align16, ensureMemory, lazyExports } from "../../util/wasm.js";

/** An activation the fused step evaluates (softmax only on the last layer). @internal */
export type DenseStackActivation = "linear" | "relu" | "tanh" | "sigmoid" | "softmax";

/** One Dense layer: row-major kernel `[dIn, units]`, bias `[units]` or null. @internal */
export interface DenseStackLayer {
  kernel: ArrayLike<number>;
  bias: ArrayLike<number> | null;
  units: number;
  activation: DenseStackActivation;
}

/**
 * The loss on the last layer's output `[n, c]`: the cross-entropies on probabilities (`ce`:
 * categorical, `bce`: binary) or on logits (`ceLogits`, `bceLogits`), or `mse`; targets as class
 * indices (`labels`, for the sparse cross-entropies) or as an `[n, c]` array (`targets`).
 * @internal
 */
export interface DenseStackLoss {
  kind: "ce" | "bce" | "mse" | "ceLogits" | "bceLogits";
  labels?: Int32Array;
  targets?: ArrayLike<number>;
}

let subphaseHook: ((name: string) => void) | null = null;

/**
 * Sets (or, with null, clears) an observer of the fused step's sub-phases (bench/dpsgd-profile.bench.ts
 * with DPSGD_PROFILE_FINE=1): called with a name at the end of each piece (copying in, CSR, each
 * layer's product and activation, the loss, CSC, each clipped sum, copying out). Returns the previous one.
 * @internal
 */
export function setDenseStackSubphaseHook(next: ((name: string) => void) | null): ((name: string) => void) | null {
  const previous = subphaseHook;
  subphaseHook = next;
  return previous;
}

/** Marks the end of a sub-phase of the fused step (nothing unless an observer is set). @internal */
export function markDenseStackSubphase(name: string): void {
  if (subphaseHook !== null) subphaseHook(name);
}

/** Calls of the fused step's pieces since the last reset (tests check what ran). @internal */
export const denseStackKernelCalls = { sparseForward: 0, denseForward: 0, sparseClippedSum: 0, denseClippedSum: 0 };

/** The module's sparse kernels (sparse-dense.ts) and the fused step's own. @internal */
export interface DenseStackExports extends SparseDenseExports {
  gemm(
    rows: number,
    inner: number,
    u: number,
    a: number,
    aRow: number,
    aCol: number,
    b: number,
    init: number,
    hasInit: number,
    out: number,
  ): void;
  gemmT(
    rows: number,
    inner: number,
    u: number,
    a: number,
    aRow: number,
    aCol: number,
    b: number,
    init: number,
    hasInit: number,
    relu: number,
    out: number,
  ): void;
  rowSq(n: number, u: number, src: number, out: number): void;
  scaleRows(n: number, u: number, g: number, c: number): void;
  actGrad(kind: number, count: number, a: number, g: number): void;
  activate(kind: number, count: number, src: number, dst: number): void;
}

const ACT_CODE: Record<DenseStackActivation, number> = { linear: 0, relu: 1, tanh: 2, sigmoid: 3, softmax: 4 };
const EPSILON = Math.fround(1e-7);
const ONE_MINUS_EPSILON = Math.fround(1 - 1e-7);

/** The step that owns the module's memory (a newer step, or a test hook, overwrites it). */
let generation = 0;

/** The fused step's own instance of the module (its own memory), or null where WebAssembly SIMD is not available. */
const kernel = lazyExports<DenseStackExports>(sparseDenseModule);

/** Whether the fused step can run here (WebAssembly with SIMD). @internal */
export function denseStackAvailable(): boolean {
  return kernel() !== null;
}

interface LayerSlots {
  dIn: number;
  units: number;
  act: number;
  hasBias: boolean;
  w: number;
  b: number;
  wT: number;
  a: number;
  g: number;
  gw: number;
  gb: number;
}

/** Options of {@link DenseStackStep}. @internal */
export interface DenseStackOptions {
  /** Try the sparse first product when at most this share of the input is nonzero (null: dense). */
  maxDensity: number | null;
}

/**
 * One step of the fused computation for a batch; call {@link forward}, {@link backward},
 * {@link squaredNorms}, then {@link clippedSums} once, in that order, before another step is made
 * (the steps share the module's memory).
 * @internal
 */
export class DenseStackStep {
  private readonly id: number;
  private readonly k: DenseStackExports;
  private readonly slots: LayerSlots[];
  private readonly x: number;
  private readonly csr: {
    rowPtr: number;
    col: number;
    val: number;
    colPtr: number;
    next: number;
    rowIdx: number;
    valT: number;
    valS: number;
    off: number;
    maxNnz: number;
  };
  /** The sparse kernels' variant for this step (sparse-dense.ts {@link sparseKernelOptions}). */
  private readonly tiled: boolean;
  private readonly c: number;
  private readonly tmpA: number;
  private readonly tmpG: number;
  /** Whether the first product runs over the input's nonzeros. */
  sparse = false;
  /** The input's nonzeros when {@link sparse}. */
  private nnz = -1;
  /** Sum of the per-example losses (set by {@link forward}). */
  lossSum = 0;

  /**
   * Lays the batch out in the module's memory: the input `x` `[n, dIn]` and each layer's weights
   * are copied in here (read once), so the caller's views may be released afterwards.
   */
  constructor(
    x: ArrayLike<number>,
    private readonly n: number,
    dIn: number,
    layers: readonly DenseStackLayer[],
    private readonly loss: DenseStackLoss,
    options: DenseStackOptions,
  ) {
    const k = kernel();
    if (k === null) throw new Error("dense-stack: WebAssembly SIMD is not available");
    this.k = k;
    this.id = ++generation;
    let at = 0;
    const alloc = (bytes: number) => {
      const p = at;
      at = align16(at + bytes);
      return p;
    };
    this.x = alloc(4 * n * dIn);
    const maxNnz = options.maxDensity === null ? 0 : Math.floor(options.maxDensity * n * dIn);
    this.csr = {
      maxNnz,
      rowPtr: alloc(4 * (n + 1)),
      col: alloc(4 * maxNnz),
      val: alloc(4 * maxNnz),
      colPtr: alloc(4 * (dIn + 1)),
      next: alloc(4 * dIn),
      rowIdx: alloc(4 * maxNnz),
      valT: alloc(4 * maxNnz),
      valS: alloc(4 * maxNnz),
      off: alloc(4 * maxNnz),
    };
    this.tiled = sparseKernelOptions().tiled;
    let d = dIn;
    this.slots = layers.map((l, j) => {
      const s: LayerSlots = {
        dIn: d,
        units: l.units,
        act: ACT_CODE[l.activation],
        hasBias: l.bias !== null,
        w: alloc(4 * d * l.units),
        b: alloc(4 * l.units),
        wT: j > 0 ? alloc(4 * d * l.units) : 0,
        a: alloc(4 * n * l.units),
        g: alloc(4 * n * l.units),
        gw: alloc(4 * d * l.units),
        gb: alloc(4 * l.units),
      };
      d = l.units;
      return s;
    });
    this.c = alloc(4 * n);
    this.tmpA = alloc(4 * n);
    this.tmpG = alloc(4 * n);
    const buf = ensureMemory(k.memory, at);
    layers.forEach((l, j) => {
      const s = this.slots[j];
      new Float32Array(buf, s.w, s.dIn * s.units).set(l.kernel);
      if (l.bias) new Float32Array(buf, s.b, s.units).set(l.bias);
      if (j > 0) {
        // Wᵀ [units, dIn] for the backward product g_{l-1} = g_l Wᵀ.
        const wT = new Float32Array(buf, s.wT, s.dIn * s.units);
        const w = l.kernel;
        for (let r = 0; r < s.dIn; r++) for (let q = 0; q < s.units; q++) wT[q * s.dIn + r] = w[r * s.units + q];
      }
    });
    new Float32Array(buf, this.x, n * dIn).set(x);
    markDenseStackSubphase("copy in");
    if (options.maxDensity !== null && n * dIn > 0) {
      const c = this.csr;
      this.nnz = this.tiled
        ? k.csr4(this.x, n, dIn, c.rowPtr, c.col, c.val, maxNnz)
        : k.csr(this.x, n, dIn, c.rowPtr, c.col, c.val, maxNnz);
      this.sparse = this.nnz >= 0;
      markDenseStackSubphase("csr");
    }
  }

  private check(): void {
    if (this.id !== generation) throw new Error("dense-stack: another step has overwritten this one's memory");
  }

  private f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, offset, length);
  }

  /** The forward pass, the per-example losses (their sum in {@link lossSum}) and the output gradient `g_L`. */
  forward(): void {
    this.check();
    const { k, n } = this;
    this.slots.forEach((s, j) => {
      const count = n * s.units;
      if (this.tiled) {
        // The tiled products apply the ReLU as they store.
        const relu = s.act === ACT_CODE.relu ? 1 : 0;
        if (j === 0 && this.sparse) {
          const c = this.csr;
          k.rowOffsets(this.nnz, c.col, 4 * s.units, c.off);
          k.forwardT(n, s.units, c.rowPtr, c.off, c.val, s.w, s.b, s.hasBias ? 1 : 0, relu, s.a);
          denseStackKernelCalls.sparseForward++;
        } else {
          const a = j === 0 ? this.x : this.slots[j - 1].a;
          k.gemmT(n, s.dIn, s.units, a, 4 * s.dIn, 4, s.w, s.b, s.hasBias ? 1 : 0, relu, s.a);
          if (j === 0) denseStackKernelCalls.denseForward++;
        }
        markDenseStackSubphase(`product ${j}`);
        if (s.act === ACT_CODE.tanh || s.act === ACT_CODE.sigmoid) k.activate(s.act, count, s.a, s.a);
        else if (s.act === ACT_CODE.softmax) softmaxRows(this.f32(s.a, count), n, s.units);
        markDenseStackSubphase(`activation ${j}`);
        return;
      }
      if (j === 0 && this.sparse) {
        const c = this.csr;
        k.forward(n, s.units, c.rowPtr, c.col, c.val, s.w, s.b, s.hasBias ? 1 : 0, s.a);
        denseStackKernelCalls.sparseForward++;
      } else {
        const a = j === 0 ? this.x : this.slots[j - 1].a;
        k.gemm(n, s.dIn, s.units, a, 4 * s.dIn, 4, s.w, s.b, s.hasBias ? 1 : 0, s.a);
        if (j === 0) denseStackKernelCalls.denseForward++;
      }
      markDenseStackSubphase(`product ${j}`);
      if (s.act === ACT_CODE.tanh || s.act === ACT_CODE.sigmoid) k.activate(s.act, count, s.a, s.a);
      else if (s.act === ACT_CODE.relu) {
        const a = this.f32(s.a, count);
        for (let i = 0; i < count; i++) if (a[i] < 0) a[i] = 0;
      } else if (s.act === ACT_CODE.softmax) softmaxRows(this.f32(s.a, count), n, s.units);
      markDenseStackSubphase(`activation ${j}`);
    });
    const last = this.slots[this.slots.length - 1];
    this.lossSum = lossAndGradient(this.loss, this.f32(last.a, n * last.units), this.f32(last.g, n * last.units), n, last.units, last.act);
    markDenseStackSubphase("loss");
  }

  /** The model's output `[n, c]` after {@link forward} (a copy). */
  output(): Float32Array {
    this.check();
    const last = this.slots[this.slots.length - 1];
    return this.f32(last.a, this.n * last.units).slice();
  }

  /** The backward deltas `g_l` of every layer below the last. */
  backward(): void {
    this.check();
    const { k, n } = this;
    for (let j = this.slots.length - 1; j > 0; j--) {
      const s = this.slots[j];
      const below = this.slots[j - 1];
      if (this.tiled) k.gemmT(n, s.units, s.dIn, s.g, 4 * s.units, 4, s.wT, 0, 0, 0, below.g);
      else k.gemm(n, s.units, s.dIn, s.g, 4 * s.units, 4, s.wT, 0, 0, below.g);
      if (below.act !== ACT_CODE.linear) k.actGrad(below.act, n * below.units, below.a, below.g);
    }
  }

  /** Per-example squared gradient norms over all layers' weights: a new `[n]` array. */
  squaredNorms(): Float32Array {
    this.check();
    const { k, n } = this;
    const sq = new Float64Array(n);
    for (let j = 0; j < this.slots.length; j++) {
      const s = this.slots[j];
      // The first layer's input rows from the CSR where there is one (its nonzeros only).
      if (j === 0 && this.sparse && this.tiled) k.csrRowSq(n, this.csr.rowPtr, this.csr.val, this.tmpA);
      else k.rowSq(n, s.dIn, j === 0 ? this.x : this.slots[j - 1].a, this.tmpA);
      k.rowSq(n, s.units, s.g, this.tmpG);
      const aSq = this.f32(this.tmpA, n);
      const gSq = this.f32(this.tmpG, n);
      for (let i = 0; i < n; i++) sq[i] += aSq[i] * gSq[i] + (s.hasBias ? gSq[i] : 0);
    }
    return Float32Array.from(sq);
  }

  /**
   * The clipped sums with clip factors `c` `[n]`: per layer the kernel's `[dIn, units]` and (with a
   * bias) the bias's `[units]` sum, in that order, as new arrays. Ends the step.
   */
  clippedSums(c: ArrayLike<number>): Float32Array[] {
    this.check();
    const { k, n } = this;
    this.f32(this.c, n).set(c);
    const out: Float32Array[] = [];
    this.slots.forEach((s, j) => {
      if (s.hasBias) k.biasSum(n, s.units, s.g, this.c, s.gb);
      if (j === 0 && this.sparse) {
        const r = this.csr;
        if (this.tiled) {
          // The CSC written as clippedT reads it (row offsets, values times the clip factors), in one pass.
          k.cscScaled(n, s.dIn, r.rowPtr, r.col, r.val, this.c, 4 * s.units, r.colPtr, r.next, r.off, r.valS);
          markDenseStackSubphase("csc");
          k.clippedT(s.dIn, s.units, r.colPtr, r.off, r.valS, s.g, s.gw);
        } else {
          k.csc(n, s.dIn, r.rowPtr, r.col, r.val, r.colPtr, r.next, r.rowIdx, r.valT);
          markDenseStackSubphase("csc");
          k.clipped(s.dIn, s.units, r.colPtr, r.rowIdx, r.valT, s.g, this.c, s.gw);
        }
        denseStackKernelCalls.sparseClippedSum++;
      } else {
        // gw[r, :] = Σ_i a[i, r] · (c_i g[i, :]): the input read transposed (row step 4 bytes, column step one example).
        k.scaleRows(n, s.units, s.g, this.c);
        const a = j === 0 ? this.x : this.slots[j - 1].a;
        if (this.tiled) k.gemmT(s.dIn, n, s.units, a, 4, 4 * s.dIn, s.g, 0, 0, 0, s.gw);
        else k.gemm(s.dIn, n, s.units, a, 4, 4 * s.dIn, s.g, 0, 0, s.gw);
        if (j === 0) denseStackKernelCalls.denseClippedSum++;
      }
      markDenseStackSubphase(`clipped sum ${j}`);
      out.push(this.f32(s.gw, s.dIn * s.units).slice());
      if (s.hasBias) out.push(this.f32(s.gb, s.units).slice());
      markDenseStackSubphase(`copy out ${j}`);
    });
    generation++;
    return out;
  }
}

/** Softmax over each row of `a` `[n, c]` in place (f64, rounded once), as tf.softmax on the last axis. */
function softmaxRows(a: Float32Array, n: number, c: number): void {
  const e = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    const o = i * c;
    let max = -Infinity;
    for (let j = 0; j < c; j++) if (a[o + j] > max) max = a[o + j];
    let sum = 0;
    for (let j = 0; j < c; j++) sum += e[j] = Math.exp(a[o + j] - max);
    for (let j = 0; j < c; j++) a[o + j] = e[j] / sum;
  }
}

/**
 * Per-example losses (returns their sum) and `g = ∂loss/∂z` of the last layer `[n, c]` from its
 * output `y` (after the activation `act`).
 */
function lossAndGradient(loss: DenseStackLoss, y: Float32Array, g: Float32Array, n: number, c: number, act: number): number {
  const dy = new Float64Array(c);
  const t = new Float64Array(c);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = i * c;
    if (loss.labels) {
      t.fill(0);
      t[loss.labels[i]] = 1;
    } else {
      for (let j = 0; j < c; j++) t[j] = loss.targets![o + j];
    }
    total += lossRow(loss.kind, y, o, t, dy, c);
    // Back through the output activation (softmax's Jacobian; the others elementwise, from y).
    if (act === ACT_CODE.softmax) {
      let dot = 0;
      for (let j = 0; j < c; j++) dot += dy[j] * y[o + j];
      for (let j = 0; j < c; j++) g[o + j] = y[o + j] * (dy[j] - dot);
    } else {
      for (let j = 0; j < c; j++) g[o + j] = dy[j] * derivative(act, y[o + j]);
    }
  }
  return total;
}

function derivative(act: number, a: number): number {
  switch (act) {
    case ACT_CODE.relu:
      return a > 0 ? 1 : 0;
    case ACT_CODE.tanh:
      return Math.fround(1 - Math.fround(a * a));
    case ACT_CODE.sigmoid:
      return Math.fround(a * Math.fround(1 - a));
    default:
      return 1;
  }
}

/** One example's loss, and ∂loss/∂y into `dy`, for the output row `y[o .. o + c)` and targets `t`. */
function lossRow(kind: DenseStackLoss["kind"], y: Float32Array, o: number, t: Float64Array, dy: Float64Array, c: number): number {
  switch (kind) {
    case "ce": {
      // p = clip(y / Σy, ε, 1 − ε); loss = −Σ t log p; the clip passes gradient only inside [ε, 1 − ε]
      // (in f64 from the float32 output y: Σy − y_k is then exact, where a float32 Σy would round
      // away 1 − p for a confident prediction).
      let s = 0;
      for (let j = 0; j < c; j++) s += y[o + j];
      let l = 0;
      let dot = 0;
      for (let j = 0; j < c; j++) {
        const q = y[o + j] / s;
        const p = Math.min(Math.max(q, EPSILON), ONE_MINUS_EPSILON);
        // (t_j · log p is 0 for t_j = 0 and p finite: p is clipped, so only NaN needs the log)
        if (t[j] !== 0 || p !== p) l -= t[j] * Math.log(p);
        const dq = q >= EPSILON && q <= ONE_MINUS_EPSILON ? -t[j] / p : 0;
        dy[j] = dq;
        dot += dq * q;
      }
      for (let j = 0; j < c; j++) dy[j] = (dy[j] - dot) / s;
      return l;
    }
    case "bce": {
      let l = 0;
      for (let j = 0; j < c; j++) {
        const v = y[o + j];
        const p = Math.min(Math.max(v, EPSILON), ONE_MINUS_EPSILON);
        l -= t[j] * Math.log(p) + (1 - t[j]) * Math.log(1 - p);
        dy[j] = v >= EPSILON && v <= ONE_MINUS_EPSILON ? (-t[j] / p + (1 - t[j]) / (1 - p)) / c : 0;
      }
      return l / c;
    }
    case "mse": {
      let l = 0;
      for (let j = 0; j < c; j++) {
        const r = y[o + j] - t[j];
        l += r * r;
        dy[j] = (2 * r) / c;
      }
      return l / c;
    }
    case "ceLogits": {
      // −Σ t log softmax(y): gradient softmax(y)·Σt − t.
      let max = -Infinity;
      for (let j = 0; j < c; j++) if (y[o + j] > max) max = y[o + j];
      let s = 0;
      for (let j = 0; j < c; j++) s += Math.exp(y[o + j] - max);
      const logS = Math.log(s);
      let l = 0;
      let tSum = 0;
      for (let j = 0; j < c; j++) {
        l -= t[j] * (y[o + j] - max - logS);
        tSum += t[j];
      }
      for (let j = 0; j < c; j++) dy[j] = (Math.exp(y[o + j] - max) / s) * tSum - t[j];
      return l;
    }
    case "bceLogits": {
      // max(z, 0) − z·t + log(1 + exp(−|z|)): gradient sigmoid(z) − t, averaged over the c outputs.
      let l = 0;
      for (let j = 0; j < c; j++) {
        const z = y[o + j];
        l += Math.max(z, 0) - z * t[j] + Math.log1p(Math.exp(-Math.abs(z)));
        dy[j] = (1 / (1 + Math.exp(-z)) - t[j]) / c;
      }
      return l / c;
    }
  }
}

/** Test hook: the module's elementwise activation (`tanh` or `sigmoid`) over `x`. @internal */
export function denseStackActivate(kind: "tanh" | "sigmoid", x: Float32Array): Float32Array {
  const k = kernel();
  if (k === null) throw new Error("dense-stack: WebAssembly SIMD is not available");
  const bytes = align16(4 * x.length);
  ensureMemory(k.memory, bytes);
  new Float32Array(k.memory.buffer, 0, x.length).set(x);
  generation++; // (an open step's memory is overwritten)
  k.activate(ACT_CODE[kind], x.length, 0, 0);
  return new Float32Array(k.memory.buffer, 0, x.length).slice();
}
