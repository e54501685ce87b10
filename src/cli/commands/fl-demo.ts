/**
 * `dpkit fl-demo` — the federated service end to end on this machine: a server, Node client
 * processes and (where Chromium is installed) browser pages run a few DP rounds with
 * client-side noise and secure aggregation; then it prints what each party saw.
 * @module
 */
import type { Command } from "commander";
import { requireInteger, requirePositive } from "../../errors.js";
import type { FederatedDemoResult } from "../../experiments/fl-demo.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";

interface FlDemoRaw {
  nodeClients: string;
  browserClients?: string;
  rounds: string;
  noiseMultiplier: string;
  clip: string;
  maxExamples: string;
  timeout: string;
  json?: boolean;
  quiet?: boolean;
}

/** The human-readable report: one section per party. @internal */
export function renderDemo(r: FederatedDemoResult): string {
  const s = r.server;
  const lines: string[] = [];
  lines.push("== What the server saw (masked inputs, then only their sum) ==");
  lines.push(
    renderTable(
      ["round", "masked uploads", "node", "browser", "test acc", "epsilon"],
      s.history.map((h) => [h.round + 1, h.accepted, h.clients.node, h.clients.browser, h.testAccuracy, h.epsilon]),
    ),
  );
  lines.push(
    `client-level epsilon after ${s.rounds} round(s): ${s.epsilon === null ? "-" : s.epsilon.toFixed(3)} at delta ${s.delta}; ${s.abandoned.length} abandoned attempt(s)\n`,
  );
  lines.push("== What each client saw and did on its device (never sent) ==");
  const rows = r.clients.flatMap((c) =>
    c.summary
      ? c.summary.rounds.map((x) => [
          c.kind,
          c.partition,
          x.round + 1,
          x.outcome,
          x.numExamples,
          x.updateNorm,
          x.clipped,
          x.trainMs,
          x.roundMs,
        ])
      : [[c.kind, c.partition, "-", `failed: ${c.error ?? "?"}`, "-", "-", "-", "-", "-"]],
  );
  lines.push(renderTable(["kind", "partition", "round", "outcome", "examples", "raw norm", "clipped", "train ms", "round ms"], rows));
  const plan = r.clients.find((c) => c.summary?.rounds[0]?.privacy)?.summary?.rounds[0]?.privacy;
  if (plan) lines.push(`each client's plan: ${plan}\n`);
  lines.push("== What the network saw (framed request/response bytes per Node client) ==");
  lines.push(
    renderTable(
      ["partition", "bytes up", "bytes down"],
      r.clients.filter((c) => c.kind === "node").map((c) => [c.partition, c.bytesUp, c.bytesDown]),
    ),
  );
  if (r.browserNote) lines.push(`note: ${r.browserNote}\n`);
  lines.push(`finished in ${r.seconds.toFixed(1)} s\n`);
  return lines.join("\n");
}

/** Registers `dpkit fl-demo` on the program. */
export function register(program: Command): void {
  program
    .command("fl-demo")
    .description(
      "Federated learning end to end: a server, Node client processes and Chromium pages run DP rounds with secure aggregation; prints what each party sees",
    )
    .option("--node-clients <n>", "Node client processes", "3")
    .option("--browser-clients <n>", "browser pages (default 2 where /usr/bin/chromium exists, else 0)")
    .option("--rounds <R>", "rounds", "3")
    .option("--noise-multiplier <z>", "noise multiplier z (client-side distributed noise)", "1")
    .option("--clip <C>", "L2 clip of each client update", "1")
    .option("--max-examples <n>", "examples each client trains on per round", "300")
    .option("--timeout <S>", "give up after this many seconds", "600")
    .option("--quiet", "no progress lines on stderr")
    .option("--json", "print one JSON object")
    .action(async (raw: FlDemoRaw) => {
      const num = (name: string, v: string | undefined): number | undefined => parseNumberOption(name, v);
      const options = {
        nodeClients: requireInteger("--node-clients", num("node-clients", raw.nodeClients), { min: 0, max: 32 }),
        browserClients:
          raw.browserClients === undefined
            ? undefined
            : requireInteger("--browser-clients", num("browser-clients", raw.browserClients), { min: 0, max: 8 }),
        rounds: requireInteger("--rounds", num("rounds", raw.rounds), { min: 1, max: 100 }),
        noiseMultiplier: requirePositive("--noise-multiplier", num("noise-multiplier", raw.noiseMultiplier)),
        l2NormClip: requirePositive("--clip", num("clip", raw.clip)),
        maxExamples: requireInteger("--max-examples", num("max-examples", raw.maxExamples), { min: 1, max: 60_000 }),
        timeoutSeconds: requirePositive("--timeout", num("timeout", raw.timeout)),
        log: raw.quiet ? undefined : (line: string) => void process.stderr.write(`${line}\n`),
      };
      // The server, tfjs and the browser driver load only when this command runs.
      const { prepareBackend } = await import("../../backend/index.js");
      await prepareBackend({ announce: false });
      const { runFederatedDemo } = await import("../../experiments/fl-demo.js");
      const result = await runFederatedDemo(options);
      if (raw.json) printJson(result);
      else process.stdout.write(renderDemo(result));
    });
}
