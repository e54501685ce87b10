/**
 * A ScatterNet-style fixed feature extractor for MNIST-sized images: the 2-D scattering transform
 * of Bruna & Mallat / Oyallon & Mallat with Kymatio's Morlet filter bank (J scales, L angles,
 * second order), as used by Tramèr & Boneh (2021) in front of DP-SGD. With J = 2, L = 8 a 28×28
 * image gives 1 + J·L + L²·J(J−1)/2 = 81 channels at 7×7.
 *
 * The filters depend on nothing but (size, J, L): computing the features of private images spends
 * no privacy by itself; what is trained on them afterwards (with DP-SGD) is what must be private,
 * and so is any normalisation whose statistics come from the training set. {@link groupNormalize}
 * normalises each example on its own (no statistics across examples), so it needs no noise.
 *
 * Differences from Kymatio (stated, not hidden): the image is reflect-padded by 2^J on the top and
 * left to a power-of-two grid (32×32 for 28×28, J = 2) instead of Kymatio's 36×36, so the filters
 * are periodised on that grid; the output samples the same positions (0, 4, …, 24 for J = 2).
 *
 * @see Tramèr & Boneh, "Differentially Private Learning Needs Better Features (or Much More Data)", ICLR 2021, https://arxiv.org/abs/2011.11660
 * @see Andreux et al., "Kymatio: Scattering Transforms in Python", JMLR 2020 (filter_bank.py, core/scattering2d.py)
 * @module
 */
import { fft2dInPlace } from "../math/fft.js";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { DpError, requireInteger, requireOneOf } from "../errors.js";
import { loadMnist } from "../data/index.js";

/** Options of {@link Scattering2D}. */
export interface Scattering2DOptions {
  /** Height and width of the (square) input images. Default 28. */
  size?: number;
  /** Number of scales J (the output is subsampled by 2^J). 1–4, default 2. */
  J?: number;
  /** Number of angles L. 1–16, default 8. */
  L?: number;
}

/** Kymatio's gabor_2d: a periodised (5×5 copies) Gabor filter on an m×m grid, complex. */
function gabor2d(m: number, sigma: number, theta: number, xi: number, slant: number): { re: Float64Array; im: Float64Array } {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  // curv = R · diag(1, slant²) · R⁻¹ / (2σ²)
  const d = slant * slant;
  const c00 = (c * c + d * s * s) / (2 * sigma * sigma);
  const c01 = (c * s - d * s * c) / (2 * sigma * sigma);
  const c11 = (s * s + d * c * c) / (2 * sigma * sigma);
  const re = new Float64Array(m * m);
  const im = new Float64Array(m * m);
  for (let ex = -2; ex <= 2; ex++) {
    for (let ey = -2; ey <= 2; ey++) {
      for (let x = 0; x < m; x++) {
        const xx = x + ex * m;
        for (let y = 0; y < m; y++) {
          const yy = y + ey * m;
          const mag = Math.exp(-(c00 * xx * xx + 2 * c01 * xx * yy + c11 * yy * yy));
          const ph = xx * xi * c + yy * xi * s;
          re[x * m + y] += mag * Math.cos(ph);
          im[x * m + y] += mag * Math.sin(ph);
        }
      }
    }
  }
  const norm = (2 * 3.1415 * sigma * sigma) / slant;
  for (let i = 0; i < m * m; i++) {
    re[i] /= norm;
    im[i] /= norm;
  }
  return { re, im };
}

/** Kymatio's morlet_2d: Gabor minus K·envelope so that the filter has zero mean. */
function morlet2d(m: number, sigma: number, theta: number, xi: number, slant: number): { re: Float64Array; im: Float64Array } {
  const wv = gabor2d(m, sigma, theta, xi, slant);
  const env = gabor2d(m, sigma, theta, 0, slant);
  let sr = 0;
  let si = 0;
  let er = 0;
  let ei = 0;
  for (let i = 0; i < m * m; i++) {
    sr += wv.re[i];
    si += wv.im[i];
    er += env.re[i];
    ei += env.im[i];
  }
  // K = sum(wv) / sum(env), complex division
  const den = er * er + ei * ei;
  const kr = (sr * er + si * ei) / den;
  const ki = (si * er - sr * ei) / den;
  const re = new Float64Array(m * m);
  const im = new Float64Array(m * m);
  for (let i = 0; i < m * m; i++) {
    re[i] = wv.re[i] - (kr * env.re[i] - ki * env.im[i]);
    im[i] = wv.im[i] - (kr * env.im[i] + ki * env.re[i]);
  }
  return { re, im };
}

