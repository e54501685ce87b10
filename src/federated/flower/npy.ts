/**
 * The NumPy `.npy` format (versions 1.0, 2.0 and 3.0): what Flower puts in
 * `Parameters.tensors` (`np.save(buf, array, allow_pickle=False)`, tensor type
 * `"numpy.ndarray"`).
 *
 * Layout: the magic `\x93NUMPY`, a major and minor version byte, the header length (2 bytes
 * little-endian in 1.0, 4 bytes in 2.0 and 3.0), then a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` (latin-1 in 1.0/2.0, UTF-8 in
 * 3.0) padded with spaces and a final newline to a multiple of 64 bytes, then the raw data.
 * The encoder writes the bytes `np.save` writes (NumPy >= 1.24: the same header text, the same
 * 21-character growth padding, the same 64-byte alignment), so golden files compare byte for byte.
 *
 * Only plain numeric and boolean dtypes are accepted: object arrays (which need pickle),
 * structured (record) dtypes, strings and datetimes are refused, as `np.load(allow_pickle=False)`
 * refuses object arrays.
 *
 * @see https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 * @module
 */
import { DpError } from "../../errors.js";

/** Element types the codec reads and writes. */
export type NpyDtype = "float32" | "float64" | "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16" | "uint32" | "uint64" | "bool";

/** Every {@link NpyDtype}. */
export const NPY_DTYPES: readonly NpyDtype[] = [
  "float32",
  "float64",
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
  "bool",
];

/** The typed array that holds each dtype's elements (`bool` as 0/1 bytes). */
export type NpyData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** An n-dimensional array as the codec sees it: elements in C (row-major) order, native byte order. */
export interface NpyArray {
  /** Element type. */
  dtype: NpyDtype;
  /** Dimensions; `[]` for a 0-d (scalar) array. */
  shape: number[];
  /** The elements in C order; length is the product of `shape` (1 for a 0-d array). */
  data: NpyData;
}

/** What {@link decodeNpy} returns: the array plus how it was stored. */
export interface DecodedNpy extends NpyArray {
  /** Format version of the file, e.g. `[1, 0]`. */
  version: [number, number];
  /** Whether the file stored the data in Fortran (column-major) order (`data` is C order regardless). */
  fortranOrder: boolean;
  /** `"<"` little-endian, `">"` big-endian, `"|"` not applicable (1-byte types). */
  byteOrder: "<" | ">" | "|";
}

/** Options for {@link encodeNpy}. */
export interface EncodeNpyOptions {
  /** Store in Fortran (column-major) order. Default false (C order), as `np.save` of a C-contiguous array. */
  fortranOrder?: boolean;
  /** Byte order of multi-byte types. Default `"<"` (little-endian). */
  byteOrder?: "<" | ">";
  /** Format version; default the oldest that fits (1.0 unless the header needs more than 65535 bytes), as `np.save`. */
  version?: [1, 0] | [2, 0] | [3, 0];
}

/** Limits {@link decodeNpy} enforces before allocating anything. */
export interface DecodeNpyOptions {
  /** Largest header accepted, in bytes. Default 65536 (NumPy's own `max_header_size` is 10000). */
  maxHeaderBytes?: number;
  /** Largest number of dimensions. Default 32 (NumPy's limit). */
  maxDimensions?: number;
}

/** Whether this platform stores typed arrays little-endian (then little-endian C-order data is copied, not converted). */
const LITTLE_ENDIAN_PLATFORM = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;

interface DtypeInfo {
  kind: "f" | "i" | "u" | "b";
  size: number;
  /** The typed array that holds it (bool: bytes). */
  array: { new (n: number): NpyData; new (buffer: ArrayBuffer): NpyData };
  /** The DataView accessor suffix (`get…` / `set…`). */
  accessor: "Float32" | "Float64" | "Int8" | "Int16" | "Int32" | "BigInt64" | "Uint8" | "Uint16" | "Uint32" | "BigUint64";
}

