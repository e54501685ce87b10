import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DpError } from "../../../src/errors.js";
import { readExamples, type ExampleStore, type ExampleStoreOptions } from "../../../src/federated/client/example-store.js";
import { openMemoryExampleStore } from "../../../src/federated/client/memory-example-store.js";
import { openSqliteExampleStore } from "../../../src/federated/client/sqlite-example-store.js";

// The same specification for every example store: SQLite on a real file and the in-memory
// store here; IndexedDB runs the same checks in chromium (test/browser/fl-browser.test.ts).
const dir = mkdtempSync(path.join(tmpdir(), "dpkit-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function all(store: ExampleStore, selector?: Parameters<ExampleStore["examples"]>[0]) {
  const out: { label: number; f0: number }[] = [];
  for await (const e of store.examples(selector)) out.push({ label: e.label, f0: e.features[0] });
  return out;
}

const kinds: [string, (o: ExampleStoreOptions) => Promise<ExampleStore>][] = [
  ["SQLite", (o) => openSqliteExampleStore({ ...o, file: path.join(dir, `s${n++}.db`) })],
  ["memory", async (o) => openMemoryExampleStore(o)],
];

describe.each(kinds)("%s example store", (_name, open) => {
  it("adds, counts and iterates in insertion order with a label selector; limit takes the newest", async () => {
    const store = await open({ featureLength: 3 });
    for (let i = 0; i < 1200; i++) await store.add([i, 0, 1], i % 3);
    expect(await store.count()).toBe(1200);
    expect(await store.count({ labels: [1] })).toBe(400);
    const ones = await all(store, { labels: [1] });
    expect(ones).toHaveLength(400); // crosses the 512-row page boundary
    expect(ones.every((e) => e.label === 1)).toBe(true);
    expect(ones.map((e) => e.f0)).toEqual(Array.from({ length: 400 }, (_, k) => 3 * k + 1));
    expect((await all(store, { limit: 2 })).map((e) => e.f0)).toEqual([1199, 1198]);
    expect(await store.count({ limit: 5 })).toBe(5);
    expect(await store.count({ labels: [] })).toBe(0);
    const ds = await readExamples(store, { labels: [2], limit: 10 });
    expect(ds.count).toBe(10);
    expect(ds.x.length).toBe(30);
    await store.close();
  });

  it("expires examples after the time-to-live and honours maxAgeMs", async () => {
    let now = 1_000_000;
    const store = await open({ featureLength: 1, timeToLiveMs: 1000, now: () => now });
    await store.add([1], 0);
    now += 600;
    await store.add([2], 0);
    expect(await store.count({ maxAgeMs: 500 })).toBe(1);
    now += 500; // the first is 1100 ms old: expired, not returned even before expire() deletes it
    expect((await all(store)).map((e) => e.f0)).toEqual([2]);
    expect(await store.expire()).toBe(1);
    expect(await store.count()).toBe(1);
    await store.close();
  });

  it("keeps at most maxExamples, dropping the oldest", async () => {
    const store = await open({ featureLength: 1, maxExamples: 5 });
    for (let i = 0; i < 8; i++) await store.add([i], 0);
    expect((await all(store)).map((e) => e.f0)).toEqual([3, 4, 5, 6, 7]);
    await store.addMany(Array.from({ length: 20 }, (_, i) => ({ features: [100 + i], label: 1 })));
    expect((await all(store)).map((e) => e.f0)).toEqual([115, 116, 117, 118, 119]);
    await store.close();
  });

  it("refuses bad examples and selectors with DpError, writing nothing", async () => {
    const store = await open({ featureLength: 2 });
    await expect(store.add([1], 0)).rejects.toThrow(/`features` must have length 2/);
    await expect(store.add([1, NaN], 0)).rejects.toThrow(/finite/);
    await expect(store.add([1, 2], -1)).rejects.toThrow(/`label`/);
    await expect(
      store.addMany([
        { features: [1, 2], label: 0 },
        { features: [1], label: 0 },
      ]),
    ).rejects.toThrow(DpError);
    await expect(store.count({ maxAgeMs: -1 })).rejects.toThrow(/maxAgeMs/);
    expect(await store.count()).toBe(0); // nothing half-written
    await store.close();
    await expect(store.count()).rejects.toThrow(/closed/);
    await expect(open({ featureLength: 0 })).rejects.toThrow(/featureLength/);
  });
});

describe("SQLite example store on a file", () => {
  it("persists across reopening, expires on reopen, and refuses a file of another width", async () => {
    let now = 1_000_000;
    const file = path.join(dir, "persist.db");
    const a = await openSqliteExampleStore({ file, featureLength: 2, timeToLiveMs: 1000, now: () => now });
    await a.add([1, 2], 3);
    await a.close();
    const b = await openSqliteExampleStore({ file, featureLength: 2, timeToLiveMs: 1000, now: () => now });
    expect(await b.count()).toBe(1);
    await b.close();
    now += 5000;
    const c = await openSqliteExampleStore({ file, featureLength: 2, timeToLiveMs: 1000, now: () => now });
    expect(await c.count()).toBe(0);
    await c.close();
    await expect(openSqliteExampleStore({ file, featureLength: 3 })).rejects.toThrow(/length 2, not 3/);
  });
});
