/**
 * The exact discrete ziggurat's loops in WebAssembly (src/random/ziggurat.wat): the module is the
 * committed .wat compiled by wabt (provenance), and its streams are the JS loop's streams bit for
 * bit — long seeded streams at several sigma (0.25 = ZIGGURAT_MIN_SIGMA, 3, 1.7·2^30 = DP-SGD's grid,
 * 2^40 = ZIGGURAT_MAX_SIGMA), taken in one call or in many small pieces, the add variant on values
 * at half-integers of the grid (ties) and on round()'s hard cases, and with the wedge forced onto
 * the exact bigint path (the kernel then hands most wedges back to JS). Negative controls: a
 * kernel with the sign flipped, one that skips a word, and one without round()'s exact fallback
 * give other streams.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import {
  DiscreteZiggurat,
  isPowerOfTwoWithExactInverse,
  setZigguratWasmForTesting,
  zigguratWasmActive,
} from "../../src/random/discrete-ziggurat.js";
import { setExpEnclosureMarginForTesting } from "../../src/random/exp-bernoulli.js";
import { SeededRng } from "../../src/random/rng.js";
import { addedInPieces } from "./added-in-pieces.js";
import { ZIGGURAT_WASM_BASE64, ZIGGURAT_WAT_SHA256 } from "../../src/random/ziggurat-wasm.js";
import { compileWat, ZIGGURAT_WAT_PATH } from "../../scripts/gen-ziggurat-wasm.js";

const digest = (a: Float64Array | Float32Array): string =>
  createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex")
    .slice(0, 16);

/** wabt is a devDependency: the checks that compile .wat text run where it is installed. */
const hasWabt = await import("wabt").then(
  () => true,
  () => false,
);

const SIGMAS = [0.25, 0.5, 3, 12.5, 1.7 * 2 ** 30, 2 ** 40];

/**
 * One stream of n samples from seed, taken in pieces of the given sizes (cycled), with the JS loop
 * (false), the shipped kernel (true) or whatever the hook was last set to ("current").
 */
function streamed(sigma: number, n: number, seed: number, pieces: number[], wasm: boolean | "current"): Float64Array {
  if (wasm !== "current") setZigguratWasmForTesting(wasm ? undefined : null);
  const out = new Float64Array(n);
  const st = new DiscreteZiggurat(sigma).stream(new SeededRng(seed), n);
  for (let at = 0, k = 0; at < n; k++) {
    const to = Math.min(n, at + pieces[k % pieces.length]);
    st.next(out, at, to);
    at = to;
  }
  return out;
}

/** addRounded over s (copied) in pieces, as {@link streamed}. */
function added(
  sigma: number,
  s: Float32Array,
  seed: number,
  pieces: number[],
  inv: number,
  scale: number,
  div: number,
  wasm: boolean | "current",
): Float32Array {
  if (wasm !== "current") setZigguratWasmForTesting(wasm ? undefined : null);
  return addedInPieces(sigma, s, seed, pieces, inv, scale, div);
}

const watText = (): string => readFileSync(ZIGGURAT_WAT_PATH, "utf8");

/** The shipped .wat with every occurrence of each `from` replaced by its `to` (a negative control), compiled. */
async function mutated(...edits: [string, string][]): Promise<Uint8Array> {
  let text = watText();
  for (const [from, to] of edits) {
    expect(text.includes(from), from).toBe(true);
    text = text.replaceAll(from, to);
  }
  return compileWat(text);
}