const INFO: Record<NpyDtype, DtypeInfo> = {
  float32: { kind: "f", size: 4, array: Float32Array, accessor: "Float32" },
  float64: { kind: "f", size: 8, array: Float64Array, accessor: "Float64" },
  int8: { kind: "i", size: 1, array: Int8Array, accessor: "Int8" },
  int16: { kind: "i", size: 2, array: Int16Array, accessor: "Int16" },
  int32: { kind: "i", size: 4, array: Int32Array, accessor: "Int32" },
  int64: { kind: "i", size: 8, array: BigInt64Array, accessor: "BigInt64" },
  uint8: { kind: "u", size: 1, array: Uint8Array, accessor: "Uint8" },
  uint16: { kind: "u", size: 2, array: Uint16Array, accessor: "Uint16" },
  uint32: { kind: "u", size: 4, array: Uint32Array, accessor: "Uint32" },
  uint64: { kind: "u", size: 8, array: BigUint64Array, accessor: "BigUint64" },
  bool: { kind: "b", size: 1, array: Uint8Array, accessor: "Uint8" },
};

function fail(message: string, argument = "bytes"): never {
  throw new DpError("protocol_error", message, argument);
}

function dtypeFromKind(kind: string, size: number): NpyDtype | undefined {
  for (const d of NPY_DTYPES) if (INFO[d].kind === kind && INFO[d].size === size) return d;
  return undefined;
}

/** Allocates the typed array for `dtype` with `n` elements. @internal */
export function allocateNpyData(dtype: NpyDtype, n: number): NpyData {
  return new INFO[dtype].array(n);
}

function viewAs(dtype: NpyDtype, buffer: ArrayBuffer): NpyData {
  return new INFO[dtype].array(buffer);
}

function expectedConstructor(dtype: NpyDtype): string {
  return allocateNpyData(dtype, 0).constructor.name;
}

function elementCount(shape: readonly number[], argument: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) fail(`\`${argument}\` must hold non-negative integer dimensions. Found ${String(d)}.`, argument);
    n *= d;
    if (!Number.isSafeInteger(n))
      fail(`\`${argument}\` describes more elements than can be addressed. Found (${shape.join(", ")}).`, argument);
  }
  return n;
}

/** Python's repr of a shape tuple: `()`, `(3,)`, `(2, 3)`. */
function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 0) return "()";
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

/** Strides (in elements) of a C-order array. */
function cStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

/**
 * Index permutation between C and Fortran order: `perm[f] = c` where `f` is an element's
 * position in Fortran order and `c` its position in C order.
 */
function fortranToC(shape: readonly number[], n: number): Int32Array | Float64Array {
  const perm = n < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
  const nd = shape.length;
  const cs = cStrides(shape);
  const idx = new Array<number>(nd).fill(0);
  let c = 0;
  for (let f = 0; f < n; f++) {
    perm[f] = c;
    // advance the Fortran-order multi-index (first axis fastest)
    for (let k = 0; k < nd; k++) {
      idx[k]++;
      c += cs[k];
      if (idx[k] < shape[k]) break;
      c -= cs[k] * idx[k];
      idx[k] = 0;
    }
  }
  return perm;
}

/**
 * Encodes an array as `.npy` bytes, byte for byte as `np.save(f, a, allow_pickle=False)` writes
 * it (for the same dtype, byte order and memory order).
 *
 * @param array - dtype, shape and C-order data (a `bool` array holds 0/1 bytes)
 * @param options - memory order, byte order and version (defaults as `np.save`)
 * @returns the file's bytes
 * @throws {@link DpError} `protocol_error` when the data's length or type does not match the shape and dtype
 * @example
 * ```ts
 * import { encodeNpy, decodeNpy } from "dpkit/flower";
 * const bytes = encodeNpy({ dtype: "float32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
 * decodeNpy(bytes).shape; // [2, 2]
 * ```
 */
