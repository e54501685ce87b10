import { describe, expect, it } from "vitest";
import {
  deserializeSecAggMessage,
  SecAggClient,
  SecAggServer,
  serializeSecAggMessage,
  simulateSecAgg,
  type SecAggDropStage,
  type SecAggSessionConfig,
} from "../../../src/federated/secagg/index.js";
import { DpError } from "../../../src/errors.js";
import { SeededRng } from "../../../src/random/index.js";

const STAGES: SecAggDropStage[] = ["advertiseKeys", "shareKeys", "maskedInput", "unmasking"];

function config(n: number, t: number, extra: Partial<SecAggSessionConfig> = {}): SecAggSessionConfig {
  return {
    sessionId: new Uint8Array(32).fill(7),
    clientIds: Array.from({ length: n }, (_, i) => i + 1),
    threshold: t,
    dimension: 8,
    modulusBits: 32,
    ...extra,
  };
}

/** Runs the protocol by hand up to (and including) the masked-input round. */
function upToUnmasking(n: number, t: number, seed = 1) {
  const rng = new SeededRng(seed);
  const cfg = config(n, t);
  const server = new SecAggServer({ config: cfg, rng });
  const clients = cfg.clientIds.map((id) => new SecAggClient({ config: cfg, id, rng }));
  for (const c of clients) server.receive(c.advertiseKeys());
  const dir = server.closeAdvertiseKeys();
  const shareMsgs = clients.map((c) => c.shareKeys(dir));
  for (const m of shareMsgs) server.receive(m);
  const forwarded = server.closeShareKeys();
  const inputs = clients.map((c) => Uint32Array.from({ length: cfg.dimension }, (_, i) => c.id * 1000 + i));
  const masked = clients.map((c, k) => c.maskInput(forwarded[k], inputs[k]));
  return { cfg, server, clients, dir, shareMsgs, forwarded, inputs, masked };
}

function expectProtocolError(f: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DpError);
  expect((caught as DpError).code).toBe("protocol_error");
  expect((caught as DpError).message).toMatch(pattern);
}

describe("secure aggregation: the unmasked sum is exact modulo 2^k", () => {
  for (const [n, t, dim] of [
    [3, 2, 300],
    [10, 6, 300],
    [50, 26, 100],
  ] as const) {
    it(`n = ${n}, t = ${t}, d = ${dim}, 32-bit`, () => {
      const r = simulateSecAgg({ clients: n, threshold: t, dimension: dim, rng: new SeededRng(n) });
      expect(r.abortReason).toBeUndefined();
      expect(r.survivors).toHaveLength(n);
      expect(r.exact).toBe(true);
    });
  }

  it("with a 16-bit and a 13-bit modulus (sums wrap around, still exact modulo 2^k)", () => {
    for (const bits of [16, 13]) {
      const inputs = Array.from({ length: 5 }, () => new Uint32Array(64).fill(2 ** bits - 1));
      const r = simulateSecAgg({ clients: 5, threshold: 3, dimension: 64, modulusBits: bits, inputs, rng: new SeededRng(bits) });
      expect(r.exact).toBe(true);
      expect(r.sum![0]).toBe((5 * (2 ** bits - 1)) % 2 ** bits);
    }
  });

  it("on the secure random source, with every message passed through JSON as over a network", () => {
    const r = simulateSecAgg({
      clients: 6,
      threshold: 4,
      dimension: 50,
      dropouts: { maskedInput: [2] },
      serialize: (m) => deserializeSecAggMessage(serializeSecAggMessage(m)),
    });
    expect(r.exact).toBe(true);
    expect(r.survivors).toEqual([1, 3, 4, 5, 6]);
  });

  it("negative control: a wrong sum is not reported as exact", () => {
    const r = simulateSecAgg({ clients: 3, threshold: 2, dimension: 4, rng: new SeededRng(3) });
    r.expected![0] ^= 1;
    expect(r.expected!.every((v, i) => v === r.sum![i])).toBe(false);
  });
});

