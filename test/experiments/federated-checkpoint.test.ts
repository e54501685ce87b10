/**
 * The federated MNIST experiment's checkpoints: a run of 2 rounds resumed for 1 more gives the
 * weights, client selections and accuracies of an uninterrupted 3-round run, bit for bit.
 * Negative controls: resuming with a different option is refused with a DpError naming it; a
 * damaged weights file, a missing checkpoint and a new run into a used directory are refused;
 * and a run with another seed gives other weights (the equality check can fail).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { mcmahanMnistCnn, runMnistFederated } from "../../src/experiments/federated-mnist.js";
import type { MnistFederatedOptions } from "../../src/experiments/federated-mnist.js";

const tiny: MnistFederatedOptions = {
  model: "mlp",
  clients: 10,
  clientsPerRound: 3,
  trainExamples: 300,
  testExamples: 100,
  localEpochs: 1,
  localBatchSize: 10,
  learningRate: 0.1,
  seed: 11,
};

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), "dpkit-ckpt-"));
  dirs.push(d);
  return d;
}

function checkpointJson(dir: string): {
  roundsDone: number;
  rng: { seed: number };
  weights: { file: string };
  history: { selectedClients: string[]; accuracy: number }[];
} {
  return JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8"));
}

function refusal(run: () => Promise<unknown>): Promise<DpError> {
  return run().then(
    () => {
      throw new Error("expected a DpError");
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(DpError);
      return e as DpError;
    },
  );
}

let uninterrupted: Awaited<ReturnType<typeof runMnistFederated>>;
let uninterruptedDir: string;
let resumedDir: string;

beforeAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
  uninterruptedDir = freshDir();
  uninterrupted = await runMnistFederated({ ...tiny, rounds: 3, checkpoint: uninterruptedDir });
  resumedDir = freshDir();
  await runMnistFederated({ ...tiny, rounds: 2, checkpoint: resumedDir });
}, 120_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the paper's CNN", () => {
  it("has McMahan et al.'s 1,663,370 parameters", () => {
    const m = mcmahanMnistCnn();
    expect(m.countParams()).toBe(1_663_370);
    expect(m.outputs[0].shape).toEqual([null, 10]);
    m.dispose();
  });
});

describe("checkpoint and resume", () => {
  it("a checkpointed run equals the same run without a checkpoint", async () => {
    const plain = await runMnistFederated({ ...tiny, rounds: 3 });
    expect(Buffer.from(plain.weights.buffer).equals(Buffer.from(uninterrupted.weights.buffer))).toBe(true);
  }, 60_000);

  it("2 rounds + resume 1 round = 3 rounds: same weights, selections and accuracies", async () => {
    expect(checkpointJson(resumedDir).roundsDone).toBe(2);
    const r = await runMnistFederated({ ...tiny, rounds: 3, checkpoint: resumedDir, resume: true });
    expect(r.resumedFrom).toBe(2);
    expect(r.rounds).toHaveLength(3);
    expect(Buffer.from(r.weights.buffer).equals(Buffer.from(uninterrupted.weights.buffer))).toBe(true);
    const a = checkpointJson(uninterruptedDir);
    const b = checkpointJson(resumedDir);
    expect(b.roundsDone).toBe(3);
    expect(b.history.map((h) => h.selectedClients)).toEqual(a.history.map((h) => h.selectedClients));
    expect(b.history.map((h) => h.accuracy)).toEqual(a.history.map((h) => h.accuracy));
    expect(r.accuracy).toBe(uninterrupted.accuracy);
    // the saved weights are the final weights; only the latest weights file is kept
    const saved = readFileSync(join(resumedDir, b.weights.file));
    expect(saved.equals(Buffer.from(uninterrupted.weights.buffer))).toBe(true);
    expect(readdirSync(resumedDir).filter((f) => f.endsWith(".bin"))).toEqual([b.weights.file]);
    expect(readFileSync(join(resumedDir, "rounds.jsonl"), "utf8").trim().split("\n")).toHaveLength(3);
    // the selections are not all the same (the comparison above is not vacuous)
    expect(new Set(a.history.map((h) => h.selectedClients.join())).size).toBeGreaterThan(1);
  }, 60_000);

  it("without a seed a seed is drawn, recorded and used on resume", async () => {
    const dir = freshDir();
    const { seed: _omit, ...unseeded } = tiny;
    await runMnistFederated({ ...unseeded, rounds: 1, checkpoint: dir });
    const seed = checkpointJson(dir).rng.seed;
    expect(Number.isInteger(seed)).toBe(true);
    const resumed = await runMnistFederated({ ...unseeded, rounds: 2, checkpoint: dir, resume: true });
    const straight = await runMnistFederated({ ...tiny, seed, rounds: 2 });
    expect(Buffer.from(resumed.weights.buffer).equals(Buffer.from(straight.weights.buffer))).toBe(true);
  }, 60_000);

  it("negative control: another seed gives other weights", async () => {
    const other = await runMnistFederated({ ...tiny, seed: 12, rounds: 3 });
    expect(Buffer.from(other.weights.buffer).equals(Buffer.from(uninterrupted.weights.buffer))).toBe(false);
  }, 60_000);

  it.each([
    ["learningRate", { learningRate: 0.05 }],
    ["localEpochs", { localEpochs: 2 }],
    ["model", { model: "cnn" as const }],
    ["seed", { seed: 12 }],
    ["clientsPerRound", { clientsPerRound: 4 }],
  ])("negative control: resuming with another %s is refused, naming it", async (name, change) => {
    const e = await refusal(() => runMnistFederated({ ...tiny, ...change, rounds: 4, checkpoint: uninterruptedDir, resume: true }));
    expect(e.argument).toBe(name);
    expect(e.message).toContain(`\`${name}\` differs from the checkpoint`);
    expect(checkpointJson(uninterruptedDir).roundsDone).toBe(3); // untouched
  });

  it("negative control: a damaged weights file is refused", async () => {
    const dir = freshDir();
    await runMnistFederated({ ...tiny, rounds: 1, checkpoint: dir });
    const file = join(dir, checkpointJson(dir).weights.file);
    const bytes = readFileSync(file);
    bytes[0] ^= 1;
    writeFileSync(file, bytes);
    const e = await refusal(() => runMnistFederated({ ...tiny, rounds: 2, checkpoint: dir, resume: true }));
    expect(e.argument).toBe("checkpoint");
    expect(e.message).toMatch(/damaged/);
  }, 60_000);

  it("refuses: resume without a checkpoint, a new run into a used directory, checkpoints with DP", async () => {
    expect((await refusal(() => runMnistFederated({ ...tiny, rounds: 1, checkpoint: freshDir(), resume: true }))).argument).toBe(
      "checkpoint",
    );
    expect((await refusal(() => runMnistFederated({ ...tiny, rounds: 1, resume: true }))).argument).toBe("resume");
    expect((await refusal(() => runMnistFederated({ ...tiny, rounds: 4, checkpoint: uninterruptedDir }))).argument).toBe("checkpoint");
    expect((await refusal(() => runMnistFederated({ ...tiny, rounds: 1, dp: "server", checkpoint: freshDir() }))).argument).toBe("dp");
  });
});
