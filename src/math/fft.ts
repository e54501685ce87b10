/**
 * Radix-2 complex FFT on Float64Arrays (iterative, in place, precomputed twiddles): the one FFT of
 * the library, used by the PLD accountant's convolutions (accounting/pld/fft.ts) and the scattering
 * transform (experiments/scatter-net.ts).
 * @module
 */

/** Smallest power of two >= n. @internal */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

const twiddleCache = new Map<number, { cos: Float64Array; sin: Float64Array }>();

/** cos and sin of −2πk/n for k < n/2 (cached). @internal */
export function twiddles(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddleCache.get(n);
  if (!t) {
    const half = n >> 1;
    const cos = new Float64Array(half);
    const sin = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      const a = (-2 * Math.PI * k) / n;
      cos[k] = Math.cos(a);
      sin[k] = Math.sin(a);
    }
    t = { cos, sin };
    if (twiddleCache.size > 8) twiddleCache.clear();
    twiddleCache.set(n, t);
  }
  return t;
}

/**
 * In-place FFT of (re, im), length a power of two. `inverse` computes the unnormalised inverse
 * (divide by n afterwards).
 * @internal
 */
export function fftInPlace(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (n <= 1) return;
  if ((n & (n - 1)) !== 0) throw new RangeError(`fft length must be a power of two, got ${n}`);
  // Bit-reversal permutation.
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  const { cos, sin } = twiddles(n);
  const sign = inverse ? -1 : 1;
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    const step = n / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0, t = 0; k < half; k++, t += step) {
        const wr = cos[t];
        const wi = sign * sin[t];
        const a = i + k;
        const b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/**
 * In-place 2-D FFT of an n×n row-major array (n a power of two): every row, then every column.
 * `inverse` is the normalised inverse (divides by n²).
 * @internal
 */
export function fft2dInPlace(re: Float64Array, im: Float64Array, n: number, inverse = false): void {
  const tr = new Float64Array(n);
  const ti = new Float64Array(n);
  for (const [count, offsetStep, stride] of [
    [n, n, 1],
    [n, 1, n],
  ]) {
    for (let line = 0; line < count; line++) {
      const offset = line * offsetStep;
      for (let i = 0; i < n; i++) {
        tr[i] = re[offset + i * stride];
        ti[i] = im[offset + i * stride];
      }
      fftInPlace(tr, ti, inverse);
      for (let i = 0; i < n; i++) {
        re[offset + i * stride] = tr[i];
        im[offset + i * stride] = ti[i];
      }
    }
  }
  if (inverse) {
    const s = 1 / (n * n);
    for (let i = 0; i < n * n; i++) {
      re[i] *= s;
      im[i] *= s;
    }
  }
}
