/**
 * The per-example WebAssembly kernels (src/dpsgd/kernels/per-example-wasm-kernels.ts) against plain
 * float64 loops written from the definitions:
 * - Conv1D: `dW_i[k, c, o] = sum_q x_i[q·s + k·d − padLeft, c] · g_i[q, o]` (zero outside the
 *   input), the bias row `sum_q g_i[q, :]`, squared norms, and the clipped sum `sum_i w_i dW_i`
 *   (in the module's memory and, after another call took the memory, from the evicted copy);
 * - recurrent ghost norms: `‖sum_t a_t g_tᵀ‖²_F` with `a_t = [x_t, h_t, 1]`, from the MATERIALISED
 *   per-example gradient (another formula than the kernel's Gram sums), steps with zero `g_t` included.
 * Negative controls: the same comparisons against references with one thing wrong (dilation
 * ignored, bias row dropped, the clip weights ignored, `h` left out of `a_t`, the bias 1 left
 * out) must fail, and a changed .wat must compile to other bytes.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  conv1dPerExample,
  embeddingMeanOverSteps,
  embeddingPerExample,
  embeddingPooledPerExample,
  perExampleKernelsAvailable,
  recurrentGhostNorms,
  recurrentPerExample,
  setEmbeddingKernelFault,
  weightedRowSum,
  type Conv1dShape,
} from "../../../src/dpsgd/kernels/per-example-wasm-kernels.js";
import { WASM_BASE64 as PER_EXAMPLE_WASM_BASE64 } from "../../../src/dpsgd/kernels/wasm/per-example-wasm.js";
import { WASM_MODULES, compileWat, generatedModule } from "../../../scripts/gen-kernel-wasm.js";
import { hasWabt } from "../../helpers/wabt.js";

const PER_EXAMPLE_WASM = WASM_MODULES.find(([wat]) => wat.endsWith("/per-example.wat"))!;

const root = path.resolve(import.meta.dirname, "../../..");

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function randomArray(r: () => number, length: number): Float32Array {
  return Float32Array.from({ length }, () => 2 * r());
}

/** Largest |a − b| relative to the largest |b|. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** Per-example Conv1D gradients from the definition, float64, `[n, (k·cin + bias)·cout]`. */
function referenceConv1d(x: Float32Array, g: Float32Array, s: Conv1dShape, opts: { ignoreDilation?: boolean; dropBias?: boolean } = {}) {
  const dil = opts.ignoreDilation ? 1 : s.dilation;
  const bias = s.bias && !opts.dropBias;
  const rows = s.kernelSize * s.cin + (bias ? 1 : 0);
  const d = rows * s.cout;
  const per = new Float64Array(s.n * d);
  const sq = new Float64Array(s.n);
  for (let i = 0; i < s.n; i++) {
    for (let k = 0; k < s.kernelSize; k++) {
      for (let c = 0; c < s.cin; c++) {
        for (let o = 0; o < s.cout; o++) {
          let acc = 0;
          for (let q = 0; q < s.positions; q++) {
            const pos = q * s.stride + k * dil - s.padLeft;
            if (pos < 0 || pos >= s.len) continue;
            acc += x[(i * s.len + pos) * s.cin + c] * g[(i * s.positions + q) * s.cout + o];
          }
          per[i * d + (k * s.cin + c) * s.cout + o] = acc;
        }
      }
    }
    if (bias) {
      for (let o = 0; o < s.cout; o++) {
        let acc = 0;
        for (let q = 0; q < s.positions; q++) acc += g[(i * s.positions + q) * s.cout + o];
        per[i * d + s.kernelSize * s.cin * s.cout + o] = acc;
      }
    }
    for (let j = 0; j < d; j++) sq[i] += per[i * d + j] ** 2;
  }
  return { per, sq, d };
}

function referenceSum(per: Float64Array, n: number, d: number, w: ArrayLike<number>): Float64Array {
  const out = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[j] += w[i] * per[i * d + j];
  return out;
}

/** Output positions of a convolution (tfjs's rule for "valid"; for "same" the caller gives them). */
function geometries(): Conv1dShape[] {
  const base = { stride: 1, dilation: 1, padLeft: 0, bias: true };
  return [
    { ...base, n: 3, len: 12, cin: 3, positions: 10, cout: 4, kernelSize: 3 },
    { ...base, n: 5, len: 11, cin: 2, positions: 6, cout: 20, kernelSize: 2, stride: 2, padLeft: 0 },
    { ...base, n: 2, len: 13, cin: 3, positions: 13, cout: 8, kernelSize: 3, dilation: 2, padLeft: 2, bias: false },
    { ...base, n: 4, len: 9, cin: 5, positions: 9, cout: 36, kernelSize: 4, padLeft: 1 },
    { ...base, n: 2, len: 20, cin: 1, positions: 7, cout: 16, kernelSize: 5, stride: 2, dilation: 2, padLeft: 1 },
    { ...base, n: 1, len: 4, cin: 16, positions: 1, cout: 32, kernelSize: 4 },
  ];
}

