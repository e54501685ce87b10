import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DpError, SeededRng } from "../../../src/index.js";
import {
  DEFAULT_RAPPOR_PARAMS,
  createRapporEncoder,
  effectiveProbPrr,
  memoryRapporStore,
  openRapporSqliteStore,
  rapporBitProbabilities,
  rapporBloomFilter,
  rapporEvents,
  rapporPermanentEpsilon,
  rapporPermanentResponse,
  rapporReportEpsilon,
  validateRapporParams,
  type RapporParams,
} from "../../../src/ldp/index.js";

const P: RapporParams = { ...DEFAULT_RAPPOR_PARAMS };

describe("RAPPOR parameters and privacy", () => {
  it("computes the permanent and one-report epsilons of the paper", () => {
    // f = 1/2: (1 - f/2)/(f/2) = 3, so epsilon_inf = 2 h ln 3.
    expect(rapporPermanentEpsilon(P)).toBeCloseTo(4 * Math.log(3), 14);
    const { trueOne, trueZero } = rapporBitProbabilities(P);
    expect(trueOne).toBe(0.6875);
    expect(trueZero).toBe(0.5625);
    expect(rapporReportEpsilon(P)).toBeCloseTo(2 * Math.log((0.6875 * 0.4375) / (0.5625 * 0.3125)), 14);
    // One-time RAPPOR (p = 0, q = 1): one report is the PRR.
    expect(rapporReportEpsilon({ ...P, probIrr0: 0, probIrr1: 1 })).toBeCloseTo(rapporPermanentEpsilon(P), 12);
    expect(rapporPermanentEpsilon({ ...P, probPrr: 1 })).toBe(0);
    expect(rapporPermanentEpsilon({ ...P, probPrr: 0 })).toBe(Infinity);
    expect(rapporEvents({ ...P, probPrr: 0 }).permanent).toEqual({ kind: "nonPrivate" });
    expect(rapporEvents(P).permanent).toEqual({ kind: "epsilonDelta", epsilon: rapporPermanentEpsilon(P), delta: 0 });
    expect(effectiveProbPrr(0.3)).toBe(39 / 128);
    expect(effectiveProbPrr(0.5)).toBe(0.5);
  });

  it("rejects inconsistent settings, naming the field", () => {
    const bad: [Partial<RapporParams>, RegExp][] = [
      [{ numHashes: 5, numBits: 4 }, /`numHashes` must be <= `numBits`/],
      [{ numBits: 33 }, /`numBits`/],
      [{ numBits: 0 }, /`numBits`/],
      [{ numHashes: 17, numBits: 32 }, /`numHashes`/],
      [{ probIrr0: 0.75, probIrr1: 0.75 }, /`probIrr0` \(p\) must be < `probIrr1` \(q\)/],
      [{ probIrr0: 0.8, probIrr1: 0.2 }, /`probIrr0`/],
      [{ probPrr: 1.5 }, /`probPrr` must be in \[0, 1\]/],
      [{ probPrr: -0.1 }, /`probPrr`/],
      [{ probPrr: NaN }, /`probPrr`/],
      [{ numCohorts: 0 }, /`numCohorts`/],
      [{ numCohorts: 2.5 }, /`numCohorts`/],
    ];
    for (const [patch, re] of bad) {
      expect(() => validateRapporParams({ ...P, ...patch })).toThrow(re);
      expect(() => validateRapporParams({ ...P, ...patch })).toThrow(DpError);
    }
  });
});

describe("RAPPOR encoder", () => {
  it("reproduces the reference client's PRR for a given secret and cohort", () => {
    const client = createRapporEncoder({ params: P, secret: "secret", cohort: 0, rng: new SeededRng(1), allowInsecureRng: true });
    const r = client.encodeDetailed("abc");
    expect(r.cohort).toBe(0);
    expect(r.bloom).toBe(rapporBloomFilter("abc", 0, 2, 16));
    expect(r.prr).toBe(rapporPermanentResponse("secret", r.bloom, 0.5, 16));
    // The PRR is the same in every report; the IRR varies.
    const irrs = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const d = client.encodeDetailed("abc");
      expect(d.prr).toBe(r.prr);
      irrs.add(d.irr);
    }
    expect(irrs.size).toBeGreaterThan(5);
  });

  it("one-time RAPPOR reports the PRR itself; basic RAPPOR sets one bit", () => {
    const oneTime = createRapporEncoder({ params: P, secret: "k", cohort: 3, instantaneous: false, allowInsecureRng: true });
    const d = oneTime.encodeDetailed("x");
    expect(d.irr).toBe(d.prr);
    expect(oneTime.reportEpsilon).toBe(oneTime.permanentEpsilon);
    const basic = createRapporEncoder({
      params: { ...P, numHashes: 1 },
      basic: true,
      secret: "k",
      cohort: 0,
      instantaneous: false,
      allowInsecureRng: true,
    });
    expect(basic.encodeDetailed(5).bloom).toBe(32);
    expect(() => basic.encode(16)).toThrow(/`value`/);
    expect(() => createRapporEncoder({ params: P, basic: true })).toThrow(/numHashes/);
    expect(() => createRapporEncoder({ params: P, cohort: 64 })).toThrow(/`cohort`/);
  });

  it("draws a 32-byte secret and a cohort once and keeps them in the store", () => {
    const store = memoryRapporStore();
    const a = createRapporEncoder({ params: P, store });
    const secret = store.getSecret();
    expect(secret?.length).toBe(32);
    expect(store.getCohort()).toBe(a.cohort);
    const prr = a.encodeDetailed("v").prr;
    const b = createRapporEncoder({ params: P, store });
    expect(b.cohort).toBe(a.cohort);
    expect(b.encodeDetailed("v").prr).toBe(prr);
    expect(Array.from(store.getSecret()!)).toEqual(Array.from(secret!));
  });

  it("refuses a stored cohort made with other parameters", () => {
    const store = memoryRapporStore();
    store.setCohort(100);
    expect(() => createRapporEncoder({ params: P, store })).toThrow(/store's cohort/);
  });
});