describe("dropouts", () => {
  const n = 10;
  const t = 6;
  for (const stage of STAGES) {
    it(`any n - t = ${n - t} clients may drop at ${stage}; the result is the exact sum of the survivors`, () => {
      for (const drop of [
        [1, 2, 3, 4],
        [7, 8, 9, 10],
        [2, 5, 6, 9],
      ]) {
        const r = simulateSecAgg({
          clients: n,
          threshold: t,
          dimension: 40,
          dropouts: { [stage]: drop },
          rng: new SeededRng(drop[0] * 31 + stage.length),
        });
        expect(r.abortReason).toBeUndefined();
        expect(r.exact).toBe(true);
        const inSum = stage === "unmasking" ? n : n - drop.length; // after uploading, inputs stay in the sum
        expect(r.survivors).toHaveLength(inSum);
      }
    });

    it(`with fewer than t survivors at ${stage} the protocol aborts and releases nothing`, () => {
      const r = simulateSecAgg({ clients: n, threshold: t, dimension: 40, dropouts: { [stage]: [1, 2, 3, 4, 5] }, rng: new SeededRng(99) });
      expect(r.sum).toBeNull();
      expect(r.abortReason).toMatch(/threshold is 6/);
    });
  }

  it("drops at several stages add up (1 + 1 + 1 + 1 of 10, t = 6)", () => {
    const r = simulateSecAgg({
      clients: 10,
      threshold: 6,
      dimension: 30,
      dropouts: { advertiseKeys: [1], shareKeys: [4], maskedInput: [7], unmasking: [10] },
      rng: new SeededRng(5),
    });
    expect(r.exact).toBe(true);
    expect(r.survivors).toEqual([2, 3, 5, 6, 8, 9, 10]);
  });

  it("an aborted server refuses every later call", () => {
    const { server, clients, forwarded, masked } = upToUnmasking(5, 3);
    void forwarded;
    server.receive(masked[0]);
    server.receive(masked[1]);
    expectProtocolError(() => server.closeMaskedInput(), /only 2 masked inputs/);
    expect(server.stage).toBe("aborted");
    expectProtocolError(() => server.finalize(), /aborted/);
    expectProtocolError(() => server.receive(masked[2]), /aborted/);
    void clients;
  });
});

describe("an honest client", () => {
  it("refuses to reveal both the self-mask share and the key share of the same peer", () => {
    const { server, clients, masked } = upToUnmasking(5, 3);
    for (const m of masked) server.receive(m);
    const requests = server.closeMaskedInput();
    const forged = { ...requests[0], dropped: [2] }; // 2 is also listed as a survivor
    expect(forged.survivors).toContain(2);
    expectProtocolError(() => clients[0].unmask(forged), /refuses to reveal both the self-mask share and the key share of client 2/);
    expect(clients[0].stage).toBe("aborted");
  });

  it("answers an honest request with one kind of share per peer (control)", () => {
    const { server, clients, masked } = upToUnmasking(5, 3);
    for (const m of masked.slice(0, 4)) server.receive(m);
    const requests = server.closeMaskedInput();
    const r = clients[0].unmask(requests[0]);
    const self = r.selfMaskShares.map((s) => s.owner);
    const keys = r.keyShares.map((s) => s.owner);
    expect(keys).toEqual([5]);
    expect(self).toEqual([1, 2, 3, 4]);
    expect(self.filter((o) => keys.includes(o))).toEqual([]);
  });

  it("refuses a request that hides whether a partner survived, or leaves fewer than t survivors", () => {
    const a = upToUnmasking(5, 3);
    for (const m of a.masked) a.server.receive(m);
    const req = a.server.closeMaskedInput()[0];
    expectProtocolError(() => a.clients[0].unmask({ ...req, survivors: [1, 2, 3, 4] }), /does not say whether partner 5 survived/);
    const b = upToUnmasking(5, 3);
    for (const m of b.masked) b.server.receive(m);
    const req2 = b.server.closeMaskedInput()[0];
    expectProtocolError(
      () => b.clients[0].unmask({ ...req2, survivors: [1, 2], dropped: [3, 4, 5] }),
      /only 2 of this client's share holders survived/,
    );
  });
});