describe.skipIf(!perExampleKernelsAvailable())("conv1dPerExample (WebAssembly SIMD)", () => {
  const TOL = 1e-6;
  const cases = geometries().map((s, j) => {
    const r = lcg(100 + j);
    const x = randomArray(r, s.n * s.len * s.cin);
    const g = randomArray(r, s.n * s.positions * s.cout);
    const w = Float32Array.from({ length: s.n }, (_, i) => (i % 3 === 1 ? 0 : 0.25 + (i % 4) * 0.2));
    return { s, x, g, w };
  });

  it.each(cases.map((c) => [JSON.stringify(c.s), c] as const))("equals the definition: %s", (_name, { s, x, g, w }) => {
    const ref = referenceConv1d(x, g, s);
    const got = conv1dPerExample(x, g, s)!;
    expect(got).not.toBeNull();
    expect(relError(got.squaredNorms, ref.sq)).toBeLessThanOrEqual(TOL);
    expect(relError(got.weightedSum(w), referenceSum(ref.per, s.n, ref.d, w))).toBeLessThanOrEqual(TOL);
    // a second weighted sum from the same result, with other weights
    const w2 = Float32Array.from({ length: s.n }, (_, i) => 1 / (i + 1));
    expect(relError(got.weightedSum(w2), referenceSum(ref.per, s.n, ref.d, w2))).toBeLessThanOrEqual(TOL);
  });

  it("a result whose memory another call took keeps its gradients (evicted copy), and the JS sum agrees", () => {
    const [a, b] = cases;
    const ra = conv1dPerExample(a.x, a.g, a.s)!;
    const rb = conv1dPerExample(b.x, b.g, b.s)!; // takes the module's memory
    recurrentGhostNorms(new Float32Array(8), new Float32Array(8), new Float32Array(8), 1, 2, 4, 4, 4, true); // and again
    const refA = referenceConv1d(a.x, a.g, a.s);
    const refB = referenceConv1d(b.x, b.g, b.s);
    expect(relError(ra.weightedSum(a.w), referenceSum(refA.per, a.s.n, refA.d, a.w))).toBeLessThanOrEqual(TOL);
    expect(relError(rb.weightedSum(b.w), referenceSum(refB.per, b.s.n, refB.d, b.w))).toBeLessThanOrEqual(TOL);
    const per32 = Float32Array.from(refA.per);
    expect(relError(weightedRowSum(per32, a.s.n, a.w), referenceSum(refA.per, a.s.n, refA.d, a.w))).toBeLessThanOrEqual(TOL);
  });

  it("gives the memory up after its clipped sum: a second sum works until another call takes it, then it refuses (no stale data)", () => {
    const [a, b] = cases;
    const refA = referenceConv1d(a.x, a.g, a.s);
    const ra = conv1dPerExample(a.x, a.g, a.s)!;
    expect(relError(ra.weightedSum(a.w), referenceSum(refA.per, a.s.n, refA.d, a.w))).toBeLessThanOrEqual(TOL);
    expect(relError(ra.weightedSum(a.w), referenceSum(refA.per, a.s.n, refA.d, a.w))).toBeLessThanOrEqual(TOL);
    const rb = conv1dPerExample(b.x, b.g, b.s)!; // takes the memory without copying ra's gradients out
    expect(() => ra.weightedSum(a.w)).toThrow(/released/);
    const refB = referenceConv1d(b.x, b.g, b.s);
    expect(relError(rb.weightedSum(b.w), referenceSum(refB.per, b.s.n, refB.d, b.w))).toBeLessThanOrEqual(TOL);
  });

  it("refuses output channels that are not a multiple of 4 (the caller then takes the tensor route)", () => {
    const s = { ...geometries()[0], cout: 6 };
    expect(conv1dPerExample(new Float32Array(s.n * s.len * s.cin), new Float32Array(s.n * s.positions * 6), s)).toBeNull();
  });

  describe("negative controls: a wrong reference fails the same comparison", () => {
    const dilated = cases[2];
    const biased = cases[0];
    it("dilation ignored (the dilated geometry)", () => {
      const got = conv1dPerExample(dilated.x, dilated.g, dilated.s)!;
      const wrong = referenceConv1d(dilated.x, dilated.g, dilated.s, { ignoreDilation: true });
      expect(relError(got.squaredNorms, wrong.sq)).toBeGreaterThan(1e-2);
    });
    it("bias row dropped", () => {
      const got = conv1dPerExample(biased.x, biased.g, biased.s)!;
      const wrong = referenceConv1d(biased.x, biased.g, biased.s, { dropBias: true });
      expect(relError(got.squaredNorms, wrong.sq)).toBeGreaterThan(1e-2);
    });
    it("clip weights ignored in the sum", () => {
      const got = conv1dPerExample(biased.x, biased.g, biased.s)!;
      const ref = referenceConv1d(biased.x, biased.g, biased.s);
      const ones = new Float32Array(biased.s.n).fill(1);
      expect(relError(got.weightedSum(biased.w), referenceSum(ref.per, biased.s.n, ref.d, ones))).toBeGreaterThan(1e-2);
    });
  });
});