export function encodeNpy(array: NpyArray, options: EncodeNpyOptions = {}): Uint8Array {
  const { dtype, shape, data } = array;
  const info = INFO[dtype];
  if (!info) fail(`\`array.dtype\` must be one of ${NPY_DTYPES.join(", ")}. Found ${JSON.stringify(dtype)}.`, "array.dtype");
  const n = elementCount(shape, "array.shape");
  if (data.constructor.name !== expectedConstructor(dtype)) {
    fail(`\`array.data\` must be a ${expectedConstructor(dtype)} for dtype ${dtype}. Found a ${data.constructor.name}.`, "array.data");
  }
  if (data.length !== n) fail(`\`array.data\` must have ${n} elements for shape ${shapeRepr(shape)}. Found ${data.length}.`, "array.data");
  // As np.save: an array that is C- and Fortran-contiguous at once (at most one axis longer than
  // 1, or no elements) is written with fortran_order False.
  const fortran = options.fortranOrder === true && n > 0 && shape.filter((d) => d > 1).length > 1;
  const order = info.size === 1 ? "|" : (options.byteOrder ?? "<");
  if (order !== "|" && order !== "<" && order !== ">")
    fail(`\`byteOrder\` must be "<" or ">". Found ${JSON.stringify(order)}.`, "byteOrder");
  const descr = `${order}${info.kind}${info.size}`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) {
    const growth = String(shape[fortran ? shape.length - 1 : 0]);
    header += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - growth.length));
  }
  const headerBytes = new TextEncoder().encode(header); // ASCII: latin-1 and UTF-8 agree
  const hlen = headerBytes.length + 1;
  let version = options.version;
  if (!version) version = hlen + (ALIGN - ((MAGIC.length + 4 + hlen) % ALIGN)) <= 0xffff ? [1, 0] : [2, 0];
  const lenBytes = version[0] === 1 ? 2 : 4;
  const pad = ALIGN - ((MAGIC.length + 2 + lenBytes + hlen) % ALIGN);
  const total = hlen + pad;
  if (version[0] === 1 && total > 0xffff) fail(`Header length ${total} too big for version 1.0.`, "version");
  const offset = MAGIC.length + 2 + lenBytes + total;
  const out = new Uint8Array(offset + n * info.size);
  out.set(MAGIC, 0);
  out[6] = version[0];
  out[7] = version[1];
  const view = new DataView(out.buffer);
  if (lenBytes === 2) view.setUint16(8, total, true);
  else view.setUint32(8, total, true);
  const h0 = MAGIC.length + 2 + lenBytes;
  out.set(headerBytes, h0);
  out.fill(0x20, h0 + headerBytes.length, offset - 1);
  out[offset - 1] = 0x0a;
  let fileOrder: NpyData = data;
  if (fortran) {
    const perm = fortranToC(shape, n);
    fileOrder = allocateNpyData(dtype, n);
    for (let i = 0; i < n; i++) fileOrder[i] = data[perm[i]];
  }
  if (order !== ">" && LITTLE_ENDIAN_PLATFORM && dtype !== "bool") {
    out.set(new Uint8Array(fileOrder.buffer, fileOrder.byteOffset, fileOrder.byteLength), offset);
    return out;
  }
  writeElements(view, offset, fileOrder, dtype, order !== ">");
  return out;
}

function writeElements(view: DataView, offset: number, data: NpyData, dtype: NpyDtype, little: boolean): void {
  const n = data.length;
  const size = INFO[dtype].size;
  const set = view[`set${INFO[dtype].accessor}`] as (this: DataView, p: number, v: number | bigint, little: boolean) => void;
  for (let i = 0; i < n; i++) {
    const p = offset + i * size;
    const v = data[i];
    set.call(view, p, dtype === "bool" ? ((v as number) !== 0 ? 1 : 0) : v, little);
  }
}

function readElements(view: DataView, offset: number, out: NpyData, dtype: NpyDtype, little: boolean): void {
  const n = out.length;
  const size = INFO[dtype].size;
  for (let i = 0; i < n; i++) {
    const p = offset + i * size;
    switch (dtype) {
      case "float32":
        out[i] = view.getFloat32(p, little);
        break;
      case "float64":
        out[i] = view.getFloat64(p, little);
        break;
      case "int8":
        out[i] = view.getInt8(p);
        break;
      case "uint8":
        out[i] = view.getUint8(p);
        break;
      case "bool": {
        const b = view.getUint8(p);
        if (b > 1) fail(`A bool array holds the byte ${b} at element ${i}; only 0 and 1 are valid.`);
        out[i] = b;
        break;
      }
      case "int16":
        out[i] = view.getInt16(p, little);
        break;
      case "uint16":
        out[i] = view.getUint16(p, little);
        break;
      case "int32":
        out[i] = view.getInt32(p, little);
        break;
      case "uint32":
        out[i] = view.getUint32(p, little);
        break;
      case "int64":
        out[i] = view.getBigInt64(p, little);
        break;
      case "uint64":
        out[i] = view.getBigUint64(p, little);
        break;
    }
  }
}

