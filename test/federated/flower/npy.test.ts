import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DpError } from "../../../src/errors.js";
import { allocateNpyData, decodeNpy, encodeNpy, NPY_DTYPES, type NpyArray, type NpyDtype } from "../../../src/federated/flower/npy.js";
import { SeededRng } from "../../../src/random/index.js";

const dir = path.join(import.meta.dirname, "../../fixtures/npy");

interface Golden {
  file: string;
  dtype: NpyDtype;
  descr: string;
  shape: number[];
  fortranOrder: boolean;
  version: [number, number];
  values: (number | string | boolean)[];
}
const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as { numpy: string; files: Golden[] };

function expectedValue(dtype: NpyDtype, v: number | string | boolean): number | bigint {
  if (dtype === "bool") return v ? 1 : 0;
  if (dtype === "int64" || dtype === "uint64") return BigInt(v as string);
  if (typeof v === "number") return v;
  if (v === "nan") return NaN;
  if (v === "inf") return Infinity;
  if (v === "-inf") return -Infinity;
  if (v === "-0") return -0;
  return Number(v);
}

const read = (f: string): Uint8Array => new Uint8Array(readFileSync(path.join(dir, f)));

describe("decodeNpy on files written by NumPy", () => {
  it("covers every dtype, both byte orders, both memory orders and versions 1–3", () => {
    const seen = new Set(manifest.files.map((g) => g.dtype));
    for (const d of NPY_DTYPES) expect(seen.has(d)).toBe(true);
    expect(manifest.files.some((g) => g.descr.startsWith(">"))).toBe(true);
    expect(manifest.files.some((g) => g.fortranOrder)).toBe(true);
    expect(new Set(manifest.files.map((g) => g.version[0]))).toEqual(new Set([1, 2, 3]));
    expect(manifest.files.some((g) => g.shape.length === 0)).toBe(true);
  });

  for (const g of manifest.files) {
    it(`${g.file}: ${g.descr} ${JSON.stringify(g.shape)}${g.fortranOrder ? " Fortran" : ""} v${g.version.join(".")}`, () => {
      const a = decodeNpy(read(g.file));
      expect(a.dtype).toBe(g.dtype);
      expect(a.shape).toEqual(g.shape);
      expect(a.fortranOrder).toBe(g.fortranOrder);
      expect(a.version).toEqual(g.version);
      expect(a.data.length).toBe(g.values.length);
      for (let i = 0; i < g.values.length; i++) {
        const want = expectedValue(g.dtype, g.values[i]);
        if (g.dtype === "float32" && typeof want === "number") expect(Object.is(a.data[i], Math.fround(want))).toBe(true);
        else expect(Object.is(a.data[i], want)).toBe(true);
      }
    });

    it(`${g.file}: encodeNpy writes the same bytes as NumPy`, () => {
      const a = decodeNpy(read(g.file));
      const bytes = encodeNpy(a, {
        fortranOrder: a.fortranOrder,
        byteOrder: a.byteOrder === ">" ? ">" : "<",
        version: a.version as [1, 0],
      });
      expect(Buffer.from(bytes).equals(Buffer.from(read(g.file)))).toBe(true);
    });
  }
});