/** Real part of the 2-D DFT of a spatial filter (Kymatio keeps only it: the imaginary part is ~0). */
function fourierReal(n: number, f: { re: Float64Array; im: Float64Array }): Float64Array {
  const re = Float64Array.from(f.re);
  const im = Float64Array.from(f.im);
  fft2dInPlace(re, im, n);
  return re;
}

/** Kymatio's periodize_filter_fft: drop the high band, then fold the spectrum to (m/2^res)². */
function periodizeFilter(x: Float64Array, m: number, res: number): Float64Array {
  const k = 1 << res;
  const mk = m / k;
  const start = Math.floor(m / (2 * k));
  const len = Math.floor(m * (1 - 1 / k));
  const inBand = (i: number): boolean => !(i >= start && i < start + len);
  const out = new Float64Array(mk * mk);
  for (let a = 0; a < mk; a++) {
    for (let b = 0; b < mk; b++) {
      let sum = 0;
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          const r = a + i * mk;
          const c = b + j * mk;
          if (inBand(r) && inBand(c)) sum += x[r * m + c];
        }
      }
      out[a * mk + b] = sum;
    }
  }
  return out;
}

/** Kymatio's subsample_fourier: the mean of the k×k folded copies of an m×m spectrum. */
function subsampleFourier(re: Float64Array, im: Float64Array, m: number, k: number, outRe: Float64Array, outIm: Float64Array): void {
  const mk = m / k;
  outRe.fill(0, 0, mk * mk);
  outIm.fill(0, 0, mk * mk);
  for (let r = 0; r < m; r++) {
    const a = r % mk;
    for (let c = 0; c < m; c++) {
      const o = a * mk + (c % mk);
      outRe[o] += re[r * m + c];
      outIm[o] += im[r * m + c];
    }
  }
  const s = 1 / (k * k);
  for (let i = 0; i < mk * mk; i++) {
    outRe[i] *= s;
    outIm[i] *= s;
  }
}

function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

/**
 * The 2-D scattering transform (order 2) with Kymatio's Morlet filters, computed with FFTs in plain
 * TypeScript (no tfjs), one image at a time. Output channels, in Kymatio's order: S0 (low pass),
 * S1 for each (j, θ), S2 for each (j1, θ1, j2 > j1, θ2).
 *
 * @example
 * ```ts
 * import { Scattering2D } from "dpkit/experiments";
 * const scat = new Scattering2D({ size: 28, J: 2, L: 8 });
 * const features = scat.transform(new Float32Array(28 * 28), 1);
 * console.log(scat.channels, scat.outSize, features.length); // 81 7 3969
 * ```
 */
export class Scattering2D {
  /** Input height and width. */
  readonly size: number;
  /** Number of scales. */
  readonly J: number;
  /** Number of angles. */
  readonly L: number;
  /** Output channels: 1 + J·L + L²·J(J−1)/2. */
  readonly channels: number;
  /** Output height and width: ceil(size / 2^J). */
  readonly outSize: number;
  /** Padded grid size (a power of two ≥ size + 2^J). */
  readonly padded: number;
  private readonly psi: { j: number; theta: number; hat: Float64Array }[];
  private readonly phi: Float64Array[];
  private readonly buf: Float64Array[];
  private readonly rowIndex: Int32Array;
  private readonly periodized = new Map<number, Float64Array>();

  constructor(options: Scattering2DOptions = {}) {
    this.size = requireInteger("size", options.size ?? 28, { min: 4, max: 1024 });
    this.J = requireInteger("J", options.J ?? 2, { min: 1, max: 4 });
    this.L = requireInteger("L", options.L ?? 8, { min: 1, max: 16 });
    const { size, J, L } = this;
    let m = 1;
    while (m < size + (1 << J)) m <<= 1;
    this.padded = m;
    this.outSize = Math.ceil(size / (1 << J));
    this.channels = 1 + J * L + (L * L * J * (J - 1)) / 2;
    this.psi = [];
    for (let j = 0; j < J; j++) {
      for (let t = 0; t < L; t++) {
        const theta = ((Math.floor(L - L / 2 - 1) - t) * Math.PI) / L;
        const f = morlet2d(m, 0.8 * 2 ** j, theta, (3 / 4) * (Math.PI / 2 ** j), 4 / L);
        this.psi.push({ j, theta: t, hat: fourierReal(m, f) });
      }
    }
    const phiHat = fourierReal(m, gabor2d(m, 0.8 * 2 ** (J - 1), 0, 0, 1));
    this.phi = [];
    for (let res = 0; res < J; res++) this.phi.push(periodizeFilter(phiHat, m, res));
    this.buf = Array.from({ length: 10 }, () => new Float64Array(m * m));
    this.rowIndex = new Int32Array(m);
    for (let p = 0; p < m; p++) this.rowIndex[p] = reflectIndex(p - (1 << J), size);
  }

