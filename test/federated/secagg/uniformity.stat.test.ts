import { describe, expect, it } from "vitest";
import { SecAggClient, SecAggServer, type SecAggSessionConfig } from "../../../src/federated/secagg/index.js";
import { SeededRng, type Rng } from "../../../src/random/index.js";

const DIM = 4096; // 16,384 bytes at 32 bits: 64 expected per byte value

/** Client 1's masked input (bytes) for `input`, in a 3-client session. */
function maskedBytes(input: Uint32Array, rng?: Rng): Uint8Array {
  const cfg: SecAggSessionConfig = {
    sessionId: new Uint8Array(32).fill(1),
    clientIds: [1, 2, 3],
    threshold: 2,
    dimension: DIM,
    modulusBits: 32,
  };
  const server = new SecAggServer({ config: cfg, rng });
  const clients = cfg.clientIds.map((id) => new SecAggClient({ config: cfg, id, rng }));
  for (const c of clients) server.receive(c.advertiseKeys());
  const dir = server.closeAdvertiseKeys();
  for (const c of clients) server.receive(c.shareKeys(dir));
  const fwd = server.closeShareKeys();
  return clients[0].maskInput(fwd[0], input).maskedInput;
}

/** Pearson chi-square of byte values against uniform (256 bins). */
function chiSquareBytes(bytes: Uint8Array): number {
  const counts = new Float64Array(256);
  for (const b of bytes) counts[b]++;
  const e = bytes.length / 256;
  let x2 = 0;
  for (const c of counts) x2 += ((c - e) * (c - e)) / e;
  return x2;
}

// Conservative critical value of docs/testing.md: df + 6 sqrt(2 df), df = 255 (false alarm about 1e-6).
const CRITICAL = 255 + 6 * Math.sqrt(2 * 255);

function rawBytes(input: Uint32Array): Uint8Array {
  return new Uint8Array(input.buffer.slice(0));
}

const inputs: Record<string, Uint32Array> = {
  zeros: new Uint32Array(DIM),
  "all ones": new Uint32Array(DIM).fill(0xffffffff),
  "a counter": Uint32Array.from({ length: DIM }, (_, i) => i),
  // a quantised update: small signed integers in two's complement
  "a quantised update": Uint32Array.from({ length: DIM }, (_, i) => (Math.round(100 * Math.sin(i)) & -1) >>> 0),
};

describe("masked inputs look uniform whatever the input (chi-square on the bytes)", () => {
  for (const [name, input] of Object.entries(inputs)) {
    it(`input: ${name} (seeded)`, () => {
      expect(chiSquareBytes(maskedBytes(input, new SeededRng(name.length)))).toBeLessThan(CRITICAL);
    });
  }

  it("input: a quantised update (secure random source)", () => {
    expect(chiSquareBytes(maskedBytes(inputs["a quantised update"]))).toBeLessThan(CRITICAL);
  });

  it("negative control: the same inputs with a zero mask fail the same check", () => {
    for (const input of Object.values(inputs)) {
      expect(chiSquareBytes(rawBytes(input))).toBeGreaterThan(CRITICAL);
    }
  });

  it("negative control: a mask with only one random byte per 32-bit entry fails", () => {
    const rng = new SeededRng(9);
    const weak = inputs["a quantised update"].map((v) => (v + (rng.nextUint32() & 0xff)) >>> 0);
    expect(chiSquareBytes(rawBytes(weak))).toBeGreaterThan(CRITICAL);
  });
});
