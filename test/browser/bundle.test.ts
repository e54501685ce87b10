// A plain browser bundle of any tfjs-free entry point builds with no flags — no `external`, no
// plugins — and runs in a real page. Bundled as a user's bundler sees dpkit: through the
// package's `exports` (dist/, rebuilt first if src/ changed), not through tsconfig paths.
// What broke it: better-sqlite3 (imported by the SQLite stores) and random-js's
// `require("crypto")`; the stores now load better-sqlite3 lazily (src/util/optional.ts) and the
// seeded generator is dpkit's own MT19937.
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../../scripts/ensure-built.js";
import { projectRoot } from "../helpers/cli.js";

const CHROMIUM = process.env.DPKIT_CHROMIUM ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install Debian's chromium`);

const ENTRIES = ["dpkit", "dpkit/random", "dpkit/accounting", "dpkit/mechanisms", "dpkit/ldp"];

// The file of the issue: only dpkit/ldp and dpkit/mechanisms, used for real.
const LDP_AND_MECHANISMS = `
import { kRandomizedResponse } from "dpkit/ldp";
import { laplaceMechanism } from "dpkit/mechanisms";
const rr = kRandomizedResponse({ epsilon: 1, k: 4 });
const lap = laplaceMechanism({ epsilon: 1, sensitivity: 1 });
globalThis.dpkitResult = { report: rr.randomize(2), released: lap.release(10) };
`;

async function bundle(contents: string): Promise<{ js: string; errors: number; warnings: string[] }> {
  const r = await build({
    stdin: { contents, resolveDir: projectRoot, sourcefile: "user.js", loader: "js" },
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    // As a user's project: no tsconfig paths to the sources.
    tsconfigRaw: {},
    logLevel: "silent",
  });
  return { js: r.outputFiles[0].text, errors: r.errors.length, warnings: r.warnings.map((w) => w.text) };
}

describe("browser bundles of the tfjs-free entry points", () => {
  beforeAll(() => ensureBuilt(), 300_000);

  for (const entry of ENTRIES) {
    it(`esbuild --bundle --platform=browser of ${entry} succeeds with no flags and no Node built-ins`, async () => {
      const out = await bundle(
        `import * as m from "${entry}";\nglobalThis.dpkitKeys = (globalThis.dpkitKeys ?? 0) + Object.keys(m).length;`,
      );
      expect(out.errors).toBe(0);
      expect(out.js).not.toMatch(/require\(["'](crypto|fs|path|better-sqlite3)["']\)/);
      expect(out.js).not.toContain("@tensorflow/tfjs");
    });
  }

  it("a file importing only dpkit/ldp and dpkit/mechanisms bundles", async () => {
    const out = await bundle(LDP_AND_MECHANISMS);
    expect(out.errors).toBe(0);
  });

  it('a bare `import "dpkit/dpsgd"` keeps its side effect: the wasm kernels\' registration', async () => {
    // package.json has "sideEffects"; with a blanket `false` the bundler dropped the whole import
    // and a page training on wasm lacked UnsortedSegmentSum & co.
    const out = await bundle(`import "dpkit/dpsgd";`);
    expect(out.errors).toBe(0);
    expect(out.js).toContain("UnsortedSegmentSum");
    expect(out.js).toContain("onBackendActivated");
  }, 120_000);

  it("control: bundling a module that imports better-sqlite3 directly still fails", async () => {
    await expect(bundle(`import Database from "better-sqlite3";\nconsole.log(Database);`)).rejects.toThrow(/Could not resolve/);
  });

  describe.skipIf(!haveChromium)("and the bundles run in chromium", () => {
    let server: Server;
    let browser: Browser;
    const scripts = new Map<string, string>();
    beforeAll(async () => {
      for (const [i, entry] of ENTRIES.entries()) {
        scripts.set(
          `/e${i}.js`,
          (
            await bundle(
              `import * as m from "${entry}";\n(globalThis.dpkitEntries ??= {})[${JSON.stringify(entry)}] = Object.keys(m).length;`,
            )
          ).js,
        );
      }
      scripts.set("/user.js", (await bundle(LDP_AND_MECHANISMS)).js);
      const html =
        `<!doctype html><meta charset="utf-8"><title>dpkit bundles</title>` +
        [...scripts.keys()].map((s) => `<script type="module" src="${s}"></script>`).join("");
      server = createServer((req, res) => {
        const js = scripts.get(req.url ?? "");
        if (js !== undefined) res.writeHead(200, { "content-type": "text/javascript" }).end(js);
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
    }, 300_000);
    afterAll(async () => {
      await browser?.close();
      await new Promise((r) => server?.close(r));
    });

    it("every entry point loads in the page and the user's file releases noisy values", async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page
        .waitForFunction(() => "dpkitResult" in globalThis && Object.keys((globalThis as any).dpkitEntries ?? {}).length === 5, undefined, {
          timeout: 30_000,
        })
        .catch((e) => errors.push(String(e)));
      expect(errors).toEqual([]);
      const got = await page.evaluate(() => ({ entries: (globalThis as any).dpkitEntries, result: (globalThis as any).dpkitResult }));
      expect(errors).toEqual([]);
      for (const entry of ENTRIES) expect(got.entries[entry], entry).toBeGreaterThan(3);
      expect([0, 1, 2, 3]).toContain(got.result.report);
      expect(Number.isFinite(got.result.released)).toBe(true);
      await page.close();
    });
  });
});