/** A tiny strict parser for the header's dict literal (no eval). */
class HeaderParser {
  private i = 0;
  constructor(private readonly s: string) {}

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private expect(ch: string): void {
    this.ws();
    if (this.s[this.i] !== ch)
      fail(`Malformed .npy header: expected ${JSON.stringify(ch)} at offset ${this.i} of ${JSON.stringify(this.s.slice(0, 120))}.`);
    this.i++;
  }

  private peek(): string {
    this.ws();
    return this.s[this.i] ?? "";
  }

  private string(): string {
    this.ws();
    const q = this.s[this.i];
    if (q !== "'" && q !== '"') fail(`Malformed .npy header: expected a string at offset ${this.i}.`);
    const end = this.s.indexOf(q, this.i + 1);
    if (end < 0) fail("Malformed .npy header: unterminated string.");
    const v = this.s.slice(this.i + 1, end);
    if (v.includes("\\")) fail("Malformed .npy header: escapes in strings are not supported.");
    this.i = end + 1;
    return v;
  }

  private value(key: string): unknown {
    const c = this.peek();
    if (c === "'" || c === '"') return this.string();
    if (c === "(") {
      this.i++;
      const dims: number[] = [];
      for (let guard = 0; guard < 1000; guard++) {
        if (this.peek() === ")") {
          this.i++;
          return dims;
        }
        const m = /^\d+/.exec(this.s.slice(this.i));
        if (!m) fail(`Malformed .npy header: \`${key}\` must be a tuple of non-negative integers.`);
        if (m[0].length > 16) fail(`Malformed .npy header: dimension ${m[0]} is too large.`);
        dims.push(Number(m[0]));
        this.i += m[0].length;
        if (this.peek() === ",") this.i++;
        else if (this.peek() !== ")") fail(`Malformed .npy header: \`${key}\` must be a tuple of non-negative integers.`);
      }
      fail(`Malformed .npy header: \`${key}\` has too many dimensions.`);
    }
    for (const word of ["True", "False"]) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return word === "True";
      }
    }
    if (c === "[") fail(`The .npy header's \`${key}\` is a list: structured (record) and object dtypes are not supported.`);
    fail(`Malformed .npy header: unexpected value for \`${key}\` at offset ${this.i}.`);
  }

  parse(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.expect("{");
    for (let guard = 0; guard < 16; guard++) {
      if (this.peek() === "}") {
        this.i++;
        this.ws();
        if (this.i !== this.s.length) fail("Malformed .npy header: text after the closing brace.");
        return out;
      }
      const key = this.string();
      this.expect(":");
      if (Object.prototype.hasOwnProperty.call(out, key)) fail(`Malformed .npy header: key \`${key}\` appears twice.`);
      out[key] = this.value(key);
      if (this.peek() === ",") this.i++;
      else if (this.peek() !== "}") fail("Malformed .npy header: expected ',' or '}'.");
    }
    fail("Malformed .npy header: too many keys.");
  }
}

/**
 * Decodes `.npy` bytes (format 1.0, 2.0 or 3.0) into a C-order array in native byte order.
 *
 * @remarks
 * Strict where `np.load(allow_pickle=False)` is strict and a little stricter: the header must
 * hold exactly the keys `descr`, `fortran_order` and `shape`; the dtype must be a plain
 * little/big-endian float (4, 8 bytes), signed or unsigned integer (1–8 bytes) or bool; object
 * (`|O`), structured, string, datetime and half-precision arrays are refused; the data must be
 * exactly as long as the shape says (trailing bytes are refused, too); bool bytes must be 0 or 1.
 * Every size is checked before anything is allocated.
 *
 * @param bytes - the file's bytes
 * @param options - header size and dimension limits
 * @returns the array, the version and how it was stored
 * @throws {@link DpError} `protocol_error` naming what is wrong
 * @example
 * ```ts
 * import { decodeNpy, encodeNpy } from "dpkit/flower";
 * const a = decodeNpy(encodeNpy({ dtype: "int64", shape: [], data: new BigInt64Array([7n]) }));
 * a.data[0]; // 7n
 * ```
 */
