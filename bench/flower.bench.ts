/**
 * Flower client benchmark: `.npy` codec throughput on the MNIST MLP's weights (little-endian C
 * order, the fast path Flower uses, against big-endian and Fortran order, the converting path),
 * and the overhead of one Flower round over loopback gRPC (fit + evaluate through the
 * TypeScript Flower server: protobuf, `.npy`, the stream) against calling the same client's fit
 * and evaluate directly. Side by side, alternating, medians.
 *
 *   npm run bench -- flower
 */
import { prepareBackend } from "../src/backend/index.js";
import { loadMnist } from "../src/data/mnist.js";
import { mnistModel } from "../src/dpsgd/mnist-models.js";
import {
  createTfjsFlowerClient,
  decodeNpy,
  encodeNpy,
  runFlowerClient,
  startFlowerTestServer,
  type NpyArray,
} from "../src/federated/flower/index.js";
import { SeededRng } from "../src/random/index.js";
import { median, type BenchRow } from "./report.js";

async function main(): Promise<void> {
  await prepareBackend({ announce: false });
  const results: BenchRow[] = [];
  const REPS = 7;

  // --- .npy codec -------------------------------------------------------------------------------
  const model = mnistModel("mlp");
  const arrays: NpyArray[] = model
    .getWeights()
    .map((w) => ({ dtype: "float32", shape: w.shape.slice(), data: w.dataSync() as Float32Array }));
  const bytes = arrays.reduce((s, a) => s + a.data.byteLength, 0);
  const variants = [
    { name: "float32 <, C order", opts: {} },
    { name: "float32 >, C order", opts: { byteOrder: ">" as const } },
    { name: "float32 <, Fortran order", opts: { fortranOrder: true } },
  ];
  const enc = variants.map(() => [] as number[]);
  const dec = variants.map(() => [] as number[]);
  for (let r = 0; r < REPS; r++) {
    variants.forEach((v, k) => {
      let t0 = performance.now();
      const files = arrays.map((a) => encodeNpy(a, v.opts));
      enc[k].push(performance.now() - t0);
      t0 = performance.now();
      for (const f of files) decodeNpy(f);
      dec[k].push(performance.now() - t0);
    });
  }
  const mbps = (ms: number): number => bytes / 1e6 / (ms / 1000);
  console.log(`.npy codec on the MLP's ${arrays.length} weight tensors (${(bytes / 1e6).toFixed(2)} MB), median of ${REPS}:`);
  console.log("variant                     encode MB/s   decode MB/s");
  variants.forEach((v, k) => {
    const e = mbps(median(enc[k]));
    const d = mbps(median(dec[k]));
    console.log(`${v.name.padEnd(26)}  ${e.toFixed(0).padStart(11)}   ${d.toFixed(0).padStart(11)}`);
    results.push({
      case: `npy encode ${v.name}`,
      metric: "throughput",
      value: e,
      unit: "MB/s",
      ...(k > 0 ? { baseline: mbps(median(enc[0])), ratio: e / mbps(median(enc[0])) } : {}),
    });
    results.push({
      case: `npy decode ${v.name}`,
      metric: "throughput",
      value: d,
      unit: "MB/s",
      ...(k > 0 ? { baseline: mbps(median(dec[0])), ratio: d / mbps(median(dec[0])) } : {}),
    });
  });

  // --- a Flower round over gRPC vs the same work called directly ---------------------------------
  const train = loadMnist({ split: "train", count: 600 });
  const test = loadMnist({ split: "test", count: 300 });
  const client = createTfjsFlowerClient({
    model,
    inputShape: [784],
    train: { x: train.images, y: train.labels, count: train.count },
    test: { x: test.images, y: test.labels, count: test.count },
    rng: new SeededRng(1),
  });
  const config = { local_epochs: 1n, batch_size: 32n, lr: 0.1 };
  const direct: number[] = [];
  const viaGrpc: number[] = [];
  const ROUNDS = 3;
  for (let r = 0; r < 3; r++) {
    // direct: the same calls a round makes, without the transport
    let t0 = performance.now();
    for (let k = 0; k < ROUNDS; k++) {
      const p = client.getParameters({});
      const f = client.fit(p, config);
      client.evaluate(f.parameters, {});
    }
    direct.push((performance.now() - t0) / ROUNDS);
    // over gRPC: the TypeScript Flower server on loopback, one client
    const server = await startFlowerTestServer({ minClients: 1, rounds: ROUNDS, fitConfig: () => config });
    t0 = performance.now();
    await runFlowerClient({ server: server.address, client });
    await server.done;
    viaGrpc.push((performance.now() - t0) / ROUNDS);
    await server.close();
  }
  const d = median(direct);
  const g = median(viaGrpc);
  console.log(
    `\none round (fit 1 epoch of 600 examples + evaluate 300, MLP): direct ${d.toFixed(0)} ms, over Flower gRPC ${g.toFixed(0)} ms (x${(g / d).toFixed(2)}, +${(g - d).toFixed(0)} ms)`,
  );
  results.push({ case: "flower round over loopback gRPC", metric: "time", value: g, unit: "ms", baseline: d, ratio: g / d });
  console.log(JSON.stringify({ bench: "flower", results }));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