  /** The Fourier transform (real part) of the wavelet for scale j and angle index t, on the padded grid. */
  waveletHat(j: number, t: number): Float64Array {
    requireInteger("j", j, { min: 0, max: this.J - 1 });
    requireInteger("t", t, { min: 0, max: this.L - 1 });
    return Float64Array.from(this.psi[j * this.L + t].hat);
  }

  /** The Fourier transform (real part) of the low-pass filter φ_J, on the padded grid. */
  lowPassHat(): Float64Array {
    return Float64Array.from(this.phi[0]);
  }

  /**
   * Scattering coefficients of `count` images (row-major `size × size` each, concatenated).
   *
   * @param images - `count · size²` pixel values
   * @param count - number of images
   * @param onProgress - optional callback after every 1,000 images
   * @returns `count × outSize × outSize × channels` (channels last, as tfjs convolutions expect)
   * @throws {@link DpError} `invalid_parameter` when `images` is not `count · size²` long
   */
  transform(images: Float32Array, count: number, onProgress?: (done: number) => void): Float32Array {
    requireInteger("count", count, { min: 0 });
    const { size, channels, outSize } = this;
    if (images.length !== count * size * size) {
      throw new DpError(
        "invalid_parameter",
        `\`images\` must hold count × size² = ${count * size * size} values. Found ${images.length}.`,
        "images",
      );
    }
    const out = new Float32Array(count * outSize * outSize * channels);
    for (let n = 0; n < count; n++) {
      this.one(images, n * size * size, out, n * outSize * outSize * channels);
      if (onProgress && (n + 1) % 1000 === 0) onProgress(n + 1);
    }
    return out;
  }

  /** Writes the low-pass output of the spectrum (re, im) of size m, subsampled to the output grid, into channel ch. */
  private lowPass(re: Float64Array, im: Float64Array, m: number, res: number, out: Float32Array, base: number, ch: number): void {
    const [, , , , , , pr, pi, sr, si] = this.buf;
    const phi = this.phi[res];
    for (let i = 0; i < m * m; i++) {
      pr[i] = re[i] * phi[i];
      pi[i] = im[i] * phi[i];
    }
    const k = m / (this.padded >> this.J);
    const mo = m / k;
    subsampleFourier(pr, pi, m, k, sr, si);
    fft2dInPlace(sr, si, mo, true);
    const { outSize, channels } = this;
    for (let a = 0; a < outSize; a++) {
      for (let b = 0; b < outSize; b++) out[base + (a * outSize + b) * channels + ch] = sr[(a + 1) * mo + (b + 1)];
    }
  }

