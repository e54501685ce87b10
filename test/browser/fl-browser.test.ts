import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

// The browser federated client in Debian's chromium (playwright-core), against a real
// `dpkit server` process with Node `dpkit client` processes: the pages load their partition into
// IndexedDB, train with tfjs, clip, noise and mask in the page, and their updates are accepted.
const CHROMIUM = process.env.DPKIT_CHROMIUM ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install Debian's chromium`);
const LAUNCH = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const started: ChildProcess[] = [];
function dpkit(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "scripts/dpkit.ts"), ...args], {
    cwd: projectRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  return { child, out: () => out, err: () => err, exited: new Promise((r) => child.once("exit", r)) };
}
async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(!haveChromium)("the browser federated client (chromium)", () => {
  let browser: Browser;
  const dirs: string[] = [];
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH });
  }, 60_000);
  afterAll(async () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await browser?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("keeps examples in IndexedDB with the same selector, TTL and size-bound semantics as the SQLite store", async () => {
    const bundle = await build({
      entryPoints: [path.join(projectRoot, "test/browser/fl-store-entry.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    const js = bundle.outputFiles[0].text;
    const server: Server = createServer((req, res) => {
      if (req.url === "/t.js") res.writeHead(200, { "content-type": "text/javascript" }).end(js);
      else res.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><script type="module" src="/t.js"></script>`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => "dpkitStoreTest" in globalThis, undefined, { timeout: 30_000 });
      const r = await page.evaluate(() => (globalThis as any).dpkitStoreTest.run());
      expect(r.count).toBe(1200);
      expect(r.countLabel1).toBe(400);
      expect(r.onesLength).toBe(400); // across the 512-row pages
      expect(r.onesOk).toBe(true);
      expect(r.newest2).toEqual([1199, 1198]);
      expect(r.badLength).toMatch(/`features` must have length 3/);
      expect(r.persisted).toBe(1200);
      expect(r.wrongWidth).toMatch(/length 3, not 4/);
      expect(r.maxAge).toBe(1);
      expect(r.afterTtl).toEqual([2]);
      expect(r.expired).toBe(1);
      expect(r.bounded).toEqual([3, 4, 5, 6, 7]);
      await page.close();
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 90_000);

  it("two pages join a round with two Node clients under secure aggregation, and their updates are accepted", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dpkit-flb-"));
    dirs.push(dir);
    const server = dpkit([
      "server",
      "--db",
      path.join(dir, "s.db"),
      "--port",
      "0",
      "--rounds",
      "1",
      "--clients-per-round",
      "4",
      "--min-clients",
      "4",
      "--dp",
      "client",
      "--secure-aggregation",
      "--noise-multiplier",
      "1",
      "--clip",
      "1",
      "--test-size",
      "0",
      "--selection-window",
      "120",
      "--round-timeout",
      "120",
      "--json",
    ]);
    const url = await within(
      "server start",
      60_000,
      (async () => {
        for (;;) {
          const m = /listening on (http:\/\/\S+)/.exec(server.err());
          if (m) return m[1];
          if (server.child.exitCode !== null) throw new Error(`server exited: ${server.err()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
    );
    const pages = await Promise.all(
      [2, 3].map(async (i) => {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        await page.goto(`${url}/?partition=${i}/4&maxExamples=100`);
        return { page, errors };
      }),
    );
    const nodes = [0, 1].map((i) =>
      dpkit(["client", "--server", url, "--partition", `${i}/4`, "--max-examples", "100", "--json", "--quiet", "--timeout", "150"]),
    );
    const codes = await within("node clients", 180_000, Promise.all(nodes.map((n) => n.exited)));
    expect(codes, nodes.map((n) => n.err()).join("\n")).toEqual([0, 0]);
    // On a timeout, say what the server was last doing (its request log is on stderr).
    const serverCode = await within("server exit", 30_000, server.exited).catch((e: Error) => {
      throw new Error(`${e.message}; the server's stderr ends:\n${server.err().slice(-4000)}`);
    });
    expect(serverCode).toBe(0);
    const status = JSON.parse(server.out()) as {
      rounds: number;
      history: { accepted: number; clients: { node: number; browser: number } }[];
      clients: { kind: string }[];
    };
    expect(status.rounds).toBe(1);
    expect(status.history[0].accepted).toBe(4);
    expect(status.history[0].clients).toEqual({ node: 2, browser: 2 });
    for (const { page, errors } of pages) {
      const s = await page.evaluate(() => {
        const c = (globalThis as any).dpkitClient;
        return {
          state: c.state,
          examples: c.examples,
          epsilon: c.epsilon,
          shown: document.getElementById("epsilon")?.textContent ?? "",
          rounds:
            c.summary?.rounds ??
            c.events.filter((e: any) => e.state === "complete").map((e: any) => ({ outcome: "complete", round: e.round })),
          states: c.events.map((e: any) => e.state),
        };
      });
      expect(errors).toEqual([]);
      expect(s.examples).toBe(15_000);
      // The page shows the population's epsilon from /status (one round of gaussian(z = 1)).
      expect(s.epsilon).toBeGreaterThan(0);
      expect(s.shown).toMatch(/^\d+\.\d{3} \(δ = 0\.00001\)$|^\d+\.\d{3} \(δ = 1e-5\)$/);
      expect(s.rounds[0]).toMatchObject({ round: 0, outcome: "complete" });
      expect(s.states).toEqual(expect.arrayContaining(["waiting", "training", "uploaded", "complete"]));
      // The page's IndexedDB holds the partition (fetched once).
      const stored = await page.evaluate(async () => {
        const dbs = await indexedDB.databases();
        return dbs.map((d) => d.name);
      });
      expect(stored.some((n) => /^dpkit-mnist-\d-of-4$/.test(n ?? ""))).toBe(true);
    }
    for (const n of nodes) expect(JSON.parse(n.out()).rounds[0].outcome).toBe("complete");
  }, 300_000);
});