describe("decodeNpy refuses what np.load(allow_pickle=False) must not load", () => {
  const refused = (bytes: Uint8Array, pattern: RegExp): void => {
    let err: unknown;
    try {
      decodeNpy(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DpError);
    expect((err as DpError).code).toBe("protocol_error");
    expect((err as DpError).message).toMatch(pattern);
  };
  it("object (pickled), structured, unicode and float16 arrays written by NumPy", () => {
    refused(read("bad-object.npy"), /Object arrays .* pickle/);
    refused(read("bad-structured.npy"), /structured/);
    refused(read("bad-unicode.npy"), /Unsupported .npy dtype "<U2"/);
    refused(read("bad-float16.npy"), /Unsupported .npy dtype "<f2"/);
  });

  const good = read("float32-c-le.npy");
  const withHeader = (header: string, data = new Uint8Array(24)): Uint8Array => {
    const h = new TextEncoder().encode(header + "\n");
    const out = new Uint8Array(10 + h.length + data.length);
    out.set(good.subarray(0, 8));
    new DataView(out.buffer).setUint16(8, h.length, true);
    out.set(h, 10);
    out.set(data, 10 + h.length);
    return out;
  };
  it("malformed headers", () => {
    refused(new Uint8Array([1, 2, 3]), /shorter/);
    refused(Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x58, 1, 0, 0, 0, 0]), /magic/);
    const v4 = good.slice();
    v4[6] = 4;
    refused(v4, /version 4\.0/);
    refused(good.subarray(0, 40), /Truncated/);
    // the helper itself builds a valid file when the header is right (so the refusals below are about the header)
    expect(decodeNpy(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")).shape).toEqual([2, 3]);
  });
  it("headers with wrong keys, values or lengths", () => {
    refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }"), /Malformed|unexpected/);
    refused(withHeader("{'descr': '<f4', 'fortran_order': False, }"), /keys/);
    refused(withHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }"), /unexpected value|fortran_order/);
    refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }"), /tuple of non-negative/);
    refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk"), /after the closing brace/);
    refused(withHeader("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,), }"), /structured/);
    refused(withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"), /pickle/);
    refused(withHeader("{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3), }"), /native byte order/);
    refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }"), /needs 32/);
    refused(
      withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999, 99999999999999999), }"),
      /too large|addressed/,
    );
    refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(28)), /is 28 bytes/);
    refused(withHeader("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", new Uint8Array([1, 2])), /byte 2/);
    const noNewline = withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    noNewline[10 + 59] = 0x20;
    refused(noNewline, /newline/);
  });
});

describe("encodeNpy ↔ decodeNpy round trips", () => {
  const rng = new SeededRng(7);
  const make = (dtype: NpyDtype, shape: number[]): NpyArray => {
    const n = shape.reduce((a, b) => a * b, 1);
    const out = allocateNpyData(dtype, n);
    for (let i = 0; i < n; i++) {
      const r = rng.nextUint32();
      if (out instanceof BigInt64Array) out[i] = BigInt(r) - 2n ** 31n;
      else if (out instanceof BigUint64Array) out[i] = BigInt(r) * 4096n;
      else if (dtype === "bool") out[i] = r & 1;
      else if (dtype.startsWith("float")) out[i] = (r / 2 ** 32 - 0.5) * 1e3;
      else out[i] = r;
    }
    return { dtype, shape, data: out };
  };
  for (const dtype of NPY_DTYPES) {
    for (const shape of [[], [5], [3, 4], [2, 3, 4], [0, 2]]) {
      it(`${dtype} ${JSON.stringify(shape)} in every order and byte order`, () => {
        const a = make(dtype, shape);
        for (const fortranOrder of [false, true]) {
          for (const byteOrder of ["<", ">"] as const) {
            for (const version of [
              [1, 0],
              [2, 0],
              [3, 0],
            ] as const) {
              const back = decodeNpy(encodeNpy(a, { fortranOrder, byteOrder, version: [...version] as [1, 0] }));
              expect(back.shape).toEqual(shape);
              expect(back.dtype).toBe(dtype);
              expect(Array.from(back.data as ArrayLike<number>)).toEqual(Array.from(a.data as ArrayLike<number>));
            }
          }
        }
      });
    }
  }
  it("refuses data of the wrong length or type", () => {
    expect(() => encodeNpy({ dtype: "float32", shape: [2], data: new Float32Array(3) })).toThrow(/2 elements/);
    expect(() => encodeNpy({ dtype: "float32", shape: [2], data: new Float64Array(2) })).toThrow(/Float32Array/);
  });
});

describe("decodeNpy on Node Buffers (what protobuf decoding hands over)", () => {
  it("decodes a tensor that is a view into a larger pooled Buffer", () => {
    const file = encodeNpy({ dtype: "float32", shape: [3], data: new Float32Array([1, 2, 3]) });
    const pool = Buffer.alloc(file.length + 37);
    Buffer.from(file).copy(pool, 5);
    const view = pool.subarray(5, 5 + file.length);
    expect(Array.from(decodeNpy(view).data as Float32Array)).toEqual([1, 2, 3]);
  });
});
