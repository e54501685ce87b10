// Browser bundle for test/browser/fl-browser.test.ts: the IndexedDB example store, driven from the test.
import { openIndexedDbExampleStore } from "../../src/federated/client/indexeddb-example-store.js";

let now = 1_000_000;
const api = {
  async run() {
    const out: Record<string, unknown> = {};
    const all = async (s: Awaited<ReturnType<typeof openIndexedDbExampleStore>>, sel?: Parameters<typeof s.examples>[0]) => {
      const r: number[] = [];
      for await (const e of s.examples(sel)) r.push(e.features[0]);
      return r;
    };
    const a = await openIndexedDbExampleStore({ name: "t-basic", featureLength: 3 });
    await a.addMany(Array.from({ length: 1200 }, (_, i) => ({ features: [i, 0, 1], label: i % 3 })));
    out.count = await a.count();
    out.countLabel1 = await a.count({ labels: [1] });
    const ones = await all(a, { labels: [1] });
    out.onesLength = ones.length;
    out.onesOk = ones.every((v, k) => v === 3 * k + 1);
    out.newest2 = await all(a, { limit: 2 });
    try {
      await a.add([1], 0);
    } catch (e) {
      out.badLength = (e as Error).message;
    }
    await a.close();
    const reopened = await openIndexedDbExampleStore({ name: "t-basic", featureLength: 3 });
    out.persisted = await reopened.count();
    await reopened.close();
    try {
      await openIndexedDbExampleStore({ name: "t-basic", featureLength: 4 });
    } catch (e) {
      out.wrongWidth = (e as Error).message;
    }
    const t = await openIndexedDbExampleStore({ name: "t-ttl", featureLength: 1, timeToLiveMs: 1000, now: () => now });
    await t.add([1], 0);
    now += 600;
    await t.add([2], 0);
    out.maxAge = await t.count({ maxAgeMs: 500 });
    now += 500;
    out.afterTtl = await all(t);
    out.expired = await t.expire();
    await t.close();
    const b = await openIndexedDbExampleStore({ name: "t-bound", featureLength: 1, maxExamples: 5 });
    for (let i = 0; i < 8; i++) await b.add([i], 0);
    out.bounded = await all(b);
    await b.close();
    return out;
  },
};
(globalThis as unknown as { dpkitStoreTest: typeof api }).dpkitStoreTest = api;