  private one(images: Float32Array, offset: number, out: Float32Array, base: number): void {
    const { size, padded: m, J, L } = this;
    const [xr, xi, ur, ui, vr, vi] = this.buf;
    for (let p = 0; p < m; p++) {
      const r = this.rowIndex[p];
      for (let q = 0; q < m; q++) {
        xr[p * m + q] = images[offset + r * size + this.rowIndex[q]];
        xi[p * m + q] = 0;
      }
    }
    fft2dInPlace(xr, xi, m);
    this.lowPass(xr, xi, m, 0, out, base, 0);
    const second: { j: number; hat: Float64Array }[] = this.psi;
    let ch2 = 1 + J * L;
    for (let n1 = 0; n1 < this.psi.length; n1++) {
      const { j: j1, hat } = this.psi[n1];
      // U1 = |x ⋆ ψ_{j1}| at resolution m / 2^j1, then its spectrum in (ur, ui)
      for (let i = 0; i < m * m; i++) {
        vr[i] = xr[i] * hat[i];
        vi[i] = xi[i] * hat[i];
      }
      let m1 = m;
      if (j1 > 0) {
        subsampleFourier(vr, vi, m, 1 << j1, ur, ui);
        m1 = m >> j1;
      } else {
        ur.set(vr);
        ui.set(vi);
      }
      fft2dInPlace(ur, ui, m1, true);
      for (let i = 0; i < m1 * m1; i++) {
        ur[i] = Math.sqrt(ur[i] * ur[i] + ui[i] * ui[i]);
        ui[i] = 0;
      }
      fft2dInPlace(ur, ui, m1);
      this.lowPass(ur, ui, m1, j1, out, base, 1 + n1);
      for (let n2 = 0; n2 < second.length; n2++) {
        const { j: j2, hat: hat2 } = second[n2];
        if (j2 <= j1) continue;
        // psi level j1 (Kymatio: periodised to the resolution of U1)
        const h2 = j1 === 0 ? hat2 : this.waveletAt(n2, j1);
        for (let i = 0; i < m1 * m1; i++) {
          vr[i] = ur[i] * h2[i];
          vi[i] = ui[i] * h2[i];
        }
        const k = 1 << (j2 - j1);
        const m2 = m1 / k;
        const wr = this.buf[8];
        const wi = this.buf[9];
        subsampleFourier(vr, vi, m1, k, wr, wi);
        fft2dInPlace(wr, wi, m2, true);
        for (let i = 0; i < m2 * m2; i++) {
          wr[i] = Math.sqrt(wr[i] * wr[i] + wi[i] * wi[i]);
          wi[i] = 0;
        }
        fft2dInPlace(wr, wi, m2);
        // lowPass uses buf[6..9] as scratch: copy (wr, wi) out of 8/9 first
        vr.set(wr.subarray(0, m2 * m2));
        vi.set(wi.subarray(0, m2 * m2));
        this.lowPass(vr, vi, m2, j2, out, base, ch2++);
      }
    }
  }

  /** ψ number n2 periodised to resolution `res` (Kymatio's filter levels; only needed for J ≥ 3), cached. */
  private waveletAt(n2: number, res: number): Float64Array {
    const key = n2 * 16 + res;
    let v = this.periodized.get(key);
    if (!v) {
      v = periodizeFilter(this.psi[n2].hat, this.padded, res);
      this.periodized.set(key, v);
    }
    return v;
  }
}

/**
 * Normalises each example's features on its own, as PyTorch's `GroupNorm(groups, channels,
 * affine=False)`: for every example and every group of `channels / groups` consecutive channels,
 * subtract the mean and divide by √(variance + eps) over the group's channels and positions. No
 * statistic is shared across examples, so this spends no privacy. Works in place.
 *
 * @param features - `count × positions × channels` (channels last), modified in place
 * @param count - number of examples
 * @param channels - channels per position
 * @param groups - number of groups; must divide `channels`
 * @param eps - added to the variance (default 1e-5, as PyTorch)
 * @returns `features`
 * @throws {@link DpError} `invalid_parameter` when `groups` does not divide `channels` or the length is not `count` whole examples
 * @example
 * ```ts
 * import { groupNormalize } from "dpkit/experiments";
 * // one example, 2 positions × 2 channels, one group
 * const f = groupNormalize(Float32Array.from([1, 2, 3, 6]), 1, 2, 1);
 * console.log(Array.from(f, (v) => v.toFixed(2)).join(" ")); // -1.07 -0.53 0.00 1.60
 * ```
 */
export function groupNormalize(features: Float32Array, count: number, channels: number, groups: number, eps = 1e-5): Float32Array {
  requireInteger("count", count, { min: 0 });
  requireInteger("channels", channels, { min: 1 });
  requireInteger("groups", groups, { min: 1 });
  if (channels % groups !== 0)
    throw new DpError("invalid_parameter", `\`groups\` must divide \`channels\` ${channels}. Found ${groups}.`, "groups");
  if (count === 0 ? features.length !== 0 : features.length % (count * channels) !== 0)
    throw new DpError(
      "invalid_parameter",
      `\`features\` must hold \`count\` × positions × ${channels} values. Found ${features.length}.`,
      "features",
    );
  if (count === 0) return features;
  const per = features.length / count;
  const positions = per / channels;
  const width = channels / groups;
  const n = positions * width;
  for (let e = 0; e < count; e++) {
    const base = e * per;
    for (let g = 0; g < groups; g++) {
      let sum = 0;
      let sq = 0;
      for (let p = 0; p < positions; p++) {
        const o = base + p * channels + g * width;
        for (let c = 0; c < width; c++) {
          const v = features[o + c];
          sum += v;
          sq += v * v;
        }
      }
      const mean = sum / n;
      const inv = 1 / Math.sqrt(Math.max(sq / n - mean * mean, 0) + eps);
      for (let p = 0; p < positions; p++) {
        const o = base + p * channels + g * width;
        for (let c = 0; c < width; c++) features[o + c] = (features[o + c] - mean) * inv;
      }
    }
  }
  return features;
}

