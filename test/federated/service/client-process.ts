/**
 * Test fixture: a Node client process running the real client runtime over HTTP with a
 * synthetic trainer (delta depends on the client index and round). With DUMP_DIR set, it writes
 * every privatised upload (what it masks) to DUMP_DIR/c<index>-r<round>.f32 — on the device,
 * for the test to compare with the server's released aggregate.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { FederatedClient, type FederatedClientOptions } from "../../../src/federated/client/runtime.js";
import { HttpTransport } from "../../../src/federated/transport/http-client.js";

const [url, indexRaw] = process.argv.slice(2);
const index = Number(indexRaw);
const dump = process.env.DUMP_DIR;
const trainMs = Number(process.env.TRAIN_MS ?? 0);

export function syntheticDelta(i: number, round: number, dimension: number): Float32Array {
  const d = new Float32Array(dimension);
  for (let k = 0; k < dimension; k++) d[k] = Math.sin(0.37 * k * (i + 1) + round) * 0.2;
  return d;
}

const options: FederatedClientOptions & { onUpload?: (u: { round: number; upload: Float32Array }) => void } = {
  transport: new HttpTransport({ baseUrl: url, timeoutMs: 10_000 }),
  population: process.env.POPULATION ?? "default",
  clientKind: "node",
  label: `node-${index}`,
  trainer: async (plan) => {
    if (trainMs > 0) await new Promise((r) => setTimeout(r, trainMs));
    return { delta: syntheticDelta(index, plan.round, plan.model.dimension), numExamples: 10 };
  },
  minPollMs: 10,
  timeoutMs: 120_000,
  maxConsecutiveFailures: 200,
  maxRetryAfterMs: 1000,
  onUpload: dump
    ? ({ round, upload }) =>
        writeFileSync(path.join(dump, `c${index}-r${round}.f32`), Buffer.from(upload.buffer, upload.byteOffset, upload.byteLength))
    : undefined,
};
const summary = await new FederatedClient(options).run();
process.stdout.write(`${JSON.stringify({ index, reason: summary.reason, rounds: summary.rounds.map((r) => [r.round, r.outcome]) })}\n`);
process.exit(0);