describe("discrete ziggurat: the WebAssembly loops", () => {
  let oldMargin: number | undefined;
  afterEach(() => {
    setZigguratWasmForTesting(undefined);
    if (oldMargin !== undefined) setExpEnclosureMarginForTesting(oldMargin);
    oldMargin = undefined;
  });

  it.skipIf(!hasWabt)("is the committed .wat compiled by wabt (provenance)", async () => {
    const text = watText();
    expect(createHash("sha256").update(text).digest("hex")).toBe(ZIGGURAT_WAT_SHA256);
    const bytes = await compileWat(text);
    expect(Buffer.from(bytes).toString("base64")).toBe(ZIGGURAT_WASM_BASE64);
  });

  it("runs here (Node), and the hook switches to the JS loop", () => {
    expect(zigguratWasmActive()).toBe(true);
    setZigguratWasmForTesting(null);
    expect(zigguratWasmActive()).toBe(false);
  });

  it("gives the JS loop's seeded streams bit for bit, in one call and in many small pieces", () => {
    for (const [idx, sigma] of SIGMAS.entries()) {
      const n = 150_000;
      const js = streamed(sigma, n, 40 + idx, [n], false);
      expect(digest(streamed(sigma, n, 40 + idx, [n], true))).toBe(digest(js));
      // Pieces that straddle the kernel's 8,192-entry window and the 16,384-word refills.
      expect(digest(streamed(sigma, n, 40 + idx, [1, 7, 97, 3, 8191, 2, 8193, 513, 16_385], true))).toBe(digest(js));
      // And the JS loop in the same pieces is the same stream (the reference itself is piece-invariant).
      expect(digest(streamed(sigma, n, 40 + idx, [5, 4099], false))).toBe(digest(js));
    }
  });

  it("gives the JS loop's streams with the wedge forced onto the exact bigint path (handed back to JS)", () => {
    oldMargin = setExpEnclosureMarginForTesting(2 ** -6);
    for (const sigma of [1, 3, 1.7 * 2 ** 30]) {
      const js = streamed(sigma, 60_000, 77, [60_000], false);
      expect(digest(streamed(sigma, 60_000, 77, [60_000], true))).toBe(digest(js));
      expect(digest(streamed(sigma, 60_000, 77, [33, 1000], true))).toBe(digest(js));
    }
  });

  it("adds the same samples as the JS loop: half-integers of the grid, round()'s hard cases, several divisors", () => {
    const g = 2 ** -30;
    const n = 40_000;
    const s = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const m = (i % 2001) - 1000;
      // Exact half-integers m + 1/2 of the grid (ties: round toward +∞), integers and values near them.
      s[i] = i % 3 === 0 ? (m + 0.5) * g : i % 3 === 1 ? m * g : Math.fround((m + 0.25 * ((i >> 2) % 4)) * g * 1.0000001);
    }
    for (const sigma of [3, 1.7 * 2 ** 30, 2 ** 40]) {
      for (const div of [256, 3, 0.75, 1, 2 ** -3, 100]) {
        const js = added(sigma, s, 5, [n], 1 / g, g, div, false);
        expect(digest(added(sigma, s, 5, [n], 1 / g, g, div, true))).toBe(digest(js));
        expect(digest(added(sigma, s, 5, [1, 8191, 13, 8200], 1 / g, g, div, true))).toBe(digest(js));
      }
    }
    // round()'s hard cases need an inverse scale that is not a power of two: x = 0.49999999999999994
    // (floor(x + 0.5) = 1, the exact answer 0) and x = 2^52 + 1 (x + 0.5 ties up to 2^52 + 2).
    const hard = Float32Array.from({ length: 4000 }, (_, i) => (i % 4 === 0 ? 1 : i % 4 === 1 ? -1 : i % 4 === 2 ? 2 ** 52 : -(2 ** 52)));
    for (const inv of [0.49999999999999994, 1 + 2 ** -52, 1.5, 0.5]) {
      const js = added(3, hard, 8, [4000], inv, 1, 1, false);
      expect(digest(added(3, hard, 8, [4000], inv, 1, 1, true))).toBe(digest(js));
    }
  });

  it("divides by a power-of-two divisor as a multiplication by its exact inverse, and only then", () => {
    for (const d of [1, 2, 256, 0.5, 2 ** -1022, 2 ** 1023, 2 ** 52, 2 ** -40])
      expect(isPowerOfTwoWithExactInverse(d), String(d)).toBe(true);
    for (const d of [3, 0.75, 100, 255, 256 * (1 + 2 ** -52), 2 ** -1023, 2 ** -1074, 0, -256, NaN, Infinity]) {
      expect(isPowerOfTwoWithExactInverse(d), String(d)).toBe(false);
    }
    const x = Float64Array.from({ length: 10_000 }, (_, i) => Math.sin(i) * 2 ** ((i % 200) - 100));
    for (const d of [256, 2 ** -3, 2 ** 1023]) for (const v of x) expect(v * (1 / d)).toBe(v / d);
  });

  it.skipIf(!hasWabt)(
    "negative controls: a kernel with the sign flipped, one word skipped, or round() without its fallback gives another stream",
    async () => {
      const n = 50_000;
      const js = streamed(1.7 * 2 ** 30, n, 3, [n], false);
      // The sign: bit 8 of w0 onto k's sign bit in the loop, the factor 1 - 2·bit8 in the slow cases.
      const bit = "(i32.and (local.get $w0) (i32.const 256))";
      const sign = "(i32.sub (i32.const 1) (i32.and (i32.shr_u (local.get $w0) (i32.const 7)) (i32.const 2)))";
      const flipped = "(i32.sub (i32.and (i32.shr_u (local.get $w0) (i32.const 7)) (i32.const 2)) (i32.const 1))";
      setZigguratWasmForTesting(await mutated([bit, `(i32.xor ${bit} (i32.const 256))`], [sign, flipped]));
      const flippedOut = streamed(1.7 * 2 ** 30, n, 3, [n], "current");
      const step = "(local.set $p (i32.add (local.get $p) (i32.const 2)))";
      setZigguratWasmForTesting(await mutated([step, "(local.set $p (i32.add (local.get $p) (i32.const 3)))"]));
      const skipped = streamed(1.7 * 2 ** 30, n, 3, [n], "current");
      expect(digest(flippedOut)).not.toBe(digest(js));
      expect(digest(skipped)).not.toBe(digest(js));
      // The flipped kernel's samples are the JS samples negated: it is the sign alone, and the kernel does nearly all of them.
      expect(flippedOut.filter((v, i) => v !== -js[i]).length).toBeLessThan(n / 100);

      const hard = Float32Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 1 : 2 ** 52));
      const inv = 0.49999999999999994;
      const jsHard = added(3, hard, 8, [400], inv, 1, 1, false);
      setZigguratWasmForTesting(await mutated(["(if (v128.any_true (local.get $m))", "(if (i32.const 0)"]));
      expect(digest(added(3, hard, 8, [400], inv, 1, 1, "current"))).not.toBe(digest(jsHard));
      // (At x = 2^52 + 1 the bare floor is off by one too, but a float32 result cannot show it.)
    },
  );
});