describe("tampering is detected (abort with a reason)", () => {
  it("a flipped bit in a forwarded ciphertext", () => {
    const { cfg, server, clients } = (() => {
      const rng = new SeededRng(4);
      const cfg = config(4, 3);
      const server = new SecAggServer({ config: cfg, rng });
      const clients = cfg.clientIds.map((id) => new SecAggClient({ config: cfg, id, rng }));
      return { cfg, server, clients };
    })();
    for (const c of clients) server.receive(c.advertiseKeys());
    const dir = server.closeAdvertiseKeys();
    for (const c of clients) server.receive(c.shareKeys(dir));
    const fwd = server.closeShareKeys();
    const tampered = structuredClone(fwd[0]);
    tampered.ciphertexts[1].ciphertext[10] ^= 1;
    expectProtocolError(() => clients[0].maskInput(tampered, new Uint32Array(cfg.dimension)), /authentication failed/);
    expect(clients[0].stage).toBe("aborted");
    // control: the untampered message is accepted by another client
    expect(() => clients[1].maskInput(fwd[1], new Uint32Array(cfg.dimension))).not.toThrow();
  });

  it("a ciphertext re-addressed to another client", () => {
    const { clients, forwarded, dir } = (() => {
      const rng = new SeededRng(6);
      const cfg = config(4, 3);
      const server = new SecAggServer({ config: cfg, rng });
      const clients = cfg.clientIds.map((id) => new SecAggClient({ config: cfg, id, rng }));
      for (const c of clients) server.receive(c.advertiseKeys());
      const dir = server.closeAdvertiseKeys();
      for (const c of clients) server.receive(c.shareKeys(dir));
      return { clients, forwarded: server.closeShareKeys(), dir };
    })();
    void dir;
    // client 1 receives the ciphertext that 2 encrypted for 3, relabelled as for 1
    const for3 = forwarded[2].ciphertexts.find((c) => c.sender === 2)!;
    const forged = structuredClone(forwarded[0]);
    forged.ciphertexts = forged.ciphertexts.map((c) => (c.sender === 2 ? { ...for3, recipient: 1 } : c));
    expectProtocolError(() => clients[0].maskInput(forged, new Uint32Array(8)), /authentication failed/);
  });

  for (const kind of ["selfMaskShares", "keyShares"] as const) {
    it(`a tampered ${kind === "selfMaskShares" ? "self-mask" : "key"} share in the unmasking round`, () => {
      const run = (tamper: boolean): { error?: DpError; sum?: Uint32Array } => {
        const { server, clients, masked } = upToUnmasking(5, 3, 11);
        for (const m of masked.slice(0, 4)) server.receive(m); // client 5 drops: key shares needed
        const requests = server.closeMaskedInput();
        const responses = requests.map((r) => clients[r.recipient - 1].unmask(r));
        if (tamper) {
          // Only t = 3 responders: no redundancy, only the commitment / public-key check can catch it.
          const victim = responses[0][kind][0];
          victim.share = victim.share.slice();
          victim.share[40] ^= 4;
        }
        for (const r of responses.slice(0, 3)) server.receive(r);
        try {
          return { sum: server.finalize().sum };
        } catch (e) {
          return { error: e as DpError };
        }
      };
      expect(run(false).error).toBeUndefined(); // control
      const bad = run(true);
      expect(bad.error).toBeInstanceOf(DpError);
      expect(bad.error!.message).toMatch(/releasing nothing.*tampered share/);
      expect(bad.sum).toBeUndefined();
    });
  }
});

