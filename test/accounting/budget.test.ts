import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DpError,
  PrivacyBudget,
  RdpAccountant,
  gaussianEvent,
  openSqlitePrivacyBudget,
  poissonSampledEvent,
  randomizedResponseEvent,
  selfComposedEvent,
} from "../../src/index.js";

const dir = mkdtempSync(path.join(tmpdir(), "dpkit-budget-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const step = poissonSampledEvent(0.01, gaussianEvent(1.1));

describe("PrivacyBudget", () => {
  it("spends until the budget is reached, then refuses and spends nothing", () => {
    const b = new PrivacyBudget({ epsilon: 1, delta: 1e-5 });
    let n = 0;
    while (!b.wouldExceed(step, 50)) {
      b.spend(step, 50);
      n += 50;
    }
    const before = b.spent();
    expect(before.epsilon).toBeLessThanOrEqual(1);
    expect(() => b.spend(step, 50)).toThrowError(expect.objectContaining({ code: "budget_exceeded" }));
    expect(b.spent()).toEqual(before);
    expect(b.ledger).toEqual([selfComposedEvent(step, n)]); // the ledger merges repeats
    // matches a plain accountant
    const acc = new RdpAccountant().compose(step, n);
    expect(before.epsilon).toBeCloseTo(acc.getEpsilon(1e-5), 12);
    expect(b.remaining().epsilon).toBeCloseTo(1 - before.epsilon, 12);
  });

  it("refuses unsupported events (never guesses) and bad options", () => {
    const b = new PrivacyBudget({ epsilon: 1, delta: 1e-5 });
    expect(b.wouldExceed(randomizedResponseEvent(0.5, 2))).toBe(true);
    expect(() => b.spend(randomizedResponseEvent(0.5, 2))).toThrowError(expect.objectContaining({ code: "unsupported_event" }));
    expect(() => new PrivacyBudget({ epsilon: 0, delta: 1e-5 })).toThrowError(expect.objectContaining({ argument: "epsilon" }));
    expect(() => new PrivacyBudget({ epsilon: 1, delta: 1 })).toThrowError(expect.objectContaining({ argument: "delta" }));
    expect(() => new PrivacyBudget({ epsilon: 1, delta: 1e-5, accountant: "moments" as never })).toThrowError(
      expect.objectContaining({ argument: "accountant" }),
    );
  });

  it("serialises and restores exactly; a restarted process cannot forget (negative control: a fresh budget would overspend)", () => {
    const b = new PrivacyBudget({ epsilon: 2, delta: 1e-5, accountant: "pld", valueDiscretizationInterval: 1e-3 });
    b.spend(step, 300);
    const saved = JSON.stringify(b);
    const r = PrivacyBudget.fromJSON(saved);
    expect(r.spent()).toEqual(b.spent());
    expect(r.toJSON()).toEqual(b.toJSON());
    const big = poissonSampledEvent(0.01, gaussianEvent(1.1));
    // what the restored budget refuses, a forgetful fresh one would allow
    let k = 50;
    while (!r.wouldExceed(big, k)) k += 50;
    const fresh = new PrivacyBudget({ epsilon: 2, delta: 1e-5, accountant: "pld", valueDiscretizationInterval: 1e-3 });
    expect(fresh.wouldExceed(big, k)).toBe(false);
    expect(() => r.spend(big, k)).toThrowError(DpError);
    expect(() => PrivacyBudget.fromJSON("{}")).toThrowError(expect.objectContaining({ argument: "json" }));
    expect(() => PrivacyBudget.fromJSON("not json")).toThrowError(DpError);
  });

  it("prepareSpend is two-phase and goes stale after another commit", () => {
    const b = new PrivacyBudget({ epsilon: 5, delta: 1e-5 });
    const p1 = b.prepareSpend(gaussianEvent(5));
    const p2 = b.prepareSpend(gaussianEvent(5));
    expect(b.ledger).toEqual([]);
    p1.commit();
    expect(() => p2.commit()).toThrowError(expect.objectContaining({ code: "invalid_state" }));
    expect(b.ledger.length).toBe(1);
  });
});

describe("openSqlitePrivacyBudget (real database file)", () => {
  it("persists spends across reopen and across handles, refuses to change the budget", async () => {
    const file = path.join(dir, "budget.db");
    const a = await openSqlitePrivacyBudget({ file, epsilon: 3, delta: 1e-5 });
    a.spend(step, 100);
    const spentA = a.spent();
    a.close();

    const again = await openSqlitePrivacyBudget({ file, epsilon: 3, delta: 1e-5 });
    expect(again.spent()).toEqual(spentA);
    // a second handle (another process) on the same file sees every spend
    const other = await openSqlitePrivacyBudget({ file, epsilon: 3, delta: 1e-5 });
    other.spend(step, 100);
    expect(again.spent().epsilon).toBeGreaterThan(spentA.epsilon);
    expect(again.spent()).toEqual(other.spent());
    // the last of the budget cannot be spent twice
    let k = 1;
    while (!again.wouldExceed(step, k * 2)) k *= 2;
    again.spend(step, k);
    expect(() => other.spend(step, k * 2)).toThrowError(expect.objectContaining({ code: "budget_exceeded" }));
    other.close();
    again.close();

    await expect(openSqlitePrivacyBudget({ file, epsilon: 4, delta: 1e-5 })).rejects.toMatchObject({ code: "invalid_state" });
    const named = await openSqlitePrivacyBudget({ file, name: "other", epsilon: 2, delta: 1e-5 });
    expect(named.spent().epsilon).toBe(0);
    named.close();
  });
});
