/**
 * Issue 19: the exact discrete ziggurat's one-pass fused add (the `add` function of
 * src/random/ziggurat.wat: two proposals per step in f64x2 lanes, each sample added where it is
 * drawn) against the JS reference loop (zigguratAddRun) and against the two passes it replaced
 * (`fill` then `combine`): identical float32 bits over many 8,192-entry windows and 16,384-word
 * refills, in one call and in stream pieces (1, odd, straddling windows), for sigma from 0.25 (the
 * wedge, the tail and the rejected (negative, 0) are frequent, so the pairs fall back to one
 * proposal at a time often) to DP-SGD's grid range 2^29-2^32 and 2^40, power-of-two and other
 * divisors, round()'s hard cases, lengths 1, 3 and odd window remainders, with the wedge forced
 * onto the exact bigint path (proposals handed back to JS), and end to end through
 * `addGaussianNoiseInPlace`. Negative controls (patched .wat through setZigguratWasmForTesting): a
 * lane whose sign is dropped, a pair path that accepts the rejected (negative, 0), lanes swapped, a
 * J conversion off by 2^52, a pair step that skips words, a k rounded up instead of down, and
 * round()'s exact fallback skipped for an inverse scale that is not a power of two all give other
 * values; power-of-two inverse scales (where the kernel skips that fallback, proved in the .wat)
 * give the reference's values on ties, near-ties, [2^52, 2^54) and tiny values.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { addGaussianNoiseInPlace } from "../../src/mechanisms/gaussian-noise.js";
import { allFiniteFloat32, setZigguratFusedAddForTesting, setZigguratWasmForTesting } from "../../src/random/discrete-ziggurat.js";
import { setExpEnclosureMarginForTesting } from "../../src/random/exp-bernoulli.js";
import { SeededRng } from "../../src/random/rng.js";
import { addedInPieces } from "./added-in-pieces.js";
import { compileWat, ZIGGURAT_WAT_PATH } from "../../scripts/gen-ziggurat-wasm.js";
import { hasWabt } from "../helpers/wabt.js";

const digest = (a: Float32Array): string =>
  createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex")
    .slice(0, 16);

/** Which loop adds: the JS reference, the kernel's two passes, the fused kernel, or whatever the hooks are set to. */
type Path = "js" | "two-pass" | "fused" | "current";

function usePath(path: Path): void {
  if (path === "current") return;
  setZigguratWasmForTesting(path === "js" ? null : undefined);
  setZigguratFusedAddForTesting(path === "fused");
}

/** addRounded of one stream over a copy of s, in pieces of the given sizes (cycled). */
function added(
  path: Path,
  sigma: number,
  s: Float32Array,
  seed: number,
  pieces: number[],
  inv = 2 ** 30,
  scale = 2 ** -30,
  div = 256,
): Float32Array {
  usePath(path);
  return addedInPieces(sigma, s, seed, pieces, inv, scale, div);
}

/** A vector on the grid 2^-30 with ties (half-integers of the grid), integers and values between. */
function gridValues(n: number): Float32Array {
  const g = 2 ** -30;
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const m = (i % 2001) - 1000;
    s[i] = i % 3 === 0 ? (m + 0.5) * g : i % 3 === 1 ? m * g : Math.fround(Math.sin(i) * 0.02);
  }
  return s;
}

const SIGMAS = [0.25, 0.5, 1, 1.5, 3, 12.5, 2 ** 29, 1.5 * 2 ** 30, 2 ** 32 * (1 - 2 ** -20), 2 ** 40];

const watText = (): string => readFileSync(ZIGGURAT_WAT_PATH, "utf8");

/** The `add` function's text in the shipped .wat (the mutations below must touch it alone). */
function addFunctionText(text: string): string {
  const a = text.indexOf('(func (export "add")');
  const b = text.indexOf(";; The fused add's second pass");
  expect(a).toBeGreaterThan(0);
  expect(b).toBeGreaterThan(a);
  return text.slice(a, b);
}

/** The shipped .wat with each `from` replaced by its `to` inside the `add` function only, compiled. */
async function mutatedAdd(...edits: [string, string][]): Promise<Uint8Array> {
  const text = watText();
  const f = addFunctionText(text);
  let g = f;
  for (const [from, to] of edits) {
    expect(g.includes(from), from).toBe(true);
    g = g.replaceAll(from, to);
  }
  return compileWat(text.replace(f, g));
}