/**
 * The kernel's own float32 arithmetic, emulated: each entry summed over every position q in
 * ascending order (Math.fround after each product and each add; exact for float32 operands), zeros
 * where the padded input has them; the squared norms and the clipped sum as the module forms them
 * (float64: the squares in four interleaved partial sums, the clipped sum in example order). Skipping nothing, so the kernel must give exactly these bits.
 */
function emulateConv1d(x: Float32Array, g: Float32Array, s: Conv1dShape, w: Float32Array): { sq: Float64Array; sum: Float32Array } {
  const rows = s.kernelSize * s.cin + (s.bias ? 1 : 0);
  const d = rows * s.cout;
  const sq = new Float64Array(s.n);
  const acc = new Float64Array(d);
  const f = Math.fround;
  for (let i = 0; i < s.n; i++) {
    const per = new Float32Array(d);
    for (let k = 0; k < s.kernelSize; k++)
      for (let c = 0; c < s.cin; c++)
        for (let o = 0; o < s.cout; o++) {
          let a = 0;
          for (let q = 0; q < s.positions; q++) {
            const pos = q * s.stride + k * s.dilation - s.padLeft;
            const xv = pos < 0 || pos >= s.len ? 0 : x[(i * s.len + pos) * s.cin + c];
            a = f(a + f(xv * g[(i * s.positions + q) * s.cout + o]));
          }
          per[(k * s.cin + c) * s.cout + o] = a;
        }
    if (s.bias)
      for (let o = 0; o < s.cout; o++) {
        let a = 0;
        for (let q = 0; q < s.positions; q++) a = f(a + g[(i * s.positions + q) * s.cout + o]);
        per[s.kernelSize * s.cin * s.cout + o] = a;
      }
    // the module's sum of squares: four interleaved float64 partial sums (entries j mod 4), then the tail
    const part = [0, 0, 0, 0];
    const vec = d - (d % 4);
    for (let j = 0; j < vec; j++) part[j % 4] += per[j] * per[j];
    sq[i] = part[0] + part[1] + (part[2] + part[3]);
    for (let j = vec; j < d; j++) sq[i] += per[j] * per[j];
    const wi = f(w[i]);
    if (wi !== 0) for (let j = 0; j < d; j++) acc[j] += wi * per[j];
  }
  return { sq, sum: Float32Array.from(acc) };
}

/** An output gradient as GlobalMaxPooling1D (after ReLU) leaves it: per example and channel one position or none, some -0. */
function maxPoolGradient(r: () => number, s: Conv1dShape): Float32Array {
  const g = new Float32Array(s.n * s.positions * s.cout);
  for (let i = 0; i < s.n; i++)
    for (let o = 0; o < s.cout; o++) {
      const u = r() + 0.5;
      const q = Math.floor(u * s.positions) % s.positions;
      if (u < 0.15)
        g[(i * s.positions + q) * s.cout + o] = -0; // relu cut it
      else if (!(i === 0 && o % 5 === 0)) g[(i * s.positions + q) * s.cout + o] = 2 * r();
    }
  return g;
}

/** Runs a per-example module's `conv1d` export directly (no padding: `padLeft` 0, the layout of conv1dPerExample). */
function runConv1dExport(exports: WebAssembly.Exports, x: Float32Array, g: Float32Array, s: Conv1dShape): Float64Array {
  const memory = exports.memory as WebAssembly.Memory;
  const conv1d = exports.conv1d as (...a: number[]) => void;
  const need = (s.positions - 1) * s.stride + (s.kernelSize - 1) * s.dilation + 1;
  const al = (b: number) => (b + 15) & ~15;
  const d = (s.kernelSize * s.cin + (s.bias ? 1 : 0)) * s.cout;
  const gOff = al(4 * s.n * need * s.cin);
  const perOff = al(gOff + 4 * g.length);
  const sqOff = al(perOff + 4 * s.n * d);
  const liveOff = al(sqOff + 8 * s.n);
  const end = liveOff + 4 * s.positions;
  if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
  const xm = new Float32Array(memory.buffer, 0, s.n * need * s.cin);
  for (let i = 0; i < s.n; i++) xm.set(x.subarray(i * s.len * s.cin, (i * s.len + need) * s.cin), i * need * s.cin);
  new Float32Array(memory.buffer, gOff, g.length).set(g);
  conv1d(0, gOff, perOff, sqOff, s.n, need, s.cin, s.positions, s.kernelSize, s.cout, s.stride, s.dilation, s.bias ? 1 : 0, liveOff);
  return new Float64Array(memory.buffer, sqOff, s.n).slice();
}

