/**
 * A test helper of the ziggurat tests (ziggurat-wasm, ziggurat-fused): one stream's `addRounded` over a
 * copy of a vector, in pieces of the given sizes (cycled), with whichever sampler path the caller has set.
 */
import { DiscreteZiggurat } from "../../src/random/discrete-ziggurat.js";
import { SeededRng } from "../../src/random/rng.js";

/** addRounded of one stream (seeded) over a copy of s, in pieces of the given sizes (cycled). */
export function addedInPieces(
  sigma: number,
  s: Float32Array,
  seed: number,
  pieces: readonly number[],
  inv: number,
  scale: number,
  div: number,
): Float32Array {
  const out = s.slice();
  const st = new DiscreteZiggurat(sigma).stream(new SeededRng(seed), out.length);
  for (let at = 0, k = 0; at < out.length; k++) {
    const to = Math.min(out.length, at + pieces[k % pieces.length]);
    st.addRounded(out, at, to, inv, scale, div);
    at = to;
  }
  return out;
}
