/**
 * Sparse-input products for the Dense rule: when a Dense layer's input is mostly zeros (MNIST
 * pixels: ~81% zeros), its forward product `x · W (+ b)` and its clipped sum `xᵀ · (c ⊙ G)` are
 * formed over the nonzeros only — per nonzero one axpy over a row of `units` floats, in a small
 * hand-written WebAssembly SIMD module (./wasm/sparse-dense.wat) that owns its memory: the input
 * is copied in and turned into CSR (row pointers, column indices, values) once, and into its
 * transpose (CSC) for the clipped sum, so that each output row is accumulated in one pass, four
 * source rows at a time; `W` or `G` and `c` are copied in per product and the results copied out.
 * Same maths as the dense products; only the order of the float additions differs.
 *
 * Two variants of the products ({@link setSparseKernels}): the default register-tiled gathers
 * (`forwardT`, `clippedT`: each destination row formed in tiles of 24 floats held in six SIMD
 * registers, then its edge — the f32x4 left and the last `units % 4` floats — in one more pass;
 * per tile one pass over the row's entries, whose source rows are read by precomputed byte
 * offsets, and one store; the CSR built four floats at a time, all-zero quads skipped) and the
 * earlier four-rows-at-a-time axpy (`forward`, `clipped`, `csr`), kept for side-by-side benchmarks
 * and tests.
 *
 * The CSR lives in one slot of the module's memory, owned by the last input it was built for
 * ({@link SparseRows.generation}); the Dense rule keeps it between the forward product and the
 * clipped sum of the same step.
 * @module
 */
import { WASM_BASE64 } from "./wasm/sparse-dense-wasm.js";
import { align16, base64Bytes, compileWasmModule, ensureMemory, lazyExports } from "../../util/wasm.js";

/** The sparse-dense module's sparse kernels (./wasm/sparse-dense.wat). @internal */
export interface SparseDenseExports {
  memory: WebAssembly.Memory;
  csr(x: number, n: number, d: number, rowPtr: number, col: number, val: number, maxNnz: number): number;
  csc(n: number, d: number, rowPtr: number, col: number, val: number, colPtr: number, next: number, rowIdx: number, valT: number): void;
  forward(n: number, u: number, rowPtr: number, col: number, val: number, w: number, bias: number, hasBias: number, out: number): void;
  clipped(d: number, u: number, colPtr: number, rowIdx: number, valT: number, g: number, c: number, out: number): void;
  biasSum(n: number, u: number, g: number, c: number, bsum: number): void;
  csr4(x: number, n: number, d: number, rowPtr: number, col: number, val: number, maxNnz: number): number;
  csrRowSq(n: number, rowPtr: number, val: number, out: number): void;
  rowOffsets(nnz: number, idx: number, rowBytes: number, off: number): void;
  forwardT(
    n: number,
    u: number,
    rowPtr: number,
    colOff: number,
    val: number,
    w: number,
    bias: number,
    hasBias: number,
    relu: number,
    out: number,
  ): void;
  scaleEntries(nnz: number, rowIdx: number, valT: number, c: number, valS: number, rowBytes: number, offT: number): void;
  clippedT(d: number, u: number, colPtr: number, offT: number, valS: number, g: number, out: number): void;
  cscScaled(
    n: number,
    d: number,
    rowPtr: number,
    col: number,
    val: number,
    c: number,
    rowBytes: number,
    colPtr: number,
    next: number,
    offT: number,
    valS: number,
  ): void;
}

/** Which sparse kernels run (benchmarks and tests compare the two). @internal */
export interface SparseKernelOptions {
  /** The register-tiled gathers and the four-at-a-time CSR build (default true); false: the axpy kernels. */
  tiled: boolean;
}

const kernelOptions: SparseKernelOptions = { tiled: true };

/** The sparse kernels' current options (read by the fused Dense-stack step too). @internal */
export function sparseKernelOptions(): Readonly<SparseKernelOptions> {
  return kernelOptions;
}

/** Changes which sparse kernels run; returns the previous options. @internal */
export function setSparseKernels(options: Partial<SparseKernelOptions>): SparseKernelOptions {
  const previous = { ...kernelOptions };
  Object.assign(kernelOptions, options);
  return previous;
}
type Exports = SparseDenseExports;

/** A CSR copy of a `[n, d]` input in the module's memory (valid while `generation` is current). @internal */
export interface SparseRows {
  n: number;
  d: number;
  nnz: number;
  generation: number;
}

let moduleOrNull: WebAssembly.Module | null | undefined;

/**
 * The compiled module (./wasm/sparse-dense.wat), or null where WebAssembly SIMD is not available;
 * the fused Dense-stack step (./dense-stack.ts) runs its own instance of it (its own memory). @internal
 */
export function sparseDenseModule(): WebAssembly.Module | null {
  if (moduleOrNull === undefined) moduleOrNull = compileWasmModule(base64Bytes(WASM_BASE64));
  return moduleOrNull;
}
let generation = 0;
/** Byte layout of the current CSR slot. */
let slot = { rowPtr: 0, col: 0, val: 0, colPtr: 0, next: 0, rowIdx: 0, valT: 0, valS: 0, off: 0, end: 0, cscBuilt: false };

/** The instantiated module, or null where WebAssembly SIMD is not available. */
const kernel = lazyExports<Exports>(sparseDenseModule);

/** Whether the sparse kernels can run here (WebAssembly with SIMD). @internal */
export function sparseKernelsAvailable(): boolean {
  return kernel() !== null;
}

/** Grows the module's memory to hold `bytes` bytes; returns its buffer. */
const ensure = (k: Exports, bytes: number): ArrayBuffer => ensureMemory(k.memory, bytes);