describe("the state machines reject out-of-order and repeated messages", () => {
  it("client: each step only in its stage, naming the stage", () => {
    const cfg = config(3, 2);
    const c = new SecAggClient({ config: cfg, id: 1, rng: new SeededRng(1) });
    const dir = { stage: "keyDirectory" as const, entries: [], graphSeed: new Uint8Array(0) };
    expectProtocolError(() => c.shareKeys(dir), /not allowed in stage "start" \(expected stage "keysAdvertised"\)/);
    c.advertiseKeys();
    expectProtocolError(() => c.advertiseKeys(), /advertiseKeys is not allowed in stage "keysAdvertised"/);
    expectProtocolError(() => c.unmask({ stage: "unmaskingRequest", recipient: 1, survivors: [], dropped: [] }), /stage "keysAdvertised"/);
    expectProtocolError(() => c.shareKeys({ stage: "maskedInput" } as never), /expects a "keyDirectory" message in stage "keysAdvertised"/);
    expect(c.stage).toBe("keysAdvertised"); // a rejected message changes nothing
  });

  it("server: wrong round, repeated sender, unknown sender, closing twice", () => {
    const { cfg, server, clients, masked, shareMsgs } = upToUnmasking(4, 3);
    void cfg;
    expectProtocolError(
      () => server.receive(shareMsgs[0]),
      /not allowed in stage "collectingInputs" \(expected stage "collectingShares"\)/,
    );
    server.receive(masked[0]);
    expectProtocolError(() => server.receive(masked[0]), /repeated maskedInput from client 1/);
    expectProtocolError(() => server.receive({ ...masked[1], sender: 9 }), /did not share keys/);
    expectProtocolError(() => server.closeShareKeys(), /closeShareKeys is not allowed in stage "collectingInputs"/);
    expectProtocolError(() => server.finalize(), /finalize is not allowed in stage "collectingInputs"/);
    expectProtocolError(() => server.receive({ stage: "keyDirectory" } as never), /cannot send a "keyDirectory" message/);
    for (const m of masked.slice(1)) server.receive(m);
    const requests = server.closeMaskedInput();
    const r0 = clients[0].unmask(requests[0]);
    server.receive(r0);
    expectProtocolError(() => server.receive(r0), /repeated unmaskingResponse/);
    expectProtocolError(() => clients[0].unmask(requests[0]), /not allowed in stage "done"/);
  });

  it("server: a repeated advertiseKeys", () => {
    const cfg = config(3, 2);
    const server = new SecAggServer({ config: cfg });
    const c = new SecAggClient({ config: cfg, id: 2 });
    const m = c.advertiseKeys();
    server.receive(m);
    expectProtocolError(() => server.receive(m), /repeated advertiseKeys from client 2/);
  });
});

describe("parameters", () => {
  it("threshold must be a majority of the share holders and at most all of them", () => {
    expect(() => new SecAggServer({ config: config(10, 5) })).toThrow(/`threshold` must be in \[6, 10\]/);
    expect(() => new SecAggServer({ config: config(10, 11) })).toThrow(/`threshold` must be in \[6, 10\]/);
    expect(() => new SecAggServer({ config: config(30, 10, { degree: 8 }) })).toThrow(/in \[5, 9\] for 9 share holders/);
    expect(() => new SecAggServer({ config: config(30, 5, { degree: 7 }) })).toThrow(/`degree` must be even/);
    expect(() => new SecAggServer({ config: config(3, 2, { modulusBits: 33 }) })).toThrow(/modulusBits/);
    expect(() => new SecAggServer({ config: { ...config(3, 2), sessionId: new Uint8Array(4) } })).toThrow(/sessionId/);
  });

  it("inputs outside [0, 2^k) are refused", () => {
    const { clients, forwarded } = (() => {
      const rng = new SeededRng(2);
      const cfg = config(3, 2, { modulusBits: 8 });
      const server = new SecAggServer({ config: cfg, rng });
      const clients = cfg.clientIds.map((id) => new SecAggClient({ config: cfg, id, rng }));
      for (const c of clients) server.receive(c.advertiseKeys());
      const dir = server.closeAdvertiseKeys();
      for (const c of clients) server.receive(c.shareKeys(dir));
      return { clients, forwarded: server.closeShareKeys() };
    })();
    expect(() => clients[0].maskInput(forwarded[0], new Uint32Array(8).fill(256))).toThrow(/integers in \[0, 2\^8\)/);
  });
});