describe("discrete ziggurat: the one-pass fused add (issue 19)", () => {
  let oldMargin: number | undefined;
  afterEach(() => {
    setZigguratWasmForTesting(undefined);
    setZigguratFusedAddForTesting(true);
    if (oldMargin !== undefined) setExpEnclosureMarginForTesting(oldMargin);
    oldMargin = undefined;
  });

  it("is the default path", () => {
    expect(setZigguratFusedAddForTesting(true)).toBe(true);
  });

  it("adds the JS reference's values bit for bit over many windows, in one call and in stream pieces, sigma 0.25 to 2^40", () => {
    const n = 60_001; // 7 full windows and an odd remainder; about 8 refills
    const s = gridValues(n);
    for (const [idx, sigma] of SIGMAS.entries()) {
      const js = digest(added("js", sigma, s, 100 + idx, [n]));
      expect(digest(added("fused", sigma, s, 100 + idx, [n])), `sigma ${sigma}`).toBe(js);
      expect(digest(added("two-pass", sigma, s, 100 + idx, [n])), `sigma ${sigma}`).toBe(js);
      // Pieces of 1, odd sizes, and sizes that straddle the 8,192-entry window and the 16,384-word refills.
      expect(digest(added("fused", sigma, s, 100 + idx, [1, 7, 8191, 3, 8193, 1, 16_385, 2, 513])), `sigma ${sigma}`).toBe(js);
    }
  });

  it("adds the same values at lengths 1, 2, 3 and 5 (no pair, one pair, a pair and one) and one window plus one", () => {
    for (const n of [1, 2, 3, 5, 8193]) {
      const s = gridValues(n);
      for (const sigma of [0.25, 3, 1.5 * 2 ** 30]) {
        for (let seed = 0; seed < 20; seed++) {
          const js = added("js", sigma, s, seed, [n]);
          const fused = added("fused", sigma, s, seed, [n]);
          expect(digest(fused), `n ${n}, sigma ${sigma}, seed ${seed}`).toBe(digest(js));
        }
      }
    }
  });

  it("adds the same values for power-of-two and other divisors and for round()'s hard cases", () => {
    const n = 20_000;
    const s = gridValues(n);
    for (const sigma of [1, 1.5 * 2 ** 30]) {
      for (const div of [256, 3, 0.75, 1, 2 ** -3, 100, 250]) {
        const js = digest(added("js", sigma, s, 7, [n], 2 ** 30, 2 ** -30, div));
        expect(digest(added("fused", sigma, s, 7, [n], 2 ** 30, 2 ** -30, div)), `div ${div}`).toBe(js);
      }
    }
    // x = 0.49999999999999994 (floor(x + 0.5) = 1, the exact answer 0) and x = 2^52 + 1 (x + 0.5 ties up).
    const hard = Float32Array.from({ length: 4001 }, (_, i) => (i % 4 === 0 ? 1 : i % 4 === 1 ? -1 : i % 4 === 2 ? 2 ** 52 : -(2 ** 52)));
    for (const inv of [0.49999999999999994, 1 + 2 ** -52, 1.5, 0.5]) {
      const js = digest(added("js", 3, hard, 8, [4001], inv, 1, 1));
      expect(digest(added("fused", 3, hard, 8, [4001], inv, 1, 1)), `inv ${inv}`).toBe(js);
    }
  });

  it("skips round()'s fallback only for power-of-two inverse scales, with the JS reference's values (ties, near-ties, 2^52-2^53, tiny)", () => {
    // float32 values whose x = s·inv lands on halves, next to halves, in [2^52, 2^54) and below 2^-30.
    const vals: number[] = [];
    for (let k = -40; k <= 40; k++) {
      const h = k + 0.5;
      vals.push(h, Math.fround(h * (1 + 2 ** -23)), Math.fround(h * (1 - 2 ** -23)), k);
    }
    for (const e of [-60, -31, -30, -29, -2, 23, 24, 52, 53, 60])
      vals.push(2 ** e, -(2 ** e), Math.fround(2 ** e * (1 + 2 ** -23)), Math.fround(-(2 ** e) * (1 - 2 ** -24)));
    const base = Float32Array.from(vals, (v) => Math.fround(v));
    for (const inv of [1, 2, 0.5, 2 ** 30, 2 ** -20, 2 ** 29, 2 ** -1000, 2 ** 60]) {
      // s = base / inv (exact in float32 where representable), so x = s·inv is base again.
      const s = Float32Array.from(base, (v) => v / inv);
      for (const sigma of [0.5, 3, 1.5 * 2 ** 30]) {
        const js = digest(added("js", sigma, s, 21, [s.length], inv, 1 / inv, 1));
        expect(digest(added("fused", sigma, s, 21, [s.length], inv, 1 / inv, 1)), `inv ${inv}, sigma ${sigma}`).toBe(js);
      }
    }
  });

  it("adds the same values with the wedge forced onto the exact bigint path (the kernel hands the proposals back to JS)", () => {
    oldMargin = setExpEnclosureMarginForTesting(2 ** -6);
    const n = 30_001;
    const s = gridValues(n);
    for (const sigma of [0.5, 3, 1.5 * 2 ** 30]) {
      const js = digest(added("js", sigma, s, 77, [n]));
      expect(digest(added("fused", sigma, s, 77, [n])), `sigma ${sigma}`).toBe(js);
      expect(digest(added("fused", sigma, s, 77, [33, 1000])), `sigma ${sigma}`).toBe(js);
    }
  });

  it("gives addGaussianNoiseInPlace the JS loop's values on odd-sized parts (DP-SGD's grid)", () => {
    const shapes = [100_352, 128, 1_281, 9, 1];
    const run = (path: Path): string[] => {
      usePath(path);
      const parts = shapes.map((n, p) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + p) * 0.02));
      addGaussianNoiseInPlace(parts, { stddev: 1.1, sensitivity: 1, divisor: 256, name: "clippedSum", rng: new SeededRng(19) });
      return parts.map(digest);
    };
    const js = run("js");
    expect(run("fused")).toEqual(js);
    expect(run("two-pass")).toEqual(js);
    // Another divisor (not a power of two) and noise large against the values.
    usePath("js");
    const a = Float32Array.from({ length: 9_999 }, (_, i) => Math.cos(i));
    const b = a.slice();
    addGaussianNoiseInPlace([a], { stddev: 3, sensitivity: 0.5, divisor: 100, name: "x", rng: new SeededRng(4) });
    usePath("fused");
    addGaussianNoiseInPlace([b], { stddev: 3, sensitivity: 0.5, divisor: 100, name: "x", rng: new SeededRng(4) });
    expect(digest(b)).toBe(digest(a));
  });

  it("checks finiteness (allFiniteFloat32, the module's SIMD check) as the JS loop does: every position, lengths 0-9 and around the window", () => {
    const specials = [NaN, Infinity, -Infinity];
    const finite = [0, -0, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, 1.401298464324817e-45, -1.1754943508222875e-38];
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 8191, 8192, 8193, 16_385]) {
      const s = Float32Array.from({ length: n }, (_, i) => finite[i % finite.length]);
      expect(allFiniteFloat32(s), `n ${n}`).toBe(true);
      const at =
        n <= 9
          ? Array.from({ length: n }, (_, i) => i)
          : [0, 1, 2, 3, 4, 8188, 8189, 8190, 8191, 8192, n - 4, n - 3, n - 2, n - 1].filter((i) => i < n);
      for (const i of at) {
        for (const v of specials) {
          const t = s.slice();
          t[i] = v;
          expect(allFiniteFloat32(t), `n ${n}, ${v} at ${i}`).toBe(false);
        }
      }
    }
    // The same answers from the JS loop (the fallback), and on subarrays at odd offsets.
    const big = Float32Array.from({ length: 20_003 }, (_, i) => Math.sin(i) * 1e30);
    big[20_001] = NaN;
    for (const [from, to] of [
      [0, 20_003],
      [1, 20_001],
      [3, 20_002],
      [20_001, 20_002],
      [5, 9],
    ]) {
      const sub = big.subarray(from, to);
      const wasm = allFiniteFloat32(sub);
      usePath("js");
      expect(allFiniteFloat32(sub), `[${from}, ${to})`).toBe(wasm);
      usePath("fused");
      expect(wasm).toBe(!(from <= 20_001 && 20_001 < to));
    }
  });

  it.skipIf(!hasWabt)(
    "negative controls of the finiteness check: without its one-by-one tail, or with the exponent mask wrong, it answers wrongly",
    async () => {
      const text = watText();
      const a = text.indexOf('(func (export "finite")');
      const b = text.indexOf(";; The fused add's second pass");
      const f = text.slice(a, b);
      const tail = "(br_if $end (i32.ge_u (local.get $i) (local.get $n)))";
      expect(f.includes(tail)).toBe(true);
      const nan7 = Float32Array.from({ length: 7 }, (_, i) => (i === 6 ? NaN : i));
      expect(allFiniteFloat32(nan7)).toBe(false);
      setZigguratWasmForTesting(await compileWat(text.replace(f, f.replace(tail, "(br $end)"))));
      expect(allFiniteFloat32(nan7)).toBe(true); // the NaN in the tail is missed
      setZigguratWasmForTesting(undefined);
      const inf8 = Float32Array.from({ length: 8 }, (_, i) => (i === 2 ? Infinity : i));
      expect(allFiniteFloat32(inf8)).toBe(false);
      expect(f.includes("(v128.and (v128.load offset=149504")).toBe(true);
      const g = f.replace(
        "(v128.and (v128.load offset=149504 (i32.shl (local.get $i) (i32.const 2))) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))",
        "(v128.and (v128.load offset=149504 (i32.shl (local.get $i) (i32.const 2))) (v128.const i32x4 0x7f800000 0x7f800000 0x7f000000 0x7f800000))",
      );
      expect(g).not.toBe(f);
      setZigguratWasmForTesting(await compileWat(text.replace(f, g)));
      expect(allFiniteFloat32(inf8)).toBe(true); // lane 2's exponent is masked wrongly
    },
  );

  it.skipIf(!hasWabt)(
    "negative controls: a lane without its sign, (negative, 0) accepted, lanes swapped, J off by 2^52, skipped words, k rounded up, fallback skipped",
    async () => {
      const n = 40_001;
      const s = gridValues(n);
      const shl = "(i64x2.shl (local.get $v) (i32.const 55))";
      const negZero = "(i64x2.eq (local.get $y) (v128.const i64x2 0x8000000000000000 0x8000000000000000))";
      const store = "(f32x4.demote_f64x2_zero (local.get $y))";
      const controls: [string, number, [string, string][]][] = [
        // The second lane's sign bit dropped: its samples are all >= 0.
        ["lane 1 without its sign", 1.5 * 2 ** 30, [[shl, `(v128.and ${shl} (v128.const i64x2 -1 0))`]]],
        // A -0 (the rejected (negative, 0)) accepted as a sample 0 in the pair path: more zeros (sigma 1: P[k = 0] is large).
        ["(negative, 0) accepted", 1, [[negZero, "(v128.const i64x2 0 0)"]]],
        // The pair's two results stored in each other's places.
        [
          "lanes swapped",
          1.5 * 2 ** 30,
          [[store, "(f32x4.demote_f64x2_zero (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y)))"]],
        ],
        // The exact conversion's constant one unit too large in its last place: J off by 2^52.
        ["J off by 2^52", 1.5 * 2 ** 30, [["0x1.00000001p+84", "0x1.00000002p+84"]]],
        // The pair step past six words instead of four.
        [
          "pair step skips words",
          1.5 * 2 ** 30,
          [["(local.set $p (i32.add (local.get $p) (i32.const 4)))", "(local.set $p (i32.add (local.get $p) (i32.const 6)))"]],
        ],
        // round()'s fallback skipped for every inverse scale, not only powers of two (checked on round()'s hard cases below).
        ["fallback always skipped", 3, [["(i32.eqz (local.get $halfExact))", "(i32.const 0)"]]],
        // k = ceil(J / Q) instead of floor: off by one on almost every lane.
        [
          "k rounded up",
          1.5 * 2 ** 30,
          [["(f64x2.floor (f64x2.div (local.get $jj) (local.get $qq)))", "(f64x2.ceil (f64x2.div (local.get $jj) (local.get $qq)))"]],
        ],
      ];
      // round()'s hard cases: x = 0.49999999999999994 (floor(x + 0.5) = 1, the exact answer 0), x = 2^52 + 1.
      const hard = Float32Array.from({ length: 4001 }, (_, i) => (i % 2 === 0 ? 1 : 2 ** 52));
      const hardInv = 0.49999999999999994;
      for (const [name, sigma, edits] of controls) {
        const fallback = name === "fallback always skipped";
        const v = fallback ? hard : s;
        const [inv, scale] = fallback ? [hardInv, 1] : [2 ** 30, 2 ** -30];
        const js = added("js", sigma, v, 11, [v.length], inv, scale);
        setZigguratWasmForTesting(await mutatedAdd(...edits));
        setZigguratFusedAddForTesting(true);
        const bad = added("current", sigma, v, 11, [v.length], inv, scale);
        expect(digest(bad), name).not.toBe(digest(js));
        // The same broken module's two passes (fill, combine: untouched) still give the reference.
        setZigguratFusedAddForTesting(false);
        expect(digest(added("current", sigma, v, 11, [v.length], inv, scale)), name).toBe(digest(js));
        if (name === "lane 1 without its sign") {
          // The noise (values minus the inputs, in grid units) of the broken kernel is skewed positive.
          let pos = 0;
          let neg = 0;
          for (let i = 0; i < n; i++) {
            const z = Math.round((bad[i] * 256 - s[i]) * 2 ** 30);
            if (z > 0) pos++;
            else if (z < 0) neg++;
          }
          expect(pos).toBeGreaterThan(neg * 1.3);
        }
        if (name === "(negative, 0) accepted") {
          // With noise sigma 1 on inputs far from the grid's scale, count the zero-noise entries.
          const zeros = (v: Float32Array): number => {
            let c = 0;
            for (let i = 0; i < n; i++) if (Math.round(v[i] * 256 * 2 ** 30) === Math.round(s[i] * 2 ** 30)) c++;
            return c;
          };
          expect(zeros(bad)).toBeGreaterThan(zeros(js) * 1.2);
        }
      }
    },
  );
});
