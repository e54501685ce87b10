/**
 * Radix-2 complex FFT on Float64Arrays (iterative, in place, precomputed twiddles), plus the two
 * operations the PLD accountant needs: linear convolution and the n-fold self-convolution with
 * wrap-around into a window.
 * @module
 */

/** Smallest power of two >= n. @internal */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

const twiddleCache = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddles(n: number): { cos: Float64Array; sin: Float64Array } {
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
 * Linear convolution of two real sequences (direct for small inputs, FFT otherwise).
 * @internal
 */
export function convolve(a: Float64Array, b: Float64Array): Float64Array {
  const outLen = a.length + b.length - 1;
  if (a.length * b.length <= 1 << 16) {
    const out = new Float64Array(outLen);
    for (let i = 0; i < a.length; i++) {
      const ai = a[i];
      if (ai === 0) continue;
      for (let j = 0; j < b.length; j++) out[i + j] += ai * b[j];
    }
    return out;
  }
  const n = nextPowerOfTwo(outLen);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  // Pack a in the real part and b in the imaginary part: one forward FFT for both.
  re.set(a);
  im.set(b);
  fftInPlace(re, im);
  // A_k = (Z_k + conj Z_{n-k}) / 2, B_k = (Z_k - conj Z_{n-k}) / (2i); product P_k = A_k B_k.
  const pr = new Float64Array(n);
  const pi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const m = (n - k) & (n - 1);
    const zr = re[k];
    const zi = im[k];
    const cr = re[m];
    const ci = -im[m];
    const ar = 0.5 * (zr + cr);
    const ai = 0.5 * (zi + ci);
    // (z - c) / (2i) = (zi - ci)/2 - i (zr - cr)/2
    const br = 0.5 * (zi - ci);
    const bi = -0.5 * (zr - cr);
    pr[k] = ar * br - ai * bi;
    pi[k] = ar * bi + ai * br;
  }
  fftInPlace(pr, pi, true);
  const out = new Float64Array(outLen);
  for (let i = 0; i < outLen; i++) out[i] = pr[i] / n;
  return out;
}

/**
 * The `times`-fold self-convolution of `x`, computed modulo a power-of-two length >= max(window
 * length, x.length) and returned for indices [lower, lower + windowLength) of the full result
 * (mass outside the window wraps into it; the caller accounts for it as dp_accounting does).
 * @internal
 */
export function selfConvolveWindow(x: Float64Array, times: number, lower: number, windowLength: number): Float64Array {
  const n = nextPowerOfTwo(Math.max(windowLength, x.length));
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  re.set(x);
  fftInPlace(re, im);
  for (let k = 0; k < n; k++) {
    const r2 = re[k] * re[k] + im[k] * im[k];
    const logMag = 0.5 * times * Math.log(r2);
    if (!(logMag > -745)) {
      // |z|^times underflows to 0 (also r2 = 0).
      re[k] = 0;
      im[k] = 0;
      continue;
    }
    const mag = Math.exp(logMag);
    const ang = times * Math.atan2(im[k], re[k]);
    re[k] = mag * Math.cos(ang);
    im[k] = mag * Math.sin(ang);
  }
  fftInPlace(re, im, true);
  const out = new Float64Array(windowLength);
  const shift = ((lower % n) + n) % n;
  for (let i = 0; i < windowLength; i++) out[i] = re[(i + shift) % n] / n;
  return out;
}