export function decodeNpy(bytes: Uint8Array, options: DecodeNpyOptions = {}): DecodedNpy {
  if (!(bytes instanceof Uint8Array)) fail(`\`bytes\` must be a Uint8Array. Found ${typeof bytes}.`);
  const maxHeader = options.maxHeaderBytes ?? 65536;
  const maxDims = options.maxDimensions ?? 32;
  if (bytes.length < 10) fail(`Not a .npy file: ${bytes.length} bytes is shorter than the smallest header.`);
  for (let k = 0; k < MAGIC.length; k++) if (bytes[k] !== MAGIC[k]) fail("Not a .npy file: the magic string \\x93NUMPY is missing.");
  const major = bytes[6];
  const minor = bytes[7];
  if (!((major === 1 || major === 2 || major === 3) && minor === 0))
    fail(`Unsupported .npy format version ${major}.${minor} (1.0, 2.0 and 3.0 are supported).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail("Truncated .npy header.");
  const hlen = lenBytes === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (hlen > maxHeader) fail(`The .npy header is ${hlen} bytes, over the limit of ${maxHeader}.`);
  const h0 = 8 + lenBytes;
  if (h0 + hlen > bytes.length) fail(`Truncated .npy header: it claims ${hlen} bytes, ${bytes.length - h0} are present.`);
  const raw = bytes.subarray(h0, h0 + hlen);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      fail("The .npy 3.0 header is not valid UTF-8.");
    }
  } else {
    text = "";
    for (let k = 0; k < raw.length; k++) text += String.fromCharCode(raw[k]);
  }
  if (!text.endsWith("\n")) fail("Malformed .npy header: it does not end with a newline.");
  const dict = new HeaderParser(text.trimEnd()).parse();
  const keys = Object.keys(dict).sort().join(",");
  if (keys !== "descr,fortran_order,shape")
    fail(`Malformed .npy header: the keys must be descr, fortran_order and shape. Found ${keys || "none"}.`);
  const descr = dict.descr;
  const fortranOrder = dict.fortran_order;
  const shape = dict.shape;
  if (typeof fortranOrder !== "boolean") fail("Malformed .npy header: `fortran_order` must be True or False.");
  if (!Array.isArray(shape)) fail("Malformed .npy header: `shape` must be a tuple.");
  if (shape.length > maxDims) fail(`The .npy array has ${shape.length} dimensions, over the limit of ${maxDims}.`);
  if (typeof descr !== "string") fail("Malformed .npy header: `descr` must be a string.");
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  if (!m) {
    if (/^[<>|=]?O/.test(descr)) fail(`Object arrays (descr ${JSON.stringify(descr)}) need pickle and are refused.`);
    fail(`Unsupported .npy dtype ${JSON.stringify(descr)}.`);
  }
  const [, order, kind, sizeText] = m;
  if (kind === "O") fail(`Object arrays (descr ${JSON.stringify(descr)}) need pickle and are refused.`);
  const dtype = dtypeFromKind(kind, Number(sizeText));
  if (!dtype) fail(`Unsupported .npy dtype ${JSON.stringify(descr)} (supported: float32/64, int8–64, uint8–64, bool).`);
  if (order === "=") fail(`The .npy dtype ${JSON.stringify(descr)} uses native byte order '='; files must state '<', '>' or '|'.`);
  const size = INFO[dtype].size;
  if (size > 1 && order === "|") fail(`The .npy dtype ${JSON.stringify(descr)} needs a byte order ('<' or '>').`);
  const n = elementCount(shape as number[], "shape");
  const offset = h0 + hlen;
  const expected = n * size;
  if (bytes.length - offset !== expected) {
    fail(`The .npy data is ${bytes.length - offset} bytes; shape ${shapeRepr(shape as number[])} of ${descr} needs ${expected}.`);
  }
  const perm = fortranOrder && shape.length > 1 ? fortranToC(shape as number[], n) : undefined;
  let data: NpyData;
  if (order !== ">" && LITTLE_ENDIAN_PLATFORM && dtype !== "bool") {
    // A fresh, aligned copy (not bytes.slice: a Node Buffer's slice shares memory).
    const copy = new Uint8Array(expected);
    copy.set(bytes.subarray(offset, offset + expected));
    data = viewAs(dtype, copy.buffer);
  } else {
    data = allocateNpyData(dtype, n);
    readElements(view, offset, data, dtype, order !== ">");
  }
  if (perm) {
    const c = allocateNpyData(dtype, n);
    for (let i = 0; i < n; i++) c[perm[i]] = data[i];
    data = c;
  }
  return {
    dtype,
    shape: (shape as number[]).slice(),
    data,
    version: [major, minor],
    fortranOrder,
    byteOrder: size === 1 ? "|" : (order as "<" | ">"),
  };
}