describe("SQLite store", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dpkit-rappor-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("persists the secret, cohort and memoised PRRs in a real database file", async () => {
    const file = path.join(dir, "client.db");
    const s1 = await openRapporSqliteStore({ file });
    const c1 = createRapporEncoder({ params: P, store: s1 });
    const first = c1.encodeDetailed("https://example.com/");
    const secret = s1.getSecret();
    s1.close();
    const s2 = await openRapporSqliteStore({ file });
    expect(Array.from(s2.getSecret()!)).toEqual(Array.from(secret!));
    expect(s2.getCohort()).toBe(c1.cohort);
    const c2 = createRapporEncoder({ params: P, store: s2 });
    expect(c2.cohort).toBe(c1.cohort);
    expect(c2.encodeDetailed("https://example.com/").prr).toBe(first.prr);
    s2.setPrr("probe", 12345);
    expect(s2.getPrr("probe")).toBe(12345);
    expect(s2.getPrr("missing")).toBeUndefined();
    s2.close();
    await expect(openRapporSqliteStore({ file, namespace: "bad name" })).rejects.toThrow(/`namespace`/);
    await expect(openRapporSqliteStore({ file: path.join(dir, "no", "such", "dir.db") })).rejects.toThrow(DpError);
  });
});

describe("client secrets (issue 12, defect 1: a guessable secret voids the PRR's epsilon)", () => {
  it("refuses an empty or short secret, naming the minimum", () => {
    for (const secret of ["", "k", "fifteen bytes!!", new Uint8Array(15)]) {
      expect(() => createRapporEncoder({ params: P, secret, cohort: 3 })).toThrow(/`secret` must be at least 16 bytes/);
    }
    // control: 16 bytes are accepted
    expect(createRapporEncoder({ params: P, secret: new Uint8Array(16).fill(9), cohort: 3 }).secure).toBe(true);
  });

  it("accepts a short secret only as an explicit, insecure simulation, and says so", () => {
    const c = createRapporEncoder({ params: P, secret: "", cohort: 3, allowInsecureRng: true });
    expect(c.secure).toBe(false);
  });

  it("refuses a seeded rng without the opt-in; with it, the encoder reports secure: false", () => {
    expect(() => createRapporEncoder({ params: P, rng: new SeededRng(1) })).toThrow(/allowInsecureRng/);
    expect(createRapporEncoder({ params: P, rng: new SeededRng(1), allowInsecureRng: true }).secure).toBe(false);
    expect(createRapporEncoder({ params: P }).secure).toBe(true);
  });

  it("never persists a seeded secret: a later secure client in the same store draws its own", () => {
    const store = memoryRapporStore();
    const seeded = createRapporEncoder({ params: P, store, rng: new SeededRng(5), allowInsecureRng: true });
    seeded.encode("v");
    expect(store.getSecret()).toBeUndefined();
    expect(store.getCohort()).toBeUndefined();
    const again = createRapporEncoder({ params: P, store, rng: new SeededRng(5), allowInsecureRng: true });
    expect(again.encodeDetailed("v").prr).toBe(seeded.encodeDetailed("v").prr); // reproducible, but in memory only
    const secure = createRapporEncoder({ params: P, store });
    expect(secure.secure).toBe(true);
    expect(store.getSecret()!.length).toBe(32);
  });

  it("refuses a short secret found in a store (written by an older version)", () => {
    const store = memoryRapporStore();
    store.setSecret(new Uint8Array(0));
    expect(() => createRapporEncoder({ params: P, store })).toThrow(/store's secret is 0 bytes/);
  });
});

describe("SQLite store: a file that is not a database (issue 12, defect 11 sibling)", () => {
  it("is an io_error naming the file, not a raw SqliteError", async () => {
    const dir2 = mkdtempSync(path.join(tmpdir(), "dpkit-rappor-bad-"));
    const file = path.join(dir2, "notes.txt");
    writeFileSync(file, "plain text, not SQLite ".repeat(50));
    try {
      await expect(openRapporSqliteStore({ file })).rejects.toMatchObject({ code: "io_error", argument: "file" });
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
