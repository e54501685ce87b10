import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFlowerTestServer, type FlowerMisbehaviour, type FlowerTestServer } from "../../src/federated/flower/index.js";
import { projectRoot, runCli } from "../helpers/cli.js";

/** Runs `dpkit ...args` as a child process without blocking this process's event loop (the server lives here). */
function runCliAsync(args: string[], timeoutMs = 90_000): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "scripts/dpkit.ts"), ...args], {
      cwd: projectRoot,
      env: { ...process.env, DPKIT_BACKEND: "cpu" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

let servers: FlowerTestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

const clientArgs = (address: string, partition: string, extra: string[] = []): string[] => [
  "flower",
  "client",
  "--server",
  address,
  "--data",
  "mnist",
  "--model",
  "mlp",
  "--partition",
  partition,
  "--train-size",
  "200",
  "--test-size",
  "100",
  "--json",
  ...extra,
];

describe("dpkit flower client", () => {
  it("two CLI clients complete a Flower FedAvg run (one with local DP) and exit 0 with one JSON object each", async () => {
    const server = await startFlowerTestServer({
      minClients: 2,
      rounds: 2,
      fitConfig: () => ({ local_epochs: 1n, batch_size: 20n, lr: 0.1 }),
      joinTimeoutMs: 60_000,
      answerTimeoutMs: 60_000,
    });
    servers.push(server);
    const [a, b] = await Promise.all([
      runCliAsync(clientArgs(server.address, "0/2")),
      runCliAsync(clientArgs(server.address, "1/2", ["--dp", "local", "--clip", "0.5", "--noise-multiplier", "2"])),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual({ fitRounds: 2, evaluateRounds: 2, examples: 100 });
    const bj = JSON.parse(b.stdout);
    expect(bj).toMatchObject({ fitRounds: 2, evaluateRounds: 2, examples: 100, delta: 1e-5 });
    expect(bj.epsilon).toBeGreaterThan(0);
    const result = await server.done;
    expect(result.violations).toEqual([]);
    expect(result.rounds).toHaveLength(2);
  }, 180_000);

  const bad: [FlowerMisbehaviour, RegExp, string[]][] = [
    ["unknownInstruction", /unknown instruction/, []],
    ["wrongShape", /Tensor 0 has shape \(100352\); the model's weight 0 has shape \(784, 128\)/, []],
    ["malformedTensor", /malformed/, []],
    ["closeStream", /closed the stream before reconnect_ins/, []],
    ["silent", /sent nothing for 2000 ms/, ["--timeout", "2"]],
  ];
  for (const [action, pattern, extra] of bad) {
    it(`bad server (${action}): one line on stderr, exit code 2, no hang`, async () => {
      const server = await startFlowerTestServer({
        minClients: 1,
        rounds: 2,
        misbehave: { round: 1, phase: "fit", action },
        joinTimeoutMs: 60_000,
      });
      servers.push(server);
      const r = await runCliAsync(clientArgs(server.address, "0/1", extra), 60_000);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe("");
      // one dpkit line, last, and no stack trace (tfjs may print its own Node.js banner first)
      const lines = r.stderr.trim().split("\n");
      expect(lines.filter((l) => l.startsWith("dpkit:"))).toHaveLength(1);
      expect(lines.some((l) => /^\s+at /.test(l))).toBe(false);
      expect(lines[lines.length - 1]).toMatch(pattern);
    }, 90_000);
  }

  it("refuses bad options and an unreachable server with exit code 2", async () => {
    for (const [args, pattern] of [
      [["--partition", "2/2"], /--partition I/],
      [["--partition", "x"], /--partition/],
      [["--dp", "central"], /--dp/],
      [["--clip", "-1"], /--clip/],
    ] as [string[], RegExp][]) {
      const r = runCli(["flower", "client", "--server", "127.0.0.1:9", "--partition", "0/2", ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").pop()).toMatch(pattern);
    }
    const bad = runCli(["flower", "client", "--server", "nohost", "--partition", "0/1"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--server` must be HOST:PORT/);
    const r = await runCliAsync(clientArgs("127.0.0.1:1", "0/1", ["--connect-timeout", "1"]), 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n").pop()).toMatch(/^dpkit: Could not connect to the Flower server at 127.0.0.1:1 within 1000 ms/);
  }, 120_000);
});
