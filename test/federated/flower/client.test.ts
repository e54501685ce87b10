import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it } from "vitest";
import { DpError } from "../../../src/errors.js";
import { ClientMessageSchema, Reason } from "../../../src/federated/flower/gen/flwr/proto/transport_pb.js";
import {
  createTfjsFlowerClient,
  decodeNpy,
  FLOWER_JOIN_METHOD,
  runFlowerClient,
  startFlowerTestServer,
  type FlowerMisbehaviour,
  type FlowerTestServer,
  type TfjsFlowerClient,
} from "../../../src/federated/flower/index.js";
import { SeededRng } from "../../../src/random/index.js";
import { tinyData, tinyModel } from "./helpers.js";

let servers: FlowerTestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(options: Parameters<typeof startFlowerTestServer>[0]): Promise<FlowerTestServer> {
  const s = await startFlowerTestServer({ joinTimeoutMs: 20_000, answerTimeoutMs: 20_000, ...options });
  servers.push(s);
  return s;
}

function makeClient(seed: number, privacy?: Parameters<typeof createTfjsFlowerClient>[0]["privacy"]): TfjsFlowerClient {
  return createTfjsFlowerClient({
    model: tinyModel(),
    inputShape: [4],
    train: tinyData(48, seed),
    test: tinyData(40, seed + 100),
    privacy,
    rng: new SeededRng(seed),
    allowInsecureRng: true,
  });
}