describe.skipIf(!perExampleKernelsAvailable())("conv1dPerExample skips zero output-gradient rows with the same bits (issue 19)", () => {
  // (plus the text CNN's shape, scaled down: many channels over few positions take the scatter path)
  const textCnn: Conv1dShape = {
    n: 2,
    len: 20,
    cin: 4,
    positions: 16,
    cout: 32,
    kernelSize: 5,
    stride: 1,
    dilation: 1,
    padLeft: 0,
    bias: true,
  };
  const cases = [...geometries(), textCnn].map((s, j) => {
    const r = lcg(500 + j);
    const x = randomArray(r, s.n * s.len * s.cin);
    const g = maxPoolGradient(r, s);
    const w = Float32Array.from({ length: s.n }, (_, i) => (i % 3 === 1 ? 0 : 0.25 + (i % 4) * 0.2));
    return { s, x, g, w };
  });

  it.each(cases.map((c) => [JSON.stringify(c.s), c] as const))(
    "sparse g: exactly the full sum's bits, and the float64 definition: %s",
    (_n, c) => {
      const got = conv1dPerExample(c.x, c.g, c.s)!;
      const emu = emulateConv1d(c.x, c.g, c.s, c.w);
      expect(Array.from(got.squaredNorms)).toEqual(Array.from(Float32Array.from(emu.sq)));
      expect(Array.from(got.weightedSum(c.w))).toEqual(Array.from(emu.sum));
      const ref = referenceConv1d(c.x, c.g, c.s);
      expect(relError(got.squaredNorms, ref.sq)).toBeLessThanOrEqual(1e-6);
    },
  );

  it("a non-finite input makes the example use every position: Inf · 0 is NaN there, as in the full sum", () => {
    const { s } = cases[0];
    const x = cases[0].x.slice();
    const g = cases[0].g.slice();
    // example 1: an Inf at input position 0, read only by output position 0 (kernel offset 0), whose gradient row is zero
    const i = 1;
    x[(i * s.len + 0) * s.cin + 1] = Infinity;
    g.fill(0, i * s.positions * s.cout, (i * s.positions + 1) * s.cout);
    expect(s.padLeft).toBe(0);
    const got = conv1dPerExample(x, g, s)!;
    const emu = emulateConv1d(x, g, s, cases[0].w);
    expect(Number.isNaN(emu.sq[i])).toBe(true);
    expect(Array.from(got.squaredNorms).map((v) => (Number.isNaN(v) ? "NaN" : v))).toEqual(
      Array.from(Float32Array.from(emu.sq)).map((v) => (Number.isNaN(v) ? "NaN" : v)),
    );
  });

  it.skipIf(!hasWabt)(
    "negative controls: a live-row scan reading only the first 4 channels, or a scatter path dropping a kernel offset, fails; the real bytes pass",
    async () => {
      const s: Conv1dShape = {
        n: 3,
        len: 14,
        cin: 3,
        positions: 10,
        cout: 12,
        kernelSize: 3,
        stride: 1,
        dilation: 2,
        padLeft: 0,
        bias: true,
      };
      const r = lcg(909);
      const x = randomArray(r, s.n * s.len * s.cin);
      const g = maxPoolGradient(r, s);
      const expected = emulateConv1d(x, g, s, new Float32Array(s.n).fill(1)).sq;
      const real = new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.from(Buffer.from(PER_EXAMPLE_WASM_BASE64, "base64"))), {})
        .exports;
      expect(Array.from(runConv1dExport(real, x, g, s))).toEqual(Array.from(expected));
      const text = readFileSync(path.join(root, PER_EXAMPLE_WASM[0]), "utf8");
      const scan = "(br_if $zDone (i32.ge_u (local.get $j) (local.get $oBytes)))";
      expect(text.split(scan).length).toBe(2);
      const broken = new WebAssembly.Instance(
        new WebAssembly.Module(
          Uint8Array.from(
            await compileWat(PER_EXAMPLE_WASM[0], text.replace(scan, "(br_if $zDone (i32.ge_u (local.get $j) (i32.const 16)))")),
          ),
        ),
        {},
      ).exports;
      expect(relError(runConv1dExport(broken, x, g, s), expected)).toBeGreaterThan(1e-2);
      // and a scatter path (few nonzero entries: this g) that drops the last kernel offset
      const offsets = "(br_if $kDone (i32.ge_u (local.get $kk) (local.get $k)))";
      expect(text.split(offsets).length).toBe(2);
      const dropped = text.replace(offsets, "(br_if $kDone (i32.ge_u (i32.add (local.get $kk) (i32.const 1)) (local.get $k)))");
      const brokenScatter = new WebAssembly.Instance(
        new WebAssembly.Module(Uint8Array.from(await compileWat(PER_EXAMPLE_WASM[0], dropped))),
        {},
      ).exports;
      expect(relError(runConv1dExport(brokenScatter, x, g, s), expected)).toBeGreaterThan(1e-2);
      // (the same fault on a dense g, which takes the SIMD rows, changes nothing: the path choice is real)
      const dense = randomArray(r, g.length);
      const denseExpected = emulateConv1d(x, dense, s, new Float32Array(s.n).fill(1)).sq;
      expect(Array.from(runConv1dExport(brokenScatter, x, dense, s))).toEqual(Array.from(denseExpected));
    },
  );
});