/**
 * Copies the dense `[n, d]` values in and builds their CSR, unless more than `maxDensity · n · d`
 * of them are nonzero (then null: the caller takes the dense product). The CSR replaces any
 * earlier one. @internal
 */
export function buildSparseRows(x: ArrayLike<number> & { length: number }, n: number, d: number, maxDensity: number): SparseRows | null {
  const k = kernel();
  if (k === null || n * d === 0) return null;
  const maxNnz = Math.floor(maxDensity * n * d);
  const rowPtr = 0;
  const col = align16(rowPtr + 4 * (n + 1));
  const val = align16(col + 4 * maxNnz);
  const colPtr = align16(val + 4 * maxNnz);
  const next = align16(colPtr + 4 * (d + 1));
  const rowIdx = align16(next + 4 * d);
  const valT = align16(rowIdx + 4 * maxNnz);
  const valS = align16(valT + 4 * maxNnz);
  const off = align16(valS + 4 * maxNnz);
  const xAt = align16(off + 4 * maxNnz);
  const buf = ensure(k, xAt + 4 * n * d);
  new Float32Array(buf, xAt, n * d).set(x);
  const nnz = kernelOptions.tiled ? k.csr4(xAt, n, d, rowPtr, col, val, maxNnz) : k.csr(xAt, n, d, rowPtr, col, val, maxNnz);
  generation++;
  slot = { rowPtr, col, val, colPtr, next, rowIdx, valT, valS, off, end: xAt, cscBuilt: false };
  if (nnz < 0) return null;
  return { n, d, nnz, generation };
}

/** Whether `rows` is still the CSR in the module's memory. @internal */
export function sparseRowsValid(rows: SparseRows): boolean {
  return rows.generation === generation && kernel() !== null;
}

function current(rows: SparseRows): Exports {
  if (!sparseRowsValid(rows)) throw new Error("sparse-dense: the CSR slot was overwritten");
  return kernel()!;
}

/** Per row of the CSR `x`, the sum of its squared entries (`‖x_i‖²`, accumulated in float64): a new `[n]` array. @internal */
export function sparseRowSquares(rows: SparseRows): Float32Array {
  const k = current(rows);
  const buf = k.memory.buffer;
  const ptr = new Int32Array(buf, slot.rowPtr, rows.n + 1);
  const val = new Float32Array(buf, slot.val, rows.nnz);
  const out = new Float32Array(rows.n);
  for (let i = 0; i < rows.n; i++) {
    let s = 0;
    for (let p = ptr[i]; p < ptr[i + 1]; p++) s += val[p] * val[p];
    out[i] = s;
  }
  return out;
}

/** `x · w + bias` for the CSR `x` `[n, d]`, `w` `[d, u]` (row-major), `bias` `[u]` or null: a new `[n, u]` array. @internal */
export function sparseMatMul(rows: SparseRows, w: ArrayLike<number>, u: number, bias: ArrayLike<number> | null): Float32Array {
  const k = current(rows);
  const { n, d } = rows;
  const wAt = slot.end;
  const bAt = align16(wAt + 4 * d * u);
  const outAt = align16(bAt + 4 * u);
  const buf = ensure(k, outAt + 4 * n * u);
  new Float32Array(buf, wAt, d * u).set(w);
  if (bias) new Float32Array(buf, bAt, u).set(bias);
  if (kernelOptions.tiled) {
    k.rowOffsets(rows.nnz, slot.col, 4 * u, slot.off);
    k.forwardT(n, u, slot.rowPtr, slot.off, slot.val, wAt, bAt, bias ? 1 : 0, 0, outAt);
  } else k.forward(n, u, slot.rowPtr, slot.col, slot.val, wAt, bAt, bias ? 1 : 0, outAt);
  return new Float32Array(k.memory.buffer, outAt, n * u).slice();
}

/**
 * The clipped sum of the CSR `x` `[n, d]` with gradients `g` `[n, u]` and clip factors `c` `[n]`:
 * `kernel = xᵀ · (c ⊙ g)` `[d, u]` and, with `withBias`, `bias = Σ_i c_i g_i` `[u]`. New arrays. @internal
 */
export function sparseClippedSum(
  rows: SparseRows,
  g: ArrayLike<number>,
  c: ArrayLike<number>,
  u: number,
  withBias: boolean,
): { kernel: Float32Array; bias: Float32Array | null } {
  const k = current(rows);
  const { n, d } = rows;
  if (!slot.cscBuilt) {
    k.csc(n, d, slot.rowPtr, slot.col, slot.val, slot.colPtr, slot.next, slot.rowIdx, slot.valT);
    slot.cscBuilt = true;
  }
  const gAt = slot.end;
  const cAt = align16(gAt + 4 * n * u);
  const outAt = align16(cAt + 4 * n);
  const bAt = align16(outAt + 4 * d * u);
  const buf = ensure(k, bAt + 4 * u);
  new Float32Array(buf, gAt, n * u).set(g);
  new Float32Array(buf, cAt, n).set(c);
  if (kernelOptions.tiled) {
    k.scaleEntries(rows.nnz, slot.rowIdx, slot.valT, cAt, slot.valS, 4 * u, slot.off);
    k.clippedT(d, u, slot.colPtr, slot.off, slot.valS, gAt, outAt);
  } else k.clipped(d, u, slot.colPtr, slot.rowIdx, slot.valT, gAt, cAt, outAt);
  if (withBias) k.biasSum(n, u, gAt, cAt, bAt);
  const mem = k.memory.buffer;
  return {
    kernel: new Float32Array(mem, outAt, d * u).slice(),
    bias: withBias ? new Float32Array(mem, bAt, u).slice() : null,
  };
}
