/**
 * The two operations the PLD accountant needs on top of the FFT (src/math/fft.ts): linear
 * convolution and the n-fold self-convolution with wrap-around into a window.
 * @module
 */
import { fftInPlace, nextPowerOfTwo, twiddles } from "../../math/fft.js";

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
 *
 * Uses the real-input FFT (the even and odd samples packed into one half-length complex FFT and
 * separated with the twiddles), so the transforms and the power step run on n/2 points.
 * @internal
 */
export function selfConvolveWindow(x: Float64Array, times: number, lower: number, windowLength: number): Float64Array {
  const n = Math.max(4, nextPowerOfTwo(Math.max(windowLength, x.length)));
  const h = n >> 1;
  const zr = new Float64Array(h);
  const zi = new Float64Array(h);
  for (let k = 0; 2 * k < x.length; k++) {
    zr[k] = x[2 * k];
    zi[k] = 2 * k + 1 < x.length ? x[2 * k + 1] : 0;
  }
  fftInPlace(zr, zi);
  // Spectrum X[k], k = 0..h (Hermitian), raised to `times`.
  const xr = new Float64Array(h + 1);
  const xi = new Float64Array(h + 1);
  const { cos, sin } = twiddles(n); // e^{-2πik/n}, k < n/2
  for (let k = 0; k <= h; k++) {
    const k1 = k % h;
    const k2 = (h - k) % h;
    const ar = zr[k1];
    const ai = zi[k1];
    const br = zr[k2];
    const bi = -zi[k2]; // conj Z[h-k]
    const er = 0.5 * (ar + br);
    const ei = 0.5 * (ai + bi);
    // O = (Z[k] - conj Z[h-k]) / (2i)
    const or = 0.5 * (ai - bi);
    const oi = -0.5 * (ar - br);
    const wr = k < h ? cos[k] : -1;
    const wi = k < h ? sin[k] : 0;
    const vr = er + wr * or - wi * oi;
    const vi = ei + wr * oi + wi * or;
    const r2 = vr * vr + vi * vi;
    const logMag = 0.5 * times * Math.log(r2);
    if (!(logMag > -745)) {
      xr[k] = 0;
      xi[k] = 0;
      continue;
    }
    const mag = Math.exp(logMag);
    const ang = times * Math.atan2(vi, vr);
    xr[k] = mag * Math.cos(ang);
    xi[k] = mag * Math.sin(ang);
  }
  // Back: E[k] = (Y[k] + conj Y[h-k]) / 2, O[k] = (Y[k] - conj Y[h-k]) / (2 W^k), Z'[k] = E + iO.
  for (let k = 0; k < h; k++) {
    const ar = xr[k];
    const ai = xi[k];
    const br = xr[h - k];
    const bi = -xi[h - k];
    const er = 0.5 * (ar + br);
    const ei = 0.5 * (ai + bi);
    const dr = 0.5 * (ar - br);
    const di = 0.5 * (ai - bi);
    // divide by W^k = multiply by conj(W^k) = (cos, -sin)
    const wr = cos[k];
    const wi = -sin[k];
    const or = dr * wr - di * wi;
    const oi = dr * wi + di * wr;
    // Z' = E + i O
    zr[k] = er - oi;
    zi[k] = ei + or;
  }
  fftInPlace(zr, zi, true);
  const out = new Float64Array(windowLength);
  const shift = ((lower % n) + n) % n;
  for (let i = 0; i < windowLength; i++) {
    const j = (i + shift) % n;
    out[i] = ((j & 1) === 0 ? zr[j >> 1] : zi[j >> 1]) / h;
  }
  return out;
}