describe("a dpkit client against the TypeScript Flower server (start_server with FedAvg)", () => {
  it("answers get_parameters, fit and evaluate rounds and reconnect_ins; every byte reads as Flower's serde reads it", async () => {
    const server = await start({
      minClients: 2,
      rounds: 3,
      getProperties: { tier: "any" },
      fitConfig: (r) => ({ local_epochs: 2n, batch_size: 8n, lr: 0.5, server_round: BigInt(r) }),
    });
    const a = makeClient(1);
    const b = makeClient(2);
    const [ra, rb, result] = await Promise.all([
      runFlowerClient({ server: server.address, client: a, idleTimeoutMs: 20_000 }),
      runFlowerClient({ server: server.address, client: b, idleTimeoutMs: 20_000 }),
      server.done,
    ]);
    expect(result.violations).toEqual([]);
    expect(result.rounds).toHaveLength(3);
    expect(result.disconnectReasons).toEqual([Reason.RECONNECT, Reason.RECONNECT]);
    expect(ra.counts.fitIns + rb.counts.fitIns).toBe(6);
    expect(ra.counts.getParametersIns + rb.counts.getParametersIns).toBe(1);
    expect(ra.counts.reconnectIns).toBe(1);
    expect(ra.counts.getPropertiesIns).toBe(1);
    expect(result.properties).toHaveLength(2);
    expect(result.properties[0]).toMatchObject({ framework: "dpkit", num_examples: 48n, model_parameters: 23n, dp: "none" });
    expect(a.summary()).toMatchObject({ fitRounds: 3, evaluateRounds: 3, examples: 48 });
    expect(a.summary().epsilon).toBeUndefined();
    // the model improves: distributed loss falls and accuracy ends above chance
    expect(result.rounds[2].loss).toBeLessThan(result.rounds[0].loss);
    expect(result.rounds[2].accuracy).toBeGreaterThan(0.7);
    // what the client sent, byte by byte
    const fit = result.received.find((r) => r.instruction === "fitIns")!;
    const m = fromBinary(ClientMessageSchema, fit.bytes);
    expect(Buffer.from(toBinary(ClientMessageSchema, m)).equals(Buffer.from(fit.bytes))).toBe(true);
    if (m.msg.case !== "fitRes") throw new Error("not a fit_res");
    expect(m.msg.value.status?.code).toBe(0);
    expect(m.msg.value.status?.message).toBe("Success");
    expect(m.msg.value.numExamples).toBe(48n);
    expect(m.msg.value.parameters?.tensorType).toBe("numpy.ndarray");
    expect(m.msg.value.parameters?.tensors.map((t) => decodeNpy(t).shape)).toEqual([[4, 3], [3], [3, 2], [2]]);
    expect(m.msg.value.parameters?.tensors.map((t) => decodeNpy(t).dtype)).toEqual(["float32", "float32", "float32", "float32"]);
    expect(m.msg.value.metrics.train_loss.scalar.case).toBe("double");
    const ev = fromBinary(ClientMessageSchema, result.received.find((r) => r.instruction === "evaluateIns")!.bytes);
    if (ev.msg.case !== "evaluateRes") throw new Error("not an evaluate_res");
    expect(ev.msg.value.numExamples).toBe(40n);
    expect(ev.msg.value.metrics.accuracy.scalar.case).toBe("double");
    // the final aggregate has the model's shapes
    expect(result.parameters.map((p) => p.shape)).toEqual([[4, 3], [3], [3, 2], [2]]);
  });

  it("control: the server's byte checks catch a client that answers wrongly", async () => {
    const server = await start({ minClients: 1, rounds: 1 });
    const rpc = new grpc.Client(server.address, grpc.credentials.createInsecure());
    const call = rpc.makeBidiStreamRequest<Buffer, Buffer>(
      FLOWER_JOIN_METHOD,
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    call.on("error", () => undefined);
    // answer get_parameters_ins with a get_parameters_res whose tensor np.load would refuse, plus an unknown field 7
    call.once("data", () => {
      const bad = create(ClientMessageSchema, {
        msg: {
          case: "getParametersRes",
          value: { status: {}, parameters: { tensors: [new Uint8Array([1, 2, 3])], tensorType: "numpy.ndarray" } },
        },
      });
      call.write(Buffer.concat([Buffer.from(toBinary(ClientMessageSchema, bad)), Buffer.from([0x38, 0x01])]));
      call.end();
    });
    await expect(server.done).rejects.toThrow();
    expect(server.violations.join("\n")).toMatch(/does not define: ClientMessage field 7/);
    expect(server.violations.join("\n")).toMatch(/tensor 0: Not a .npy file/);
    call.cancel();
    rpc.close();
  });
});

describe("client-side privacy under Flower's DP wrappers", () => {
  it("clipping_norm (DifferentialPrivacyClientSideFixedClipping): every update the server sees has norm <= the clip, norm_bit set", async () => {
    const clip = 0.05;
    const server = await start({
      minClients: 2,
      rounds: 2,
      fitConfig: () => ({ local_epochs: 1n, batch_size: 8n, lr: 0.5 }),
      clientSideFixedClipping: { clippingNorm: clip, noiseMultiplier: 0 },
    });
    await Promise.all([
      runFlowerClient({ server: server.address, client: makeClient(3) }),
      runFlowerClient({ server: server.address, client: makeClient(4) }),
    ]);
    const result = await server.done;
    expect(result.violations).toEqual([]);
    for (const r of result.rounds) {
      for (const n of r.updateNorms) expect(n).toBeLessThanOrEqual(clip);
      for (const n of r.updateNorms) expect(n).toBeGreaterThan(clip * 0.999); // these updates are far above the clip
      for (const m of r.fitMetrics) expect(m.norm_bit).toBe(true);
    }
  });

  it("control: without clipping_norm the same updates exceed that clip", async () => {
    const server = await start({ minClients: 2, rounds: 1, fitConfig: () => ({ local_epochs: 1n, batch_size: 8n, lr: 0.5 }) });
    await Promise.all([
      runFlowerClient({ server: server.address, client: makeClient(3) }),
      runFlowerClient({ server: server.address, client: makeClient(4) }),
    ]);
    const result = await server.done;
    for (const n of result.rounds[0].updateNorms) expect(n).toBeGreaterThan(0.05);
    for (const m of result.rounds[0].fitMetrics) expect(m.norm_bit).toBeUndefined();
  });

  it("a clip above the update's norm returns the unclipped update bit for bit (same seed, same server)", async () => {
    const once = async (clip: number | undefined): Promise<Float32Array[]> => {
      const server = await start({
        minClients: 1,
        rounds: 1,
        fitConfig: () => ({ local_epochs: 1n, batch_size: 8n, lr: 0.5 }),
        ...(clip ? { clientSideFixedClipping: { clippingNorm: clip, noiseMultiplier: 0 } } : {}),
      });
      await runFlowerClient({ server: server.address, client: makeClient(5) });
      const r = await server.done;
      if (clip) expect(r.rounds[0].fitMetrics[0].norm_bit).toBe(false);
      return r.parameters.map((p) => p.data as Float32Array);
    };
    const plain = await once(undefined);
    const clipped = await once(1e6);
    expect(clipped).toEqual(plain);
  });

  it("local DP and DP-SGD report the client's own epsilon; epsilon grows with rounds", async () => {
    const server = await start({ minClients: 2, rounds: 2, fitConfig: () => ({ local_epochs: 1n, batch_size: 16n, lr: 0.5 }) });
    const local = makeClient(6, { kind: "local", l2NormClip: 1, noiseMultiplier: 4 });
    const dpsgd = makeClient(7, { kind: "dpsgd", l2NormClip: 1, noiseMultiplier: 1.1 });
    await Promise.all([
      runFlowerClient({ server: server.address, client: local }),
      runFlowerClient({ server: server.address, client: dpsgd }),
    ]);
    const result = await server.done;
    expect(result.violations).toEqual([]);
    const [m1, m2] = [result.rounds[0].fitMetrics, result.rounds[1].fitMetrics];
    const eps = (ms: typeof m1) => ms.map((m) => m.epsilon as number).sort((x, y) => x - y);
    for (let k = 0; k < 2; k++) expect(eps(m2)[k]).toBeGreaterThan(eps(m1)[k]);
    expect(local.summary().epsilon).toBeGreaterThan(0);
    expect(local.summary().delta).toBe(1e-5);
    expect(dpsgd.summary().event.kind).toBe("composed");
  });
});

describe("bad server behaviour: a clear DpError, no hang", () => {
  const cases: [FlowerMisbehaviour, "fit" | "evaluate", RegExp][] = [
    ["unknownInstruction", "fit", /unknown instruction \(ServerMessage field 9\)/],
    ["emptyMessage", "evaluate", /empty ServerMessage/],
    ["malformedTensor", "fit", /Tensor 0 of the server's parameters is malformed/],
    ["wrongShape", "fit", /Tensor 0 has shape \(12\); the model's weight 0 has shape \(4, 3\)/],
    ["badTensorType", "fit", /tensor_type` must be "numpy.ndarray"/],
    ["nonFinite", "fit", /non-finite/],
    ["closeStream", "fit", /closed the stream before reconnect_ins/],
    ["abortStream", "evaluate", /UNAVAILABLE/],
    ["silent", "fit", /sent nothing for 1500 ms/],
  ];
  for (const [action, phase, pattern] of cases) {
    it(`${action} during ${phase}`, async () => {
      const server = await start({
        minClients: 1,
        rounds: 2,
        misbehave: { round: phase === "fit" ? 2 : 1, phase, action },
        fitConfig: () => ({ local_epochs: 1n }),
      });
      const t0 = Date.now();
      const err = await runFlowerClient({ server: server.address, client: makeClient(8), idleTimeoutMs: 1500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DpError);
      expect((err as DpError).message).toMatch(pattern);
      expect(Date.now() - t0).toBeLessThan(15_000);
    });
  }

  it("nothing listening: a connection error within the connect timeout", async () => {
    const err = await runFlowerClient({ server: "127.0.0.1:1", client: makeClient(9), connectTimeoutMs: 800 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DpError);
    expect((err as DpError).message).toMatch(/Could not connect to the Flower server at 127.0.0.1:1/);
  });
});

afterEach(() => {
  expect(tf.memory().numTensors).toBeLessThan(2000);
});
