import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot, runCli } from "../helpers/cli.js";

describe("dpkit federated", () => {
  it("runs a tiny DP-FedAvg and prints one JSON object with the per-round history", () => {
    const r = runCli(
      [
        "federated",
        "--clients",
        "8",
        "--clients-per-round",
        "4",
        "--train-size",
        "400",
        "--test-size",
        "200",
        "--local-epochs",
        "1",
        "--local-batch-size",
        "20",
        "--rounds",
        "2",
        "--dp",
        "server",
        "--noise-multiplier",
        "1",
        "--compression",
        "quantize:4:rotate",
        "--seed",
        "3",
        "--json",
      ],
      { DPKIT_BACKEND: "cpu" },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.history).toHaveLength(2);
    expect(out.epsilon).toBeGreaterThan(0);
    expect(out.history[1].epsilon).toBeGreaterThan(out.history[0].epsilon);
    expect(out.compression).toBe("quantize(4 bit, rotated)");
    expect(out.uplinkMegabytes).toBeGreaterThan(0);
    expect(out.seeded).toBe(true);
    // The final accuracy is the last evaluated round's, a fraction; with 8 clients the default
    // delta (8^-1.1 = 0.10) is flagged, and the relation of the epsilon is stated (defect 14).
    expect(out.testAccuracy).toBe(out.history[1].testAccuracy);
    expect(out.testAccuracy).toBeGreaterThan(0);
    expect(out.testAccuracy).toBeLessThanOrEqual(1);
    expect(out.neighboringRelation).toBe("addOrRemoveOne");
    expect(out.warnings.join(" ")).toMatch(/delta 0\.10\d* is larger than 0\.01/);
  });

  it("the same tiny run without noise learns (accuracy well above chance: the DP run's figure is not vacuous)", () => {
    const r = runCli(
      [
        "federated",
        "--clients",
        "8",
        "--clients-per-round",
        "4",
        "--train-size",
        "400",
        "--test-size",
        "200",
        "--local-epochs",
        "1",
        "--local-batch-size",
        "20",
        "--rounds",
        "2",
        "--dp",
        "none",
        "--seed",
        "3",
        "--json",
      ],
      { DPKIT_BACKEND: "cpu" },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.testAccuracy).toBeGreaterThan(0.4); // chance is 0.1; measured 0.555
    expect(out.epsilon).toBeNull();
    expect(out.warnings).toEqual([]);
  });

  it("runs distributed noise behind secure aggregation", () => {
    const r = runCli(
      [
        "federated",
        "--clients",
        "6",
        "--clients-per-round",
        "3",
        "--train-size",
        "120",
        "--test-size",
        "50",
        "--local-epochs",
        "1",
        "--local-batch-size",
        "20",
        "--rounds",
        "1",
        "--dp",
        "client",
        "--secure-aggregation",
        "--seed",
        "4",
        "--json",
      ],
      { DPKIT_BACKEND: "cpu" },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.aggregator).toBe("secagg(dp-fedavg(client-distributed))");
    expect(out.epsilon).toBeGreaterThan(0);
  });

  it("refuses bad options with one line and exit code 2", () => {
    const r = runCli(["federated", "--dp", "cloud"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^dpkit: `dp` must be one of/);
    const r2 = runCli(["federated", "--clients", "5", "--clients-per-round", "6"]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--clients-per-round/);
    const r3 = runCli(
      [
        "federated",
        "--dp",
        "client",
        "--compression",
        "quantize:2",
        "--rounds",
        "1",
        "--clients",
        "4",
        "--clients-per-round",
        "2",
        "--train-size",
        "40",
        "--test-size",
        "10",
      ],
      { DPKIT_BACKEND: "cpu" },
    );
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/compression/);
  });

  it("--checkpoint / --resume: a run killed after its first round and resumed ends with the weights of an uninterrupted run", async () => {
    const dirs = [mkdtempSync(path.join(tmpdir(), "dpkit-cli-ckpt-")), mkdtempSync(path.join(tmpdir(), "dpkit-cli-ckpt-"))];
    try {
      const base = ["federated", "--clients", "6", "--clients-per-round", "3", "--train-size", "120", "--test-size", "50"];
      const args = [...base, "--local-epochs", "1", "--local-batch-size", "10", "--rounds", "12", "--seed", "4", "--json"];
      const env = { ...process.env, DPKIT_BACKEND: "cpu" };
      const straight = runCli([...args, "--checkpoint", dirs[0]], { DPKIT_BACKEND: "cpu" });
      expect(straight.code, straight.stderr).toBe(0);
      // the same run, killed (SIGKILL) as soon as its first checkpoint is on disk
      const child = spawn(
        process.execPath,
        ["--import", "tsx", path.join(projectRoot, "scripts/dpkit.ts"), ...args, "--checkpoint", dirs[1]],
        {
          cwd: projectRoot,
          env,
          stdio: "ignore",
        },
      );
      const log = path.join(dirs[1], "rounds.jsonl");
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      for (let i = 0; i < 1200 && !existsSync(log); i++) await new Promise((r) => setTimeout(r, 25));
      child.kill("SIGKILL");
      const code = await exited;
      const done = JSON.parse(readFileSync(path.join(dirs[1], "checkpoint.json"), "utf8")).roundsDone as number;
      expect(code).toBeNull(); // killed, not finished
      expect(done).toBeGreaterThanOrEqual(1);
      expect(done).toBeLessThan(12);
      const resumed = runCli([...args, "--checkpoint", dirs[1], "--resume"], { DPKIT_BACKEND: "cpu" });
      expect(resumed.code, resumed.stderr).toBe(0);
      const out = JSON.parse(resumed.stdout);
      expect(out.resumedFrom).toBe(done);
      expect(out.history).toHaveLength(12);
      expect(out.testAccuracy).toBe(JSON.parse(straight.stdout).testAccuracy);
      const weightsOf = (d: string): Buffer =>
        readFileSync(path.join(d, JSON.parse(readFileSync(path.join(d, "checkpoint.json"), "utf8")).weights.file));
      expect(weightsOf(dirs[1]).equals(weightsOf(dirs[0]))).toBe(true);
      // negative control: resuming with another learning rate is refused, one line, exit code 2
      const refused = runCli(
        [
          ...base,
          "--local-epochs",
          "1",
          "--local-batch-size",
          "10",
          "--rounds",
          "13",
          "--seed",
          "4",
          "--learning-rate",
          "0.05",
          "--checkpoint",
          dirs[1],
          "--resume",
        ],
        {
          DPKIT_BACKEND: "cpu",
        },
      );
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
      expect(refused.stderr).toMatch(/`learningRate` differs from the checkpoint/);
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  }, 240_000);
});
