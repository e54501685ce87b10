/**
 * The register-tiled kernels of src/dpsgd/kernels/wasm/sparse-dense.wat (the fused Dense-stack
 * step's and the Dense rule's sparse path's default) and the axpy kernels they replace, called
 * directly on a fresh instance of the module, against independent float64 definitions:
 * - csr4 gives exactly csr's CSR (NaN and ±Inf kept, ±0 dropped), and refuses past maxNnz as csr;
 * - forwardT / forward: `x · W + b` over the CSR, with and without bias, ReLU fused or not;
 * - scaleEntries + clippedT / clipped: `xᵀ · (c ⊙ G)` over the CSC; cscScaled gives exactly csc + scaleEntries;
 * - csrRowSq: `‖x_i‖²`;
 * - gemmT / gemm: `init + A · B`, A read as stored and transposed (the fused step's clipped sums).
 * Shapes: batch 1, n, d and units not multiples of the tiles (24 floats, 4 floats), units below,
 * at and above a tile (1, 3, 4, 5, 10, 12, 13, 16, 17, 20, 23, 24, 25, 47, 128, 130: every edge block,
 * 0-5 f32x4 with and without single floats), rows of all zeros, dense inputs.
 *
 * Negative controls (where the pinned devDependency wabt is installed): the .wat is recompiled with
 * one deliberate fault each — an edge tile's last f32x4 not stored, a wrong load offset inside the
 * tile (a wrong stride), the second of the row's last u % 4 floats never formed, the clip factor read from example 0
 * (in scaleEntries and in cscScaled), a wrong lane index in csr4, gemmT stepping A by its row stride, the ReLU's comparison reversed —
 * and the same checks must report the fault.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { sparseDenseModule } from "../../../src/dpsgd/kernels/sparse-dense.js";
import type { DenseStackExports } from "../../../src/dpsgd/kernels/dense-stack.js";
import { compileWat } from "../../../scripts/gen-kernel-wasm.js";
import { lcg } from "../engine/reference.js";
import { hasWabt } from "../../helpers/wabt.js";

/** The exports the checks call: the module's (src/dpsgd/kernels/dense-stack.ts declares them). */
type Kernels = DenseStackExports;

const WAT = path.resolve(import.meta.dirname, "../../../src/dpsgd/kernels/wasm/sparse-dense.wat");

function instance(module: WebAssembly.Module): Kernels {
  return new WebAssembly.Instance(module, {}).exports as unknown as Kernels;
}

/** An instance of a .wat text compiled here (wabt). */
async function compiled(text: string): Promise<Kernels> {
  return instance(new WebAssembly.Module(Uint8Array.from(await compileWat(WAT, text))));
}

/** A fresh instance of the committed module. */
function committed(): Kernels {
  const m = sparseDenseModule();
  if (m === null) throw new Error("WebAssembly SIMD is not available");
  return instance(m);
}

/** Bump allocation in the instance's memory (16-byte aligned), with typed-array access. */
class Heap {
  private at = 16;
  constructor(readonly k: Kernels) {}
  alloc(floats: number): number {
    const p = this.at;
    this.at = (this.at + 4 * Math.max(1, floats) + 15) & ~15;
    const have = this.k.memory.buffer.byteLength;
    if (this.at > have) this.k.memory.grow(Math.ceil((this.at - have) / 65536));
    return p;
  }
  put(values: ArrayLike<number>): number {
    const p = this.alloc(values.length);
    new Float32Array(this.k.memory.buffer, p, values.length).set(values);
    return p;
  }
  f32(p: number, length: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, p, length).slice();
  }
  i32(p: number, length: number): Int32Array {
    return new Int32Array(this.k.memory.buffer, p, length).slice();
  }
}

/** A [n, d] input with about `density` nonzeros; `zeroRows` all zero (density 1: every entry nonzero). */
function sparseInput(r: () => number, n: number, d: number, density: number, zeroRows: number[]): Float32Array {
  const v = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    if (zeroRows.includes(i)) continue;
    for (let k = 0; k < d; k++) if (density >= 1 || r() < density) v[i * d + k] = (r() - 0.3) * 2 || 0.5;
  }
  return v;
}

const randomArray = (r: () => number, size: number): Float32Array => Float32Array.from({ length: size }, () => r() * 2 - 1);