/** `‖sum_t a_t g_tᵀ‖²_F` per example, a_t = [x_t, h_t, 1 if bias], materialised in float64. */
function referenceGhost(
  x: Float32Array,
  h: Float32Array,
  g: Float32Array,
  n: number,
  steps: number,
  din: number,
  units: number,
  q: number,
  bias: boolean,
  opts: { dropH?: boolean; dropOne?: boolean } = {},
): Float64Array {
  const p = din + units + 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = new Float64Array(p * q);
    for (let t = 0; t < steps; t++) {
      const row = i * steps + t;
      const a = new Float64Array(p);
      for (let k = 0; k < din; k++) a[k] = x[row * din + k];
      if (!opts.dropH) for (let k = 0; k < units; k++) a[din + k] = h[row * units + k];
      a[din + units] = bias && !opts.dropOne ? 1 : 0;
      for (let k = 0; k < p; k++) for (let j = 0; j < q; j++) m[k * q + j] += a[k] * g[row * q + j];
    }
    out[i] = m.reduce((s, v) => s + v * v, 0);
  }
  return out;
}

describe.skipIf(!perExampleKernelsAvailable())("recurrentGhostNorms (WebAssembly SIMD)", () => {
  const shapes = [
    { n: 4, steps: 6, din: 16, units: 32, q: 32, bias: true },
    { n: 3, steps: 5, din: 3, units: 5, q: 20, bias: false },
    { n: 3, steps: 4, din: 5, units: 3, q: 4, bias: true },
    { n: 2, steps: 7, din: 7, units: 4, q: 13, bias: true },
  ];
  const cases = shapes.map((s, j) => {
    const r = lcg(200 + j);
    const x = randomArray(r, s.n * s.steps * s.din);
    const h = randomArray(r, s.n * s.steps * s.units);
    const g = randomArray(r, s.n * s.steps * s.q);
    // masked steps: all-zero gradient rows (example 0: its first two steps; example 1: every step)
    for (const [i, t] of [[0, 0], [0, 1], ...Array.from({ length: s.steps }, (_, t) => [1, t])])
      g.fill(0, (i * s.steps + t) * s.q, (i * s.steps + t + 1) * s.q);
    return { ...s, x, h, g };
  });

  it.each(cases.map((c) => [JSON.stringify({ ...c, x: undefined, h: undefined, g: undefined }), c] as const))(
    "equals the materialised per-example norm: %s",
    (_name, c) => {
      const got = recurrentGhostNorms(c.x, c.h, c.g, c.n, c.steps, c.din, c.units, c.q, c.bias)!;
      expect(got).not.toBeNull();
      expect(relError(got, referenceGhost(c.x, c.h, c.g, c.n, c.steps, c.din, c.units, c.q, c.bias))).toBeLessThanOrEqual(1e-6);
      expect(got[1]).toBe(0); // every step masked
    },
  );

  /** `sum_i w_i sum_t a_t g_tᵀ`, `[(din + units + bias), q]`, float64. */
  function referenceOuter(c: (typeof cases)[number], w: ArrayLike<number>, ignoreWeights = false): Float64Array {
    const p = c.din + c.units + (c.bias ? 1 : 0);
    const out = new Float64Array(p * c.q);
    for (let i = 0; i < c.n; i++) {
      for (let t = 0; t < c.steps; t++) {
        const row = i * c.steps + t;
        const a = [
          ...c.x.subarray(row * c.din, (row + 1) * c.din),
          ...c.h.subarray(row * c.units, (row + 1) * c.units),
          ...(c.bias ? [1] : []),
        ];
        for (let k = 0; k < p; k++)
          for (let j = 0; j < c.q; j++) out[k * c.q + j] += (ignoreWeights ? 1 : w[i]) * a[k] * c.g[row * c.q + j];
      }
    }
    return out;
  }

  it.each(cases.filter((c) => c.q % 4 === 0).map((c) => [`q=${c.q} bias=${c.bias}`, c] as const))(
    "recurrentPerExample: norms and clipped sum equal the definitions, also after another call took the memory (%s)",
    (_name, c) => {
      const w = Float32Array.from({ length: c.n }, (_, i) => 0.3 + 0.2 * i);
      const r = recurrentPerExample(() => ({ x: c.x, g: c.g }), c.h, c.n, c.steps, c.din, c.units, c.q, c.bias)!;
      expect(r).not.toBeNull();
      const ref = referenceGhost(c.x, c.h, c.g, c.n, c.steps, c.din, c.units, c.q, c.bias);
      expect(relError(r.squaredNorms, ref)).toBeLessThanOrEqual(1e-6);
      expect(relError(r.weightedSum(w), referenceOuter(c, w))).toBeLessThanOrEqual(1e-6);
      const other = cases[1];
      recurrentGhostNorms(other.x, other.h, other.g, other.n, other.steps, other.din, other.units, other.q, other.bias); // takes the memory
      expect(relError(r.weightedSum(w), referenceOuter(c, w))).toBeLessThanOrEqual(1e-6);
      // negative control: the weights ignored
      expect(relError(r.weightedSum(w), referenceOuter(c, w, true))).toBeGreaterThan(1e-2);
    },
  );

  it("recurrentPerExample refuses q not a multiple of 4 (the caller then takes the tensor route)", () => {
    const c = cases[3];
    expect(recurrentPerExample(() => ({ x: c.x, g: c.g }), c.h, c.n, c.steps, c.din, c.units, c.q, c.bias)).toBeNull();
  });

  it("negative controls: h left out of a_t, or the bias's 1 left out, fails the comparison", () => {
    const c = cases[0];
    const got = recurrentGhostNorms(c.x, c.h, c.g, c.n, c.steps, c.din, c.units, c.q, c.bias)!;
    const noH = referenceGhost(c.x, c.h, c.g, c.n, c.steps, c.din, c.units, c.q, c.bias, { dropH: true });
    const noOne = referenceGhost(c.x, c.h, c.g, c.n, c.steps, c.din, c.units, c.q, c.bias, { dropOne: true });
    expect(relError(got, noH)).toBeGreaterThan(1e-2);
    expect(relError(got, noOne)).toBeGreaterThan(1e-3);
  });
});

