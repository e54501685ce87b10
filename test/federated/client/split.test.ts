import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { privatizeUpdate } from "../../../src/federated/client/privatize.js";
import type { ClientUpdate, ClientUploadContext, FederatedAggregator } from "../../../src/federated/core/aggregator.js";
import { DpFedAvgAggregator } from "../../../src/federated/core/dp-aggregator.js";
import { WeightedMeanAggregator } from "../../../src/federated/core/weighted-mean.js";
import { DistributedDiscreteGaussianAggregator, SecureAggregator } from "../../../src/federated/secagg/aggregator.js";
import { SeededRng } from "../../../src/random/rng.js";
import { projectRoot } from "../../helpers/cli.js";

// The client half of every aggregator is plain data (clientPlan) applied by client code
// (privatizeUpdate); it must do exactly what the aggregator's own prepareUpdate does.
const d = 300;
const ctx: ClientUploadContext = { round: 0, dimension: d, expectedClients: 10 };
function update(scale: number, seed: number): ClientUpdate {
  const r = new SeededRng(seed);
  return { clientId: "c", numExamples: 5, delta: Float32Array.from({ length: d }, () => ((r.nextUint32() / 2 ** 32) * 2 - 1) * scale) };
}

describe("clientPlan + privatizeUpdate = prepareUpdate (bit for bit, same randomness)", () => {
  const cases: [string, FederatedAggregator][] = [
    ["weighted mean", new WeightedMeanAggregator()],
    ["dp-fedavg server", new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1 })],
    ["dp-fedavg client-local", new DpFedAvgAggregator({ noiseMultiplier: 1.3, l2NormClip: 0.5, noisePlacement: "client-local" })],
    ["dp-fedavg client-distributed", new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, noisePlacement: "client-distributed" })],
    ["dp-fedavg client-distributed, minimumClients", new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, noisePlacement: "client-distributed", minimumClients: 4 })],
    ["dp-fedavg client-distributed, adaptive clipping", new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, noisePlacement: "client-distributed", adaptiveClipping: true })],
    ["secagg(dp-fedavg)", new SecureAggregator({ aggregator: new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, noisePlacement: "client-distributed" }) })],
    ["ddg", new DistributedDiscreteGaussianAggregator({ l2NormClip: 1, granularity: 2 ** -8, localNoiseStddev: 16 })],
  ];
  for (const [name, agg] of cases) {
    it(name, () => {
      for (const [scale, seed] of [[0.001, 1], [5, 2]]) {
        const u = update(scale, seed);
        const plan = agg.clientPlan!(ctx);
        const viaClient = privatizeUpdate(u.delta, plan, new SeededRng(100 + seed)).upload;
        const viaAggregator = agg.prepareUpdate(u, { ...ctx, rng: new SeededRng(100 + seed) }).delta;
        expect(viaClient.length).toBe(viaAggregator.length);
        expect(Buffer.from(viaClient.buffer).equals(Buffer.from(viaAggregator.buffer))).toBe(true);
      }
    });
  }

  it("control: a plan with the wrong share size is caught by the same comparison", () => {
    const agg = new DpFedAvgAggregator({ noiseMultiplier: 1, l2NormClip: 1, noisePlacement: "client-distributed" });
    const plan = agg.clientPlan(ctx);
    if (plan.kind !== "clip-distributed") throw new Error("unexpected plan");
    const wrong = { ...plan, noiseStddev: plan.noiseStddev * Math.sqrt(10) }; // sized for one client instead of K
    const u = update(5, 3);
    const a = privatizeUpdate(u.delta, wrong, new SeededRng(7)).upload;
    const b = agg.prepareUpdate(u, { ...ctx, rng: new SeededRng(7) }).delta;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(false);
  });
});

/** Relative import specifiers of a TypeScript file (static and dynamic). */
function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) out.push(m[1]);
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Files in `dir` that import anything under src/federated/client/. */
function offenders(dir: string): string[] {
  const client = path.join(projectRoot, "src/federated/client");
  return filesUnder(dir).filter((f) => importsOf(readFileSync(f, "utf8")).some((spec) => spec.startsWith(".") && path.resolve(path.dirname(f), spec).startsWith(client)));
}

describe("the trust boundary is a folder boundary", () => {
  it("src/federated/server/ and src/federated/core/ never import src/federated/client/", () => {
    expect(offenders(path.join(projectRoot, "src/federated/server"))).toEqual([]);
    expect(offenders(path.join(projectRoot, "src/federated/core"))).toEqual([]);
    // Negative control: the same scan finds the imports of a folder that does use client code.
    expect(offenders(path.join(projectRoot, "src/cli/commands")).map((f) => path.basename(f))).toContain("client.ts");
  });
});