/** max |a − b| / (max |b| + 1e-3): a relative error that does not blow up on entries near zero. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let e = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(b[i]));
    e = Math.max(e, Math.abs(a[i] - b[i]));
  }
  return Number.isNaN(e) ? Infinity : e / (m + 1e-3);
}

const TOL = 1e-6;

/** The shapes [n, d, u] every check runs over. */
const SHAPES: [number, number, number][] = [
  [1, 7, 3], // batch 1
  [1, 30, 128],
  [7, 37, 13],
  [5, 9, 1], // one unit: the scalar tail only
  [4, 3, 4], // exactly one f32x4
  [6, 11, 5],
  [9, 20, 10], // the MNIST head's width
  [5, 11, 12], // three f32x4
  [6, 9, 16], // four f32x4
  [4, 13, 17], // four f32x4 and a single float
  [3, 8, 20], // five f32x4
  [8, 17, 23], // one short of a tile
  [8, 17, 24], // one whole tile
  [8, 17, 25], // a tile and a single float
  [11, 13, 47], // a tile, five f32x4 and three floats
  [33, 100, 128], // five tiles and two f32x4
  [3, 40, 130],
];

/** Every check on one instance: the names of the ones that failed (empty when all pass). */
function failures(k: Kernels, tiled: boolean): string[] {
  const failed = new Set<string>();
  const check = (name: string, ok: boolean) => {
    if (!ok) failed.add(name);
  };
  for (const [n, d, u] of SHAPES) {
    for (const density of [0.05, 0.3, 1]) {
      const r = lcg(n * 7919 + d * 104729 + u * 31 + Math.round(density * 100));
      const h = new Heap(k);
      const zeroRows = n > 2 ? [0, n - 1] : [];
      const x = sparseInput(r, n, d, density, zeroRows);
      const w = randomArray(r, d * u);
      const b = randomArray(r, u);
      const g = randomArray(r, n * u);
      const c = Float32Array.from({ length: n }, (_, i) => (i % 5 === 1 ? 0 : 0.1 + r()));
      let nnz = 0;
      for (const v of x) if (v !== 0) nnz++;
      // float64 definitions
      const z = new Float64Array(n * u);
      const kSum = new Float64Array(d * u);
      const sq = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        for (let q = 0; q < d; q++) sq[i] += x[i * d + q] * x[i * d + q];
        for (let j = 0; j < u; j++) {
          let s = 0;
          for (let q = 0; q < d; q++) s += x[i * d + q] * w[q * u + j];
          z[i * u + j] = s;
        }
        for (let q = 0; q < d; q++) for (let j = 0; j < u; j++) kSum[q * u + j] += x[i * d + q] * c[i] * g[i * u + j];
      }
      const withBias = z.map((v, at) => v + b[at % u]);
      const relu = (a: ArrayLike<number>) => Float64Array.from(a, (v) => (v < 0 ? 0 : v));

      const xAt = h.put(x);
      const wAt = h.put(w);
      const bAt = h.put(b);
      const gAt = h.put(g);
      const cAt = h.put(c);
      const rowPtr = h.alloc(n + 1);
      const col = h.alloc(nnz);
      const val = h.alloc(nnz);
      const colPtr = h.alloc(d + 1);
      const next = h.alloc(d);
      const rowIdx = h.alloc(nnz);
      const valT = h.alloc(nnz);
      const valS = h.alloc(nnz);
      const off = h.alloc(nnz);
      const out = h.alloc(Math.max(n, d) * u);

      // CSR: csr4 must give csr's arrays exactly (csr is the reference layout: row by row, columns ascending)
      const got = (tiled ? k.csr4 : k.csr)(xAt, n, d, rowPtr, col, val, nnz);
      check("csr nnz", got === nnz);
      if (got !== nnz) continue;
      const ptrs = h.i32(rowPtr, n + 1);
      const cols = h.i32(col, nnz);
      const vals = h.f32(val, nnz);
      let p = 0;
      let layoutOk = ptrs[0] === 0;
      for (let i = 0; i < n; i++) {
        for (let q = 0; q < d; q++) {
          if (x[i * d + q] === 0) continue;
          layoutOk &&= cols[p] === q && vals[p] === x[i * d + q];
          p++;
        }
        layoutOk &&= ptrs[i + 1] === p;
      }
      check("csr layout", layoutOk);
      if (nnz > 0) {
        const [rowPtr2, col2, val2] = [h.alloc(n + 1), h.alloc(nnz), h.alloc(nnz)];
        check("csr refuses past maxNnz", (tiled ? k.csr4 : k.csr)(xAt, n, d, rowPtr2, col2, val2, nnz - 1) === -1);
      }

      // forward products
      if (tiled) {
        k.rowOffsets(nnz, col, 4 * u, off);
        check(
          "row offsets",
          h.i32(off, nnz).every((v, p) => v === cols[p] * 4 * u),
        );
        k.forwardT(n, u, rowPtr, off, val, wAt, bAt, 1, 0, out);
        check("forward with bias", relError(h.f32(out, n * u), withBias) <= TOL);
        k.forwardT(n, u, rowPtr, off, val, wAt, bAt, 0, 0, out);
        check("forward without bias", relError(h.f32(out, n * u), z) <= TOL);
        k.forwardT(n, u, rowPtr, off, val, wAt, bAt, 1, 1, out);
        check("forward relu", relError(h.f32(out, n * u), relu(withBias)) <= TOL);
        if (n > 2) {
          k.forwardT(n, u, rowPtr, off, val, wAt, bAt, 1, 0, out);
          check(
            "all-zero row is the bias",
            Array.from(h.f32(out, u)).every((v, j) => v === b[j]),
          );
        }
      } else {
        k.forward(n, u, rowPtr, col, val, wAt, bAt, 1, out);
        check("forward with bias", relError(h.f32(out, n * u), withBias) <= TOL);
        k.forward(n, u, rowPtr, col, val, wAt, bAt, 0, out);
        check("forward without bias", relError(h.f32(out, n * u), z) <= TOL);
      }

      // clipped sum over the CSC
      k.csc(n, d, rowPtr, col, val, colPtr, next, rowIdx, valT);
      if (tiled) {
        k.scaleEntries(nnz, rowIdx, valT, cAt, valS, 4 * u, off);
        k.clippedT(d, u, colPtr, off, valS, gAt, out);
        // cscScaled: the same CSC, offsets and scaled values in one pass (the fused step's route)
        const [colPtr2, next2, off2, valS2] = [h.alloc(d + 1), h.alloc(d), h.alloc(nnz), h.alloc(nnz)];
        k.cscScaled(n, d, rowPtr, col, val, cAt, 4 * u, colPtr2, next2, off2, valS2);
        const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
          a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));
        check(
          "cscScaled",
          same(h.i32(colPtr2, d + 1), h.i32(colPtr, d + 1)) &&
            same(h.i32(off2, nnz), h.i32(off, nnz)) &&
            same(h.f32(valS2, nnz), h.f32(valS, nnz)),
        );
      } else k.clipped(d, u, colPtr, rowIdx, valT, gAt, cAt, out);
      check("clipped sum", relError(h.f32(out, d * u), kSum) <= TOL);

      if (tiled) {
        k.csrRowSq(n, rowPtr, val, out);
        check("row squares", relError(h.f32(out, n), sq) <= TOL);
      }

      // dense products: out = b + x · W as stored, and xᵀ · G read transposed (the clipped sums' form)
      const gemm = (
        rows: number,
        inner: number,
        uu: number,
        a: number,
        aRow: number,
        aCol: number,
        bb: number,
        init: number,
        has: number,
        reluOn: number,
      ) =>
        tiled
          ? k.gemmT(rows, inner, uu, a, aRow, aCol, bb, init, has, reluOn, out)
          : k.gemm(rows, inner, uu, a, aRow, aCol, bb, init, has, out);
      gemm(n, d, u, xAt, 4 * d, 4, wAt, bAt, 1, 0);
      check("gemm with init", relError(h.f32(out, n * u), withBias) <= TOL);
      gemm(n, d, u, xAt, 4 * d, 4, wAt, bAt, 0, 0);
      check("gemm without init", relError(h.f32(out, n * u), z) <= TOL);
      if (tiled) {
        gemm(n, d, u, xAt, 4 * d, 4, wAt, bAt, 1, 1);
        check("gemm relu", relError(h.f32(out, n * u), relu(withBias)) <= TOL);
      }
      const xtg = new Float64Array(d * u);
      for (let i = 0; i < n; i++) for (let q = 0; q < d; q++) for (let j = 0; j < u; j++) xtg[q * u + j] += x[i * d + q] * g[i * u + j];
      gemm(d, n, u, xAt, 4, 4 * d, gAt, 0, 0, 0);
      check("gemm transposed", relError(h.f32(out, d * u), xtg) <= TOL);
    }
  }
  // NaN and ±Inf are nonzero, ±0 is zero
  {
    const h = new Heap(k);
    const x = Float32Array.from([0, NaN, -0, 1, 0, 0, Infinity, 0, 0, 0, 0, -Infinity, 2]);
    const xAt = h.put(x);
    const rowPtr = h.alloc(2);
    const col = h.alloc(13);
    const val = h.alloc(13);
    const nnz = (tiled ? k.csr4 : k.csr)(xAt, 1, 13, rowPtr, col, val, 13);
    check("non-finite entries kept", nnz === 5 && h.i32(col, 5).join(",") === "1,3,6,11,12");
  }
  return [...failed];
}