describe.skipIf(!perExampleKernelsAvailable())("embeddingPerExample (WebAssembly SIMD)", () => {
  // example i's gradient: row v of the table gets sum_{t: id_t = v} g_t
  const n = 6;
  const steps = 9;
  const dim = 8;
  const vocab = 7;
  const r = lcg(300);
  const ids = Int32Array.from({ length: n * steps }, () => Math.floor((r() + 0.5) * 4) % vocab); // repeats
  const g = randomArray(r, n * steps * dim);
  // the rule's slots: i*T + k for the k-th distinct token of example i
  const slots = new Int32Array(n * steps);
  for (let i = 0; i < n; i++) {
    const seen: number[] = [];
    for (let t = 0; t < steps; t++) {
      let k = seen.indexOf(ids[i * steps + t]);
      if (k < 0) k = seen.push(ids[i * steps + t]) - 1;
      slots[i * steps + t] = i * steps + k;
    }
  }
  function referenceTable(i: number, sepRows = false): Float64Array {
    const table = new Float64Array(vocab * dim);
    let sq = 0;
    for (let t = 0; t < steps; t++)
      for (let j = 0; j < dim; j++) {
        table[ids[i * steps + t] * dim + j] += g[(i * steps + t) * dim + j];
        sq += g[(i * steps + t) * dim + j] ** 2;
      }
    return sepRows ? Float64Array.of(sq) : table;
  }
  const w = Float32Array.from({ length: n }, (_, i) => (i === 2 ? 0 : 0.2 + 0.15 * i));

  it("norms and the clipped sum equal the definitions, also after another call took the memory", () => {
    const got = embeddingPerExample(() => g, slots, ids, n, steps, dim, vocab)!;
    expect(got).not.toBeNull();
    const refSq = Array.from({ length: n }, (_, i) => referenceTable(i).reduce((s, v) => s + v * v, 0));
    expect(relError(got.squaredNorms, refSq)).toBeLessThanOrEqual(1e-6);
    const refSum = new Float64Array(vocab * dim);
    for (let i = 0; i < n; i++) referenceTable(i).forEach((v, j) => (refSum[j] += w[i] * v));
    expect(relError(got.weightedSum(w), refSum)).toBeLessThanOrEqual(1e-6);
    recurrentGhostNorms(new Float32Array(8), new Float32Array(8), new Float32Array(8), 1, 2, 4, 4, 4, true); // takes the memory
    expect(relError(got.weightedSum(w), refSum)).toBeLessThanOrEqual(1e-6);
    // negative control: repeated tokens counted as separate rows (sum_t ||g_t||^2) is another norm
    const wrong = Array.from({ length: n }, (_, i) => referenceTable(i, true)[0]);
    expect(relError(got.squaredNorms, wrong)).toBeGreaterThan(1e-2);
  });

  it("refuses a dimension that is not a multiple of 4", () => {
    expect(embeddingPerExample(() => new Float32Array(n * steps * 3), slots, ids, n, steps, 3, vocab)).toBeNull();
  });
});

