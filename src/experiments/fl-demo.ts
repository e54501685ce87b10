/**
 * `dpkit fl-demo`: the federated service end to end on one machine — a server, several Node
 * client processes and (where Chromium is installed) browser pages, running a few DP-FedAvg
 * rounds with client-side distributed noise and secure aggregation; then what each party saw.
 * Node only; a demo, not library API.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DpError, requireInteger, requirePositive } from "../errors.js";
import { browserClientRoutes } from "../federated/client/browser/assets.js";
import type { FederatedClientSummary } from "../federated/client/runtime.js";
import type { ServiceStatus } from "../federated/server/service.js";
import { startMnistFederatedService } from "./federated-service.js";

/** Options for {@link runFederatedDemo}. */
export interface FederatedDemoOptions {
  /** Node client processes. Default 3. */
  nodeClients?: number;
  /** Browser pages (0 without Chromium). Default 2 when Chromium exists. */
  browserClients?: number;
  /** Rounds. Default 3. */
  rounds?: number;
  /** z. Default 1. */
  noiseMultiplier?: number;
  /** C. Default 1. */
  l2NormClip?: number;
  /** Examples each client trains on per round. Default 300. */
  maxExamples?: number;
  /** Chromium binary. Default /usr/bin/chromium (or DPKIT_CHROMIUM). */
  chromium?: string;
  /** argv prefix that runs the dpkit CLI (default: this process's node, flags and script). */
  cliCommand?: string[];
  /** Give up after this many seconds. Default 600. */
  timeoutSeconds?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One client's view. */
export interface DemoClientView {
  kind: "node" | "browser";
  partition: string;
  /** What the client ran and measured (its own update norms stay on the device; shown here for the demo). */
  summary: FederatedClientSummary | null;
  bytesUp?: number;
  bytesDown?: number;
  error?: string;
}

/** What {@link runFederatedDemo} returns. */
export interface FederatedDemoResult {
  server: ServiceStatus;
  clients: DemoClientView[];
  /** Why browsers were left out, when they were. */
  browserNote?: string;
  seconds: number;
}

interface PageLike {
  evaluate<T>(fn: () => T): Promise<T>;
  goto(url: string): Promise<unknown>;
  on(event: "pageerror", fn: (e: Error) => void): void;
}

/**
 * Runs the demo: starts the service in this process, spawns Node clients and opens browser
 * pages, waits until the rounds complete, and returns every party's view.
 *
 * @param options - see {@link FederatedDemoOptions}
 * @returns the server status and each client's summary
 * @throws {@link DpError} `invalid_parameter` for bad options; `io_error` when the demo times out
 * @example
 * ```ts
 * import { runFederatedDemo } from "./fl-demo.js";
 * const r = await runFederatedDemo({ nodeClients: 3, browserClients: 0, rounds: 2 });
 * r.server.epsilon;
 * ```
 */
export async function runFederatedDemo(options: FederatedDemoOptions = {}): Promise<FederatedDemoResult> {
  const t0 = performance.now();
  const nodeClients = requireInteger("nodeClients", options.nodeClients ?? 3, { min: 0, max: 32 });
  const chromium = options.chromium ?? process.env.DPKIT_CHROMIUM ?? "/usr/bin/chromium";
  let browserClients = requireInteger("browserClients", options.browserClients ?? (existsSync(chromium) ? 2 : 0), { min: 0, max: 8 });
  const rounds = requireInteger("rounds", options.rounds ?? 3, { min: 1, max: 100 });
  const z = requirePositive("noiseMultiplier", options.noiseMultiplier ?? 1);
  const clip = requirePositive("l2NormClip", options.l2NormClip ?? 1);
  const maxExamples = requireInteger("maxExamples", options.maxExamples ?? 300, { min: 1, max: 60_000 });
  const timeoutMs = 1000 * requirePositive("timeoutSeconds", options.timeoutSeconds ?? 600);
  const log = options.log ?? ((): void => undefined);
  let browserNote: string | undefined;
  type Playwright = typeof import("playwright-core");
  let playwright: Playwright | undefined;
  if (browserClients > 0) {
    if (!existsSync(chromium)) {
      browserNote = `no Chromium at ${chromium}: browser clients skipped`;
      browserClients = 0;
    } else {
      try {
        playwright = await import("playwright-core");
      } catch {
        browserNote = "playwright-core is not installed (a development dependency): browser clients skipped";
        browserClients = 0;
      }
    }
  }
  const total = nodeClients + browserClients;
  if (total < 2) throw new DpError("invalid_parameter", `Secure aggregation needs at least 2 clients. Found ${total}.`, "nodeClients");
  const dir = mkdtempSync(path.join(tmpdir(), "dpkit-fl-demo-"));
  const procs: ChildProcess[] = [];
  let browser: { close(): Promise<void> } | undefined;
  const demo = await startMnistFederatedService({
    db: path.join(dir, "server.db"),
    rounds,
    clientsPerRound: total,
    minClients: total,
    dp: "client",
    noiseMultiplier: z,
    l2NormClip: clip,
    secureAggregation: true,
    selectionWindowMs: 60_000,
    roundTimeoutMs: 180_000,
    testExamples: 1000,
    log: (line) => log(`server: ${line}`),
    ...(await browserClientRoutes()),
  });
  log(`server listening on ${demo.url}`);
  try {
    const cli = options.cliCommand ?? [process.execPath, ...process.execArgv, process.argv[1]];
    const outputs: Promise<DemoClientView>[] = [];
    for (let i = 0; i < nodeClients; i++) {
      const partition = `${i}/${total}`;
      const args = [
        ...cli.slice(1),
        "client",
        "--server",
        demo.url,
        "--partition",
        partition,
        "--max-examples",
        String(maxExamples),
        "--json",
        "--quiet",
        "--timeout",
        String(timeoutMs / 1000),
      ];
      const child = spawn(cli[0], args, { stdio: ["ignore", "pipe", "pipe"] });
      procs.push(child);
      outputs.push(
        new Promise((resolve) => {
          let out = "";
          let err = "";
          child.stdout!.on("data", (d) => (out += d));
          child.stderr!.on("data", (d) => (err += d));
          child.on("close", (code) => {
            try {
              const s = JSON.parse(out) as FederatedClientSummary & { bytesUp: number; bytesDown: number };
              resolve({ kind: "node", partition, summary: s, bytesUp: s.bytesUp, bytesDown: s.bytesDown });
            } catch {
              resolve({ kind: "node", partition, summary: null, error: `exit ${code}: ${err.trim().split("\n").at(-1) ?? ""}` });
            }
          });
        }),
      );
      log(`node client ${partition} started (pid ${child.pid})`);
    }
    if (browserClients > 0 && playwright) {
      const b = await playwright.chromium.launch({
        executablePath: chromium,
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
      browser = b;
      for (let j = 0; j < browserClients; j++) {
        const partition = `${nodeClients + j}/${total}`;
        const page = (await b.newPage()) as unknown as PageLike;
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        await page.goto(`${demo.url}/?partition=${partition}&maxExamples=${maxExamples}`);
        log(`browser page ${partition} opened`);
        outputs.push(
          (async (): Promise<DemoClientView> => {
            const deadline = performance.now() + timeoutMs;
            for (;;) {
              const s = await page.evaluate(() => {
                const c = (globalThis as { dpkitClient?: { state: string; summary?: FederatedClientSummary; error?: string } }).dpkitClient;
                return c
                  ? { state: c.state, summary: c.summary ?? null, error: c.error }
                  : { state: "loading", summary: null, error: undefined };
              });
              if (s.state === "done" && s.summary) return { kind: "browser", partition, summary: s.summary };
              if (s.state === "failed") return { kind: "browser", partition, summary: null, error: s.error ?? errors.join("; ") };
              if (performance.now() > deadline) return { kind: "browser", partition, summary: null, error: "timed out" };
              await new Promise((r) => setTimeout(r, 250));
            }
          })(),
        );
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DpError("io_error", `The demo did not finish within ${timeoutMs / 1000} s.`, "timeoutSeconds")),
        timeoutMs,
      );
    });
    try {
      await Promise.race([demo.service.whenDone(), timeout]);
      const clients = await Promise.race([Promise.all(outputs), timeout]);
      return { server: demo.service.status(), clients, browserNote, seconds: (performance.now() - t0) / 1000 };
    } finally {
      clearTimeout(timer);
    }
  } finally {
    for (const p of procs) if (p.exitCode === null && p.pid !== undefined) p.kill("SIGTERM");
    await browser?.close().catch(() => undefined);
    await demo.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