describe("malformed messages are refused at the boundary and drop their sender (issue 12, defect 5)", () => {
  it("an unmasking response without selfMaskShares cannot wedge the round", () => {
    const { server, clients, masked } = upToUnmasking(5, 3, 21);
    for (const m of masked) server.receive(m);
    const requests = server.closeMaskedInput();
    const responses = requests.map((r) => clients[r.recipient - 1].unmask(r));
    const { selfMaskShares: _omitted, ...broken } = responses[0];
    void _omitted;
    expectProtocolError(
      () => server.receive(broken as never),
      /client 1 dropped: malformed unmaskingResponse: `selfMaskShares` must be an array/,
    );
    // the sender is dropped: its well-formed response is refused too
    expectProtocolError(() => server.receive(responses[0]), /client 1 was dropped from this session/);
    expect(server.droppedForMisbehaviour.has(1)).toBe(true);
    for (const r of responses.slice(1)) server.receive(r);
    const result = server.finalize(); // no TypeError: the round completes without client 1's shares
    expect(server.stage).toBe("done");
    expect(result.survivors).toEqual([1, 2, 3, 4, 5]);
    expect(result.silentInUnmasking).toEqual([1]);
  });

  const mutations: [string, (m: Record<string, unknown>) => Record<string, unknown>, RegExp][] = [
    ["a null share", (m) => ({ ...m, keyShares: [null] }), /`keyShares\[0\]` must be an object/],
    ["a share of the wrong length", (m) => ({ ...m, selfMaskShares: [{ owner: 2, share: new Uint8Array(3) }] }), /66-byte `share`/],
    ["a string owner", (m) => ({ ...m, selfMaskShares: [{ owner: "2", share: new Uint8Array(66) }] }), /no valid `owner`/],
    ["an extra field", (m) => ({ ...m, extra: 1 }), /unexpected field "extra"/],
  ];
  for (const [what, mutate, pattern] of mutations) {
    it(`unmaskingResponse with ${what}`, () => {
      const { server, clients, masked } = upToUnmasking(5, 3, 22);
      for (const m of masked) server.receive(m);
      const requests = server.closeMaskedInput();
      const r = clients[0].unmask(requests[0]);
      expectProtocolError(() => server.receive(mutate(r as unknown as Record<string, unknown>) as never), pattern);
      expect(server.stage).toBe("collectingUnmasking");
    });
  }

  it("a shareKeys message whose ciphertexts hold garbage drops the sender; the round goes on without it", () => {
    const rng = new SeededRng(23);
    const cfg = config(5, 3);
    const server = new SecAggServer({ config: cfg, rng });
    const clients = cfg.clientIds.map((id) => new SecAggClient({ config: cfg, id, rng }));
    for (const c of clients) server.receive(c.advertiseKeys());
    const dir = server.closeAdvertiseKeys();
    const msgs = clients.map((c) => c.shareKeys(dir));
    expectProtocolError(
      () => server.receive({ ...msgs[0], ciphertexts: [null, 7] } as never),
      /client 1 dropped: malformed shareKeys: `ciphertexts\[0\]` must be an object/,
    );
    expectProtocolError(() => server.receive(msgs[0]), /client 1 was dropped/);
    expectProtocolError(() => server.receive({ ...msgs[1], ciphertexts: "x" } as never), /`ciphertexts` must be an array/);
    expectProtocolError(() => server.receive({ ...msgs[2], selfMaskCommitment: [1, 2] } as never), /commitment is not 32 bytes/);
    expectProtocolError(() => server.receive({ ...msgs[3], sender: "4" } as never), /unknown client|did not advertise/);
    for (const m of msgs.slice(3)) server.receive(m);
    expect(server.droppedForMisbehaviour.size).toBe(3);
  });

  it("a masked input that is not bytes drops the sender", () => {
    const { server, masked } = upToUnmasking(5, 3, 24);
    expectProtocolError(
      () => server.receive({ ...masked[0], maskedInput: Array.from(masked[0].maskedInput) } as never),
      /client 1 dropped: malformed maskedInput/,
    );
    expectProtocolError(() => server.receive(masked[0]), /was dropped/);
    for (const m of masked.slice(1)) server.receive(m);
    expect(server.closeMaskedInput()).toHaveLength(4);
  });
});

describe("a client refuses a malformed server message with a protocol_error and aborts (defect 5, client side)", () => {
  it("a key directory with a null entry", () => {
    const cfg = config(3, 2);
    const c = new SecAggClient({ config: cfg, id: 1, rng: new SeededRng(31) });
    c.advertiseKeys();
    expectProtocolError(
      () => c.shareKeys({ stage: "keyDirectory", entries: [null], graphSeed: new Uint8Array(0) } as never),
      /client 1 aborts: malformed message from the server/,
    );
    expect(c.stage).toBe("aborted");
  });
});
