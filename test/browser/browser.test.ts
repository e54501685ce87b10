import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { DEFAULT_RAPPOR_PARAMS, rapporBloomFilter, rapporPermanentResponse } from "../../src/ldp/index.js";
import { projectRoot } from "../helpers/cli.js";

// A real page in a real browser (Debian's chromium, installed by .ci/run): dpkit's local-DP
// client and secure samplers run in the page, with the browser's crypto.getRandomValues, and
// produce reports that match the Node implementation bit for bit.
const CHROMIUM = process.env.DPKIT_CHROMIUM ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install Debian's chromium`);

describe.skipIf(!haveChromium)("dpkit in a browser page (chromium)", () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [path.join(projectRoot, "test/browser/entry.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      // No `external`s: the SQLite stores load better-sqlite3 lazily (test/browser/bundle.test.ts).
      logLevel: "silent",
    });
    const js = bundle.outputFiles[0].text;
    const html = `<!doctype html><meta charset="utf-8"><title>dpkit</title><script type="module" src="/dpkit.js"></script><p id="ok">dpkit page</p>`;
    server = createServer((req, res) => {
      if (req.url === "/dpkit.js") res.writeHead(200, { "content-type": "text/javascript" }).end(js);
      else res.writeHead(200, { "content-type": "text/html" }).end(html);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage();
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => "dpkitTest" in globalThis, undefined, { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  const values = ["https://www.example.com/", "about:blank", "ünïcödé", "", "v".repeat(200)];
  const secret = "browser-test-secret";

  it("computes the same Bloom filters and PRRs as Node", async () => {
    const inPage = await page.evaluate(([v, s]) => (globalThis as any).dpkitTest.hashes(v, s), [values, secret] as const);
    const p = DEFAULT_RAPPOR_PARAMS;
    const inNode = values.map((v, i) => {
      const bloom = rapporBloomFilter(v, i % p.numCohorts, p.numHashes, p.numBits);
      return { bloom, prr: rapporPermanentResponse(secret, bloom, p.probPrr, p.numBits) };
    });
    expect(inPage).toEqual(inNode);
    expect(errors).toEqual([]);
  });

  it("encodes reports whose memoised PRR matches Node's and whose IRR differs only by fresh noise", async () => {
    const reports = await page.evaluate(([v, s]) => (globalThis as any).dpkitTest.encode(v, s, 7), [values, secret] as const);
    const p = DEFAULT_RAPPOR_PARAMS;
    reports.forEach((r: { cohort: number; bloom: number; prr: number; irr: number }, i: number) => {
      expect(r.cohort).toBe(7);
      const bloom = rapporBloomFilter(values[i], 7, p.numHashes, p.numBits);
      expect(r.bloom).toBe(bloom);
      expect(r.prr).toBe(rapporPermanentResponse(secret, bloom, p.probPrr, p.numBits));
      expect(r.irr >>> 0).toBeLessThan(2 ** p.numBits);
    });
  });

  it("draws exact discrete noise from the browser's CSPRNG with the right moments", async () => {
    const n = 20_000;
    const out = await page.evaluate((k) => (globalThis as any).dpkitTest.samples(k), n);
    expect(out.secure).toBe(true);
    expect(out.zigguratWasm).toBe(true); // the ziggurat's WebAssembly loop runs in the page (issue 16)
    const moments = (xs: number[]) => {
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      return { mean: m, variance: xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length };
    };
    const g = moments(out.g);
    const l = moments(out.l);
    // Discrete Gaussian sigma=3: variance within 1e-8 of 9; discrete Laplace scale 2: 2e^{-1/2}/(1-e^{-1/2})^2.
    const lapVar = (2 * Math.exp(-0.5)) / (1 - Math.exp(-0.5)) ** 2;
    expect(Math.abs(g.mean)).toBeLessThan(6 * Math.sqrt(9 / n));
    expect(Math.abs(g.variance - 9) / 9).toBeLessThan(0.06);
    expect(Math.abs(l.mean)).toBeLessThan(6 * Math.sqrt(lapVar / n));
    expect(Math.abs(l.variance - lapVar) / lapVar).toBeLessThan(0.1);
    expect(out.g.every((x: number) => Number.isInteger(x))).toBe(true);
    // k-RR with epsilon 1, k 4: the true answer 2 is kept with probability e/(e+3).
    const keep = out.reports.filter((r: number) => r === 2).length / out.reports.length;
    expect(Math.abs(keep - Math.E / (Math.E + 3))).toBeLessThan(6 * Math.sqrt(0.25 / out.reports.length));
  });
});