/** Models trained on scattering features (Tramèr & Boneh's ScatterNet+linear and ScatterNet+CNN heads). */
export type ScatterHeadKind = "linear" | "cnn";

/**
 * A fresh, uncompiled classifier on `outSize × outSize × channels` scattering features.
 *
 * @remarks
 * - `"linear"`: flatten, dense 10 (softmax): 39,700 parameters for 7×7×81.
 * - `"cnn"`: Tramèr & Boneh's MNIST ScatterNet+CNN: conv 16 3×3 stride 2 tanh, conv 32 3×3 tanh,
 *   dense 32 tanh, dense 10 (softmax); 33,066 parameters for 7×7×81. tfjs's `"same"` padding
 *   gives their 4×4 maps (PyTorch padding 1).
 *
 * @param kind - which head
 * @param channels - feature channels (81 for J = 2, L = 8)
 * @param outSize - feature height and width (7 for 28×28, J = 2)
 * @returns an uncompiled `tf.Sequential`
 * @throws {@link DpError} `invalid_parameter` for an unknown kind
 * @example
 * ```ts
 * import { scatterHeadModel } from "dpkit/experiments";
 * console.log(scatterHeadModel("linear").countParams()); // 39700
 * ```
 */
export function scatterHeadModel(kind: ScatterHeadKind, channels = 81, outSize = 7): tf.Sequential {
  requireOneOf("kind", kind, ["linear", "cnn"] as const);
  const inputShape = [outSize, outSize, channels];
  if (kind === "linear") {
    return tf.sequential({ layers: [tf.layers.flatten({ inputShape }), tf.layers.dense({ units: 10, activation: "softmax" })] });
  }
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape, filters: 16, kernelSize: 3, strides: 2, padding: "same", activation: "tanh" }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 1, padding: "same", activation: "tanh" }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, activation: "tanh" }),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
}

/** Options of {@link mnistScatterFeatures}. */
export interface MnistScatterFeaturesOptions {
  /** Which split. */
  split: "train" | "test";
  /** Number of images from the start of the split (default: all). */
  count?: number;
  /** Scattering options (default J = 2, L = 8 on 28×28). */
  scattering?: Scattering2DOptions;
  /** Directory for a cache of the raw (unnormalised) features; read if present, written if not. */
  cacheDir?: string;
  /** Called after every 1,000 images computed. */
  onProgress?: (done: number) => void;
}

/**
 * Scattering features of MNIST images (raw, not normalised), with their labels. The transform is
 * fixed, so the features of the whole split can be computed once and cached.
 *
 * @returns `{ features, labels, count, channels, outSize }`; `features` is `count × outSize² × channels`
 * @example
 * ```ts
 * import { mnistScatterFeatures } from "dpkit/experiments";
 * const { features, channels } = mnistScatterFeatures({ split: "test", count: 10 });
 * console.log(channels, features.length); // 81 39690
 * ```
 */
export function mnistScatterFeatures(options: MnistScatterFeaturesOptions): {
  features: Float32Array;
  labels: Uint8Array;
  count: number;
  channels: number;
  outSize: number;
} {
  const data = loadMnist({ split: options.split, count: options.count });
  const scat = new Scattering2D({ size: 28, ...options.scattering });
  const per = scat.outSize * scat.outSize * scat.channels;
  let features: Float32Array | undefined;
  let file: string | undefined;
  if (options.cacheDir !== undefined) {
    file = path.join(options.cacheDir, `mnist-${options.split}-${data.count}-J${scat.J}-L${scat.L}.f32`);
    if (existsSync(file)) {
      const buf = readFileSync(file);
      if (buf.byteLength === data.count * per * 4) features = new Float32Array(buf.buffer, buf.byteOffset, data.count * per);
    }
  }
  if (!features) {
    features = scat.transform(data.images, data.count, options.onProgress);
    if (file !== undefined) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(`${file}.tmp`, Buffer.from(features.buffer, features.byteOffset, features.byteLength));
      renameSync(`${file}.tmp`, file);
    }
  }
  return { features: Float32Array.from(features), labels: data.labels, count: data.count, channels: scat.channels, outSize: scat.outSize };
}
