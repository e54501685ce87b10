/**
 * `dpkit train mnist`: a short private run reports per-epoch accuracy and epsilon (JSON and
 * tables), honours --target-epsilon, and bad options fail with one line and exit code 2.
 */
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli } from "../helpers/cli.js";

const small = ["--train-size", "600", "--test-size", "200", "--epochs", "2", "--batch-size", "60"];

describe("dpkit train mnist", () => {
  it("trains privately and reports accuracy and epsilon per epoch (--json), saving the model and a plot", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dpkit-train-"));
    const r = runCli([
      "train",
      "mnist",
      ...small,
      "--target-epsilon",
      "2",
      "--json",
      "--save",
      path.join(dir, "m"),
      "--plot",
      path.join(dir, "p.svg"),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.private).toBe(true);
    expect(out.epochsRun).toHaveLength(2);
    expect(out.epsilon).toBeLessThanOrEqual(2);
    expect(out.epsilon).toBeGreaterThan(1.5);
    expect(out.epochsRun[0].epsilon).toBeLessThan(out.epochsRun[1].epsilon);
    expect(out.noiseMultiplier).toBeGreaterThan(0);
    expect(out.steps).toBe(20);
    expect(out.testAccuracy).toBeGreaterThan(0.1);
    expect(existsSync(path.join(dir, "m", "model.json"))).toBe(true);
    expect(existsSync(path.join(dir, "m", "weights.bin"))).toBe(true);
    expect(readFileSync(path.join(dir, "p.svg"), "utf8")).toContain("<svg");
  });

  it("--non-private trains with tfjs's own fit and prints a table with no epsilon", () => {
    const r = runCli(["train", "mnist", ...small, "--non-private"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/epoch 2\/2 .*epsilon inf/);
    expect(r.stdout).toMatch(/no privacy guarantee/);
  });

  it("--workers 2 shards per-example clipping over two worker threads and reports the same budget", () => {
    const args = ["train", "mnist", ...small, "--noise-multiplier", "1.1", "--json"];
    const one = runCli(args);
    const two = runCli([...args, "--workers", "2"]);
    expect(two.code, two.stderr).toBe(0);
    expect(one.code, one.stderr).toBe(0);
    const a = JSON.parse(one.stdout) as { epochsRun: { epsilon: number }[] };
    const b = JSON.parse(two.stdout) as { epochsRun: { epsilon: number }[] };
    expect(b.epochsRun.map((e) => e.epsilon)).toEqual(a.epochsRun.map((e) => e.epsilon));
    expect(b.epochsRun).toHaveLength(2);
    // control: --workers with --non-private is refused, not ignored
    const bad = runCli(["train", "mnist", ...small, "--non-private", "--workers", "2"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--workers/);
  });

  it("--noise-worker draws the exact noise on a worker thread, reports it, and spends the same epsilon", () => {
    const args = ["train", "mnist", ...small, "--noise-multiplier", "1.1", "--json"];
    const plain = runCli(args);
    const nw = runCli([...args, "--noise-worker"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(nw.code, nw.stderr).toBe(0);
    const a = JSON.parse(plain.stdout);
    const b = JSON.parse(nw.stdout);
    expect(b.noiseWorker).toBe(true);
    expect(b.steps).toBe(20);
    expect(b.steps).toBe(a.steps);
    expect(b.epochsRun.map((e: { epsilon: number }) => e.epsilon)).toEqual(a.epochsRun.map((e: { epsilon: number }) => e.epsilon));
    expect(b.epsilon).toBe(a.epsilon);
    expect(b.noiseMultiplier).toBe(a.noiseMultiplier);
    // every step took its noise once: from the worker (used) or drawn in-process (missed)
    expect(b.noiseWorkerStats.used + b.noiseWorkerStats.missed).toBe(b.steps);
    // (How many of them the worker served depends on how fast its thread starts on a loaded machine,
    // so it is not asserted here; that it serves steps is tested in test/mechanisms/noise-prefetch.test.ts.)
    expect(b.testAccuracy).toBeGreaterThan(0.1);
    // control: without the flag there is no worker and no counts
    expect(a.noiseWorker).toBe(false);
    expect(a.noiseWorkerStats).toBeNull();
    const table = runCli(["train", "mnist", ...small, "--noise-multiplier", "1.1", "--noise-worker"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/noise worker: \d+ steps' noise drawn ahead on a worker thread, \d+ drawn in-process/);
  });

  it("--ema-momentum ends with the weight average, reports both accuracies, and spends the same epsilon", () => {
    const args = ["train", "mnist", ...small, "--noise-multiplier", "1.1", "--json"];
    const plain = runCli(args);
    const ema = runCli([...args, "--ema-momentum", "0.9"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(ema.code, ema.stderr).toBe(0);
    const a = JSON.parse(plain.stdout);
    const b = JSON.parse(ema.stdout);
    expect(b.emaMomentum).toBe(0.9);
    expect(b.emaWarmup).toBe(false);
    expect(a.emaMomentum).toBeNull();
    expect(b.epochsRun.map((e: { epsilon: number }) => e.epsilon)).toEqual(a.epochsRun.map((e: { epsilon: number }) => e.epsilon));
    expect(b.epsilon).toBe(a.epsilon);
    expect(b.steps).toBe(a.steps);
    for (const row of b.epochsRun) expect(row.emaTestAccuracy).toBeGreaterThan(0);
    expect(b.testAccuracy).toBe(b.epochsRun[1].emaTestAccuracy);
    expect(b.finalIterateTestAccuracy).toBe(b.epochsRun[1].testAccuracy);
    // control: without the option there is no EMA column
    expect(a.epochsRun[0].emaTestAccuracy).toBeUndefined();
    const table = runCli(["train", "mnist", ...small, "--noise-multiplier", "1.1", "--ema-momentum", "0.5", "--ema-warmup"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/EMA test accuracy %/);
    expect(table.stdout).toMatch(/weight average \(EMA, momentum 0.5, warm-up\): test accuracy [\d.]+%; final iterate: [\d.]+%/);
  });

  it("bad options fail with one line and exit code 2", () => {
    for (const [args, pattern] of [
      [["--noise-multiplier", "-1"], /noise-multiplier/],
      [["--noise-multiplier", "1", "--target-epsilon", "3"], /not both/],
      [["--ema-momentum", "1"], /--ema-momentum. must be in \[0, 1\)\. Found 1/],
      [["--ema-momentum", "-0.1"], /--ema-momentum/],
      [["--ema-momentum", "x"], /ema-momentum/],
      [["--ema-warmup"], /--ema-warmup needs --ema-momentum/],
      [["--non-private", "--ema-momentum", "0.9"], /--non-private takes no --ema-momentum/],
      [["--non-private", "--noise-worker"], /--non-private takes no --noise-worker/],
    ] as const) {
      const r = runCli(["train", "mnist", ...small, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(
        r.stderr
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("dpkit:") && !l.includes("tfjs backend")).length,
      ).toBe(1);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    }
  });
});
