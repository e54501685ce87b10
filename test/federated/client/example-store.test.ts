import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DpError } from "../../../src/errors.js";
import { readExamples, type ExampleStore } from "../../../src/federated/client/example-store.js";
import { openSqliteExampleStore } from "../../../src/federated/client/sqlite-example-store.js";

// The SQLite example store on a real file. The IndexedDB store runs the same checks in chromium
// (test/browser/fl-browser.test.ts).
const dir = mkdtempSync(path.join(tmpdir(), "dpkit-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function all(store: ExampleStore, selector?: Parameters<ExampleStore["examples"]>[0]) {
  const out: { label: number; f0: number }[] = [];
  for await (const e of store.examples(selector)) out.push({ label: e.label, f0: e.features[0] });
  return out;
}

describe("SQLite example store", () => {
  it("adds, counts and iterates in insertion order with a label selector", async () => {
    const store = await openSqliteExampleStore({ file: path.join(dir, "a.db"), featureLength: 3 });
    for (let i = 0; i < 1200; i++) await store.add([i, 0, 1], i % 3);
    expect(await store.count()).toBe(1200);
    expect(await store.count({ labels: [1] })).toBe(400);
    const ones = await all(store, { labels: [1] });
    expect(ones).toHaveLength(400); // crosses the 512-row page boundary
    expect(ones.every((e) => e.label === 1)).toBe(true);
    expect(ones.map((e) => e.f0)).toEqual(Array.from({ length: 400 }, (_, k) => 3 * k + 1));
    // limit takes the newest
    expect((await all(store, { limit: 2 })).map((e) => e.f0)).toEqual([1199, 1198]);
    expect(await store.count({ limit: 5 })).toBe(5);
    const ds = await readExamples(store, { labels: [2], limit: 10 });
    expect(ds.count).toBe(10);
    expect(ds.x.length).toBe(30);
    await store.close();
  });

  it("expires examples after the time-to-live and honours maxAgeMs", async () => {
    let now = 1_000_000;
    const file = path.join(dir, "ttl.db");
    const store = await openSqliteExampleStore({ file, featureLength: 1, timeToLiveMs: 1000, now: () => now });
    await store.add([1], 0);
    now += 600;
    await store.add([2], 0);
    expect(await store.count({ maxAgeMs: 500 })).toBe(1);
    now += 500; // the first is 1100 ms old: expired, not returned even before expire() deletes it
    expect((await all(store)).map((e) => e.f0)).toEqual([2]);
    expect(await store.expire()).toBe(1);
    expect(await store.count()).toBe(1);
    await store.close();
    // Expiry also applies on reopen.
    now += 5000;
    const again = await openSqliteExampleStore({ file, featureLength: 1, timeToLiveMs: 1000, now: () => now });
    expect(await again.count()).toBe(0);
    await again.close();
  });

  it("keeps at most maxExamples, dropping the oldest", async () => {
    const store = await openSqliteExampleStore({ file: ":memory:", featureLength: 1, maxExamples: 5 });
    for (let i = 0; i < 8; i++) await store.add([i], 0);
    expect((await all(store)).map((e) => e.f0)).toEqual([3, 4, 5, 6, 7]);
    await store.addMany(Array.from({ length: 20 }, (_, i) => ({ features: [100 + i], label: 1 })));
    expect((await all(store)).map((e) => e.f0)).toEqual([115, 116, 117, 118, 119]);
    await store.close();
  });

  it("refuses bad examples, selectors and a file of another width with DpError", async () => {
    const file = path.join(dir, "w.db");
    const store = await openSqliteExampleStore({ file, featureLength: 2 });
    await expect(store.add([1], 0)).rejects.toThrow(/`features` must have length 2/);
    await expect(store.add([1, NaN], 0)).rejects.toThrow(/finite/);
    await expect(store.add([1, 2], -1)).rejects.toThrow(/`label`/);
    await expect(store.count({ maxAgeMs: -1 })).rejects.toThrow(/maxAgeMs/);
    expect(await store.count()).toBe(0); // nothing half-written
    await store.close();
    await expect(openSqliteExampleStore({ file, featureLength: 3 })).rejects.toThrow(DpError);
    await expect(openSqliteExampleStore({ file: path.join(dir, "x.db"), featureLength: 0 })).rejects.toThrow(/featureLength/);
    await expect(store.count()).rejects.toThrow(/closed/);
  });
});
