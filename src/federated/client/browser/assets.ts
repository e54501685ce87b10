/**
 * The browser client's static assets for a server to serve: the page (`/`) and the bundled
 * script (`/fl-client.js`). Node only. In a development checkout (the sources and esbuild are
 * present) the bundle is built in memory on first use, so it is never stale; an installed
 * package serves `dist/browser/fl-client.js`, written by scripts/build-browser-client.ts
 * (`npm run build`).
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DpError } from "../../../errors.js";

import type { StaticAsset } from "../../transport/http-server.js";

/** The page's HTML (`/`). */
export const BROWSER_CLIENT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dpkit federated client</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px system-ui,sans-serif;margin:2em;max-width:46em}dt{font-weight:600}dd{margin:0 0 .6em 0}pre{background:#f4f4f4;padding:.6em;max-height:24em;overflow:auto}</style>
</head><body>
<h1>dpkit federated client</h1>
<p>This page is a federated-learning client: it keeps its MNIST partition in IndexedDB, trains in the page with TensorFlow.js,
and clips, noises and masks its update here before anything is sent. The server only ever sees masked or noised updates.</p>
<dl>
<dt>Partition</dt><dd id="partition">—</dd>
<dt>Examples on this device</dt><dd id="examples">—</dd>
<dt>State</dt><dd id="state">starting</dd>
<dt>Round</dt><dd id="round">—</dd>
<dt>Rounds completed (population)</dt><dd id="rounds">—</dd>
<dt>Population ε</dt><dd id="epsilon">—</dd>
</dl>
<pre id="log"></pre>
<script type="module" src="/fl-client.js"></script>
</body></html>
`;

let cached: string | undefined;

/** The dpkit package root (the folder holding package.json), from this file's location. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pj = path.join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "dpkit") return dir;
      } catch {
        // keep looking
      }
    }
    dir = path.dirname(dir);
  }
  throw new DpError("io_error", "Cannot find the dpkit package root for the browser client bundle.");
}

/**
 * Builds the browser bundle with esbuild (development checkouts; `npm run build` does it ahead).
 * @param outFile - where to write it; omitted: returned only
 * @returns the bundle's JavaScript
 * @throws {@link DpError} `io_error` when esbuild or the sources are missing
 * @example
 * ```ts
 * import { buildBrowserClientBundle } from "dpkit/federated";
 * await buildBrowserClientBundle("dist/browser/fl-client.js");
 * ```
 */
export async function buildBrowserClientBundle(outFile?: string): Promise<string> {
  const root = packageRoot();
  const entry = path.join(root, "src/federated/client/browser/page.ts");
  if (!existsSync(entry))
    throw new DpError(
      "io_error",
      `The browser client is not built (${path.join(root, "dist/browser/fl-client.js")} is missing) and its sources are absent.`,
    );
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    throw new DpError("io_error", "Building the browser client needs esbuild (a development dependency): run `npm install`.");
  }
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    // Node-only modules that the page never reaches (the SQLite store, random-js's node engine).
    external: ["better-sqlite3", "crypto", "node:*"],
    logLevel: "silent",
  });
  const js = result.outputFiles[0].text;
  if (outFile) {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, js);
  }
  return js;
}

/**
 * The assets a server serves for the browser client: `"/"` (the page) and `"/fl-client.js"`.
 *
 * @returns a map from path to content type and body
 * @throws {@link DpError} `io_error` when the bundle is neither built nor buildable
 * @example
 * ```ts
 * import { browserClientAssets } from "dpkit/federated";
 * const assets = await browserClientAssets();
 * assets["/"].contentType; // "text/html; charset=utf-8"
 * ```
 */
export async function browserClientAssets(): Promise<Record<string, StaticAsset>> {
  if (cached === undefined) {
    const root = packageRoot();
    const built = path.join(root, "dist/browser/fl-client.js");
    if (existsSync(path.join(root, "src/federated/client/browser/page.ts"))) {
      try {
        cached = await buildBrowserClientBundle();
      } catch (e) {
        if (!existsSync(built)) throw e;
      }
    }
    cached ??= readFileSync(built, "utf8");
  }
  const enc = new TextEncoder();
  return {
    "/": { contentType: "text/html; charset=utf-8", body: enc.encode(BROWSER_CLIENT_HTML) },
    "/fl-client.js": { contentType: "text/javascript; charset=utf-8", body: enc.encode(cached) },
  };
}

/** What a server needs to host the browser client: its assets and the demo-data route. */
export interface BrowserClientRoutes {
  /** `/` and `/fl-client.js`. */
  assets: Record<string, StaticAsset>;
  /** `GET /data/mnist?partition=I/N`: the demo partition as a frame (undefined → 404 for a bad query). */
  getRoutes: Record<string, (url: URL) => StaticAsset | undefined>;
}

/**
 * The browser client's assets plus the demo-data route, in the shape
 * `startMnistFederatedService({ assets, getRoutes })` takes. Partitions are cached (at most 64).
 *
 * @returns assets and routes
 * @throws {@link DpError} `io_error` when the bundle is neither built nor buildable
 * @example
 * ```ts
 * import { browserClientRoutes, startMnistFederatedService } from "dpkit/federated";
 * const demo = await startMnistFederatedService({ db: "fl.db", rounds: 3, clientsPerRound: 3, minClients: 2, dp: "none", ...(await browserClientRoutes()) });
 * ```
 */
export async function browserClientRoutes(): Promise<BrowserClientRoutes> {
  const assets = await browserClientAssets();
  const { mnistPartitionBytes, parsePartitionSpec } = await import("../demo-data.js");
  const cache = new Map<string, Uint8Array>();
  return {
    assets,
    getRoutes: {
      "/data/mnist": (url) => {
        let spec: { index: number; count: number };
        try {
          spec = parsePartitionSpec(url.searchParams.get("partition") ?? "");
        } catch {
          return undefined;
        }
        const key = `${spec.index}/${spec.count}`;
        let body = cache.get(key);
        if (!body) {
          body = mnistPartitionBytes(spec.index, spec.count);
          if (cache.size >= 64) cache.delete(cache.keys().next().value as string);
          cache.set(key, body);
        }
        return { contentType: "application/x-dpkit-frame", body };
      },
    },
  };
}