describe.each([
  ["tiled", true],
  ["axpy", false],
] as const)("the %s sparse-dense kernels against float64 definitions", (_name, tiled) => {
  it("every product, on every shape and density (batch 1, tile edges, zero rows, dense rows)", () => {
    expect(failures(committed(), tiled)).toEqual([]);
  });
});

/** [what is broken, the exact text replaced (first occurrence after `after`), its replacement, a check that must fail]. */
const FAULTS: [string, string, string, string, string][] = [
  [
    "the second f32x4 of a two-f32x4 edge tile not stored (a tile edge)",
    "(block $q2Done",
    "(v128.store offset=16 (local.get $s) (local.get $c1))",
    "(nop)",
    "forward with bias",
  ],
  [
    "a wrong load offset inside the tile (the sixth f32x4 read from the fifth's place)",
    "(func $gatherT",
    "(v128.load offset=80 (local.get $s))",
    "(v128.load offset=64 (local.get $s))",
    "forward with bias",
  ],
  [
    "the second of the row's last u % 4 floats never formed (its column offset 0)",
    "(func $gatherT",
    "(local.set $q1 (select (i32.const 4) (i32.const 0)",
    "(local.set $q1 (select (i32.const 0) (i32.const 0)",
    "clipped sum",
  ],
  [
    "the clip factor read from example 0",
    '(func (export "scaleEntries")',
    "(f32.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2))))",
    "(f32.load (local.get $c))",
    "clipped sum",
  ],
  [
    "cscScaled's clip factor read from example 0",
    '(func (export "cscScaled")',
    "(local.set $ci (f32.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2)))))",
    "(local.set $ci (f32.load (local.get $c)))",
    "cscScaled",
  ],
  [
    "a wrong lane index in csr4",
    '(func (export "csr4")',
    "(i32.add (local.get $k) (i32.const 3))",
    "(i32.add (local.get $k) (i32.const 2))",
    "csr layout",
  ],
  [
    "gemmT stepping A by its row stride",
    '(func (export "gemmT")',
    "(local.set $pa (i32.add (local.get $pa) (local.get $aCol)))",
    "(local.set $pa (i32.add (local.get $pa) (local.get $aRow)))",
    "gemm transposed",
  ],
  ["the ReLU's comparison reversed", "(func $gatherT", "(f32x4.lt (local.get $c0)", "(f32x4.gt (local.get $c0)", "forward relu"],
];

describe.skipIf(!hasWabt)("negative controls: the .wat with one deliberate fault each fails these checks", () => {
  const source = readFileSync(WAT, "utf8");
  it("the unchanged .wat, recompiled, passes (the controls below differ from it by one fault only)", async () => {
    const k = await compiled(source);
    expect(failures(k, true)).toEqual([]);
  });
  for (const [what, after, from, to, mustFail] of FAULTS) {
    it(what, async () => {
      const start = source.indexOf(after);
      expect(start, after).toBeGreaterThanOrEqual(0);
      const at = source.indexOf(from, start);
      expect(at, from).toBeGreaterThan(start);
      const text = source.slice(0, at) + to + source.slice(at + from.length);
      const k = await compiled(text);
      expect(failures(k, true)).toContain(mustFail);
    });
  }
});
