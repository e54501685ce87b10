import { describe, expect, it } from "vitest";
import {
  SHAMIR_PRIME,
  shamirDecodeElement,
  shamirEncodeElement,
  shamirReconstruct,
  shamirReconstructVerified,
  shamirSplit,
} from "../../../src/federated/secagg/index.js";
import { SeededRng } from "../../../src/random/index.js";

describe("Shamir secret sharing over GF(2^521 - 1)", () => {
  const secret = (1n << 255n) + 123456789n;

  it("any t of n shares reconstruct the secret; two different t-subsets agree", () => {
    const shares = shamirSplit({ secret, threshold: 4, holders: [3, 5, 8, 13, 21, 34, 55], rng: new SeededRng(1) });
    expect(shamirReconstruct(shares.slice(0, 4), 4)).toBe(secret);
    expect(shamirReconstruct(shares.slice(3), 4)).toBe(secret);
    expect(shamirReconstruct([shares[6], shares[0], shares[4], shares[2]], 4)).toBe(secret);
    expect(shamirReconstructVerified(shares, 4)).toBe(secret);
  });

  it("t - 1 shares interpolate to something else (control that the threshold matters)", () => {
    const shares = shamirSplit({ secret, threshold: 4, holders: [1, 2, 3, 4, 5], rng: new SeededRng(2) });
    expect(shamirReconstruct(shares.slice(0, 3), 3)).not.toBe(secret);
    expect(() => shamirReconstruct(shares.slice(0, 3), 4)).toThrow(/3 shares cannot reconstruct/);
  });

  it("a tampered share is caught by the subset check; unverified reconstruction silently returns garbage (negative control)", () => {
    const shares = shamirSplit({ secret, threshold: 3, holders: [1, 2, 3, 4], rng: new SeededRng(3) });
    shares[1] = { x: 2, y: (shares[1].y + 1n) % SHAMIR_PRIME };
    expect(shamirReconstruct(shares, 3)).not.toBe(secret);
    expect(() => shamirReconstructVerified(shares, 3)).toThrow(/tampered share/);
    expect(() => shamirReconstructVerified(shares.slice(0, 3), 3, (s) => s === secret)).toThrow(/fails its verification/);
  });

  it("encodes field elements in 66 bytes and refuses non-elements", () => {
    const y = SHAMIR_PRIME - 1n;
    expect(shamirDecodeElement(shamirEncodeElement(y))).toBe(y);
    expect(() => shamirDecodeElement(new Uint8Array(66).fill(255))).toThrow(/not a field element/);
  });

  it("rejects repeated holders and bad thresholds", () => {
    expect(() => shamirSplit({ secret: 1n, threshold: 2, holders: [1, 1] })).toThrow(/distinct/);
    expect(() => shamirSplit({ secret: 1n, threshold: 3, holders: [1, 2] })).toThrow(/threshold/);
    expect(() => shamirSplit({ secret: SHAMIR_PRIME, threshold: 1, holders: [1] })).toThrow(/secret/);
  });
});