/** An Embedding batch: token ids (0 is padding, the last quarter of each example; repeats), its output gradient, slots. */
function embeddingBatch(seed: number, n: number, steps: number, dim: number, vocab: number) {
  const r = lcg(seed);
  const ids = Int32Array.from({ length: n * steps }, (_, p) =>
    p % steps >= steps - Math.floor(steps / 4) ? 0 : Math.floor((r() + 0.5) ** 3 * vocab),
  );
  const g = randomArray(r, n * steps * dim);
  const slots = new Int32Array(n * steps);
  for (let i = 0; i < n; i++) {
    const seen: number[] = [];
    for (let t = 0; t < steps; t++) {
      let k = seen.indexOf(ids[i * steps + t]);
      if (k < 0) k = seen.push(ids[i * steps + t]) - 1;
      slots[i * steps + t] = i * steps + k;
    }
  }
  const w = Float32Array.from({ length: n }, (_, i) => (i % 3 === 1 ? 0 : 0.3 + 0.1 * i));
  return { n, steps, dim, vocab, ids, g, slots, w };
}

/** Float64 definitions: example i's table gradient, row v = sum_{t: id_t = v} g_t; its squared norm; `sum_i w_i table_i`. */
function embeddingReference(b: ReturnType<typeof embeddingBatch>): { sq: Float64Array; sum: Float64Array } {
  const sq = new Float64Array(b.n);
  const sum = new Float64Array(b.vocab * b.dim);
  for (let i = 0; i < b.n; i++) {
    const table = new Float64Array(b.vocab * b.dim);
    for (let t = 0; t < b.steps; t++)
      for (let j = 0; j < b.dim; j++) table[b.ids[i * b.steps + t] * b.dim + j] += b.g[(i * b.steps + t) * b.dim + j];
    for (let q = 0; q < table.length; q++) {
      sq[i] += table[q] * table[q];
      sum[q] += b.w[i] * table[q];
    }
  }
  return { sq, sum };
}

describe.skipIf(!perExampleKernelsAvailable())("embeddingPerExample: own memory, repeated calls (issue 19)", () => {
  // batch 1, odd steps, a vocabulary that changes between calls, dim 4 and 12, padding token 0
  const batches = [
    embeddingBatch(11, 1, 7, 4, 37),
    embeddingBatch(12, 5, 9, 12, 37),
    embeddingBatch(13, 3, 13, 8, 101),
    embeddingBatch(14, 1, 1, 4, 101),
    embeddingBatch(15, 7, 5, 4, 101),
  ];

  it("norms and the dense clipped sum equal the float64 definitions, untouched rows exactly zero, call after call", () => {
    for (const b of batches) {
      const ref = embeddingReference(b);
      const got = embeddingPerExample(() => b.g, b.slots, b.ids, b.n, b.steps, b.dim, b.vocab)!;
      expect(got).not.toBeNull();
      expect(relError(got.squaredNorms, ref.sq)).toBeLessThanOrEqual(1e-6);
      const sum = got.weightedSum(b.w);
      expect(relError(sum, ref.sum)).toBeLessThanOrEqual(1e-6);
      for (let v = 0; v < b.vocab; v++) {
        if (b.ids.includes(v)) continue;
        for (let j = 0; j < b.dim; j++) expect(sum[v * b.dim + j]).toBe(0);
      }
      expect(relError(got.weightedSum(b.w), ref.sum)).toBeLessThanOrEqual(1e-6); // twice: the rows are zeroed again
    }
  });

  it("keeps its data while a Conv1D uses the other instance, and the Conv1D keeps its gradients in place", () => {
    const b = batches[1];
    const ref = embeddingReference(b);
    const s = geometries()[0];
    const r = lcg(77);
    const x = randomArray(r, s.n * s.len * s.cin);
    const g = randomArray(r, s.n * s.positions * s.cout);
    const w = Float32Array.from({ length: s.n }, (_, i) => 0.5 + 0.25 * i);
    const e = embeddingPerExample(() => b.g, b.slots, b.ids, b.n, b.steps, b.dim, b.vocab)!;
    const c = conv1dPerExample(x, g, s)!;
    expect(relError(e.weightedSum(b.w), ref.sum)).toBeLessThanOrEqual(1e-6);
    const conv = referenceConv1d(x, g, s);
    expect(relError(c.weightedSum(w), referenceSum(conv.per, s.n, conv.d, w))).toBeLessThanOrEqual(1e-6);
    // another Embedding call takes the Embedding memory: the first result reads its gradient again
    const other = batches[2];
    embeddingPerExample(() => other.g, other.slots, other.ids, other.n, other.steps, other.dim, other.vocab);
    expect(relError(e.weightedSum(b.w), ref.sum)).toBeLessThanOrEqual(1e-6);
  });

  it("negative control: the kernel with its zeroing switched off fails the same comparison on a repeated call", () => {
    const b = batches[1];
    const ref = embeddingReference(b);
    const got = embeddingPerExample(() => b.g, b.slots, b.ids, b.n, b.steps, b.dim, b.vocab)!;
    setEmbeddingKernelFault("no-zero");
    try {
      got.weightedSum(b.w);
      expect(relError(got.weightedSum(b.w), ref.sum)).toBeGreaterThan(0.5); // the stale sum is added again
    } finally {
      setEmbeddingKernelFault(null);
    }
    expect(relError(got.weightedSum(b.w), ref.sum)).toBeLessThanOrEqual(1e-6);
  });
});

