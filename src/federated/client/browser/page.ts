/**
 * The browser client page's script (bundled by scripts/build-browser-client.ts into
 * `fl-client.js`, served by `dpkit server` at `/`): joins the population as a federated client.
 * `/?partition=I/N` fetches that demo MNIST partition from the server into IndexedDB once; then
 * the page trains with tfjs, clips, noises and masks in the page, uploads, and shows its state
 * and the population's ε (from `/status`). Optional query parameters: `population` (default
 * "mnist"), `maxExamples` (examples per round, default 600), `label`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mnistModel, MNIST_MODEL_KINDS, type MnistModelKind } from "../../../dpsgd/mnist-models.js";
import { decodeFrame } from "../../protocol/frame.js";
import { HttpTransport } from "../../transport/http-client.js";
import { openIndexedDbExampleStore } from "../indexeddb-example-store.js";
import { probabilityCrossEntropyLoss } from "../local-training.js";
import { FederatedClient, type FederatedClientEvent, type FederatedClientSummary } from "../runtime.js";

interface PageState {
  state: string;
  round?: number;
  events: FederatedClientEvent[];
  summary?: FederatedClientSummary;
  error?: string;
  epsilon?: number | null;
  examples?: number;
}

const page: PageState = { state: "starting", events: [] };
(globalThis as unknown as { dpkitClient: PageState }).dpkitClient = page;

function show(id: string, text: string): void {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

function log(line: string): void {
  const el = document.getElementById("log");
  if (el) el.textContent = `${new Date().toISOString().slice(11, 19)} ${line}\n${el.textContent ?? ""}`.slice(0, 20_000);
}

async function refreshEpsilon(): Promise<void> {
  try {
    const res = await fetch("/status", { headers: { accept: "application/json" } });
    if (!res.ok) return;
    const status = (await res.json()) as { epsilon?: number | null; rounds?: number; delta?: number };
    page.epsilon = status.epsilon ?? null;
    show(
      "epsilon",
      status.epsilon === undefined || status.epsilon === null ? "—" : `${status.epsilon.toFixed(3)} (δ = ${status.delta ?? "?"})`,
    );
    if (status.rounds !== undefined) show("rounds", String(status.rounds));
  } catch {
    // status is informative only
  }
}

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const spec = q.get("partition") ?? "0/10";
  const m = /^(\d{1,5})\/(\d{1,5})$/.exec(spec);
  if (!m || Number(m[1]) >= Number(m[2])) throw new Error(`?partition must look like I/N with I < N. Found ${JSON.stringify(spec)}.`);
  const population = q.get("population") ?? "mnist";
  const maxExamples = Math.max(1, Math.min(100_000, Number(q.get("maxExamples") ?? 600) || 600));
  show("partition", spec);
  await tf.setBackend(q.get("backend") ?? "cpu");
  await tf.ready();
  const store = await openIndexedDbExampleStore({
    name: `dpkit-mnist-${m[1]}-of-${m[2]}`,
    featureLength: 784,
    timeToLiveMs: 30 * 24 * 3600 * 1000,
    maxExamples: 100_000,
  });
  if ((await store.count()) === 0) {
    page.state = "loading data";
    show("state", page.state);
    const res = await fetch(`/data/mnist?partition=${encodeURIComponent(spec)}`);
    if (!res.ok) throw new Error(`GET /data/mnist answered ${res.status}`);
    const frame = decodeFrame(new Uint8Array(await res.arrayBuffer())) as {
      count: number;
      featureLength: number;
      x: Float32Array;
      y: Uint8Array;
    };
    if (
      frame.featureLength !== 784 ||
      !(frame.x instanceof Float32Array) ||
      frame.x.length !== frame.count * 784 ||
      frame.y.length !== frame.count
    ) {
      throw new Error("The demo partition is malformed.");
    }
    const rows = function* () {
      for (let i = 0; i < frame.count; i++) yield { features: frame.x.subarray(i * 784, (i + 1) * 784), label: frame.y[i] };
    };
    await store.addMany(rows());
    log(`stored ${frame.count} examples in IndexedDB`);
  }
  page.examples = await store.count();
  show("examples", String(page.examples));
  const models = new Map<string, tf.LayersModel>();
  const client = new FederatedClient({
    transport: new HttpTransport({ baseUrl: location.origin }),
    population,
    clientKind: "browser",
    label: q.get("label") ?? `browser-${spec}`,
    store,
    selector: { limit: maxExamples },
    loss: probabilityCrossEntropyLoss,
    model: (s) => {
      if (!MNIST_MODEL_KINDS.includes(s.name as MnistModelKind)) throw new Error(`unknown model ${s.name}`);
      let model = models.get(s.name);
      if (!model) models.set(s.name, (model = mnistModel(s.name as MnistModelKind)));
      return model;
    },
    onEvent: (e) => {
      page.events.push(e);
      page.state = e.state;
      if (e.round !== undefined) page.round = e.round;
      show("state", e.state);
      if (e.round !== undefined) show("round", String(e.round));
      log(`${e.state}${e.round !== undefined ? ` (round ${e.round})` : ""}${e.detail ? `: ${e.detail}` : ""}`);
      if (e.state === "complete" || e.state === "done" || e.state === "abandoned") void refreshEpsilon();
    },
  });
  await refreshEpsilon();
  page.summary = await client.run();
  await refreshEpsilon();
}

main().catch((e: unknown) => {
  page.state = "failed";
  page.error = e instanceof Error ? e.message : String(e);
  show("state", "failed");
  log(`error: ${page.error}`);
});