describe.skipIf(!perExampleKernelsAvailable())("Embedding → GlobalAveragePooling1D kernels (issue 19)", () => {
  const batches = [
    embeddingBatch(21, 1, 7, 4, 37),
    embeddingBatch(22, 5, 9, 12, 37),
    embeddingBatch(23, 3, 13, 8, 101),
    embeddingBatch(24, 2, 1, 4, 5),
  ];

  it("embeddingMeanOverSteps: the mean of each example's rows (float64 definition)", () => {
    for (const b of batches) {
      const table = randomArray(lcg(b.vocab), b.vocab * b.dim);
      const got = embeddingMeanOverSteps(table, b.ids, b.n, b.steps, b.dim, b.vocab)!;
      const ref = new Float64Array(b.n * b.dim);
      for (let i = 0; i < b.n; i++)
        for (let t = 0; t < b.steps; t++)
          for (let j = 0; j < b.dim; j++) ref[i * b.dim + j] += table[b.ids[i * b.steps + t] * b.dim + j] / b.steps;
      expect(relError(got, ref)).toBeLessThanOrEqual(1e-6);
    }
  });

  it("embeddingPooledPerExample: norms and the dense clipped sum of rows c_v · dy_i / T (float64 definitions), call after call", () => {
    for (const b of batches) {
      const dy = randomArray(lcg(b.n + 7), b.n * b.dim);
      // the definitions through the broadcast gradient: every position of example i gets dy_i / T
      const g = new Float32Array(b.n * b.steps * b.dim);
      for (let p = 0; p < b.n * b.steps; p++)
        for (let j = 0; j < b.dim; j++) g[p * b.dim + j] = dy[Math.floor(p / b.steps) * b.dim + j] / b.steps;
      const ref = embeddingReference({ ...b, g });
      const got = embeddingPooledPerExample(dy, b.ids, b.n, b.steps, b.dim, b.vocab)!;
      expect(relError(got.squaredNorms, ref.sq)).toBeLessThanOrEqual(1e-6);
      expect(relError(got.weightedSum(b.w), ref.sum)).toBeLessThanOrEqual(1e-6);
      expect(relError(got.weightedSum(b.w), ref.sum)).toBeLessThanOrEqual(1e-6);
      // the same clipped sum bits as the rule's general kernel on the broadcast gradient
      const general = embeddingPerExample(() => g, b.slots, b.ids, b.n, b.steps, b.dim, b.vocab)!;
      expect(Array.from(general.weightedSum(b.w))).toEqual(Array.from(got.weightedSum(b.w)));
    }
  });

  it("negative control: the pooled sum with its zeroing switched off fails on a repeated call", () => {
    const b = batches[1];
    const dy = randomArray(lcg(5), b.n * b.dim);
    const got = embeddingPooledPerExample(dy, b.ids, b.n, b.steps, b.dim, b.vocab)!;
    const good = got.weightedSum(b.w);
    setEmbeddingKernelFault("no-zero");
    try {
      got.weightedSum(b.w);
      expect(relError(got.weightedSum(b.w), good)).toBeGreaterThan(0.5);
    } finally {
      setEmbeddingKernelFault(null);
    }
    expect(Array.from(got.weightedSum(b.w))).toEqual(Array.from(good));
  });
});

describe.skipIf(!hasWabt)("per-example wasm bytes", () => {
  it("are what the .wat compiles to (and the generated module is byte-for-byte the script's output)", async () => {
    const [wat, out] = PER_EXAMPLE_WASM;
    const bytes = await compileWat(wat, readFileSync(path.join(root, wat), "utf8"));
    expect(Buffer.from(PER_EXAMPLE_WASM_BASE64, "base64").equals(Buffer.from(bytes))).toBe(true);
    expect(readFileSync(path.join(root, out), "utf8")).toBe(generatedModule(wat, bytes));
  });

  it("a changed .wat gives other bytes (the comparison can fail)", async () => {
    const text = readFileSync(path.join(root, PER_EXAMPLE_WASM[0]), "utf8").replace("(i32.const 64)", "(i32.const 48)");
    const bytes = await compileWat(PER_EXAMPLE_WASM[0], text);
    expect(Buffer.from(PER_EXAMPLE_WASM_BASE64, "base64").equals(Buffer.from(bytes))).toBe(false);
  });
});
