/**
 * Binary framing of protocol messages: JSON for the control fields, raw little-endian bytes for
 * tensors and keys (no base64), in one body that `fetch` and node:http both carry unchanged.
 *
 * ```
 * offset 0   "DPKF"                       magic (4 bytes)
 *        4   u8 version (1), 3 bytes zero
 *        8   u32 LE  J = byte length of the JSON header
 *       12   J bytes UTF-8 JSON; every Uint8Array / Float32Array in the message is replaced by
 *            {"$blob": i} (i = index in the blob list)
 *            zero padding to a multiple of 4
 *            then for each blob i: u32 LE kind (1 = Uint8Array, 2 = Float32Array),
 *            u32 LE byte length L, L bytes, zero padding to a multiple of 4
 * ```
 *
 * Decoding checks every length against the buffer before reading it, refuses trailing bytes,
 * unreferenced or twice-referenced blobs, and JSON nested deeper than {@link MAX_FRAME_DEPTH}.
 * Float32 payloads are copied out (so the result is aligned and owns its memory).
 *
 * @module
 */
import { DpError } from "../../errors.js";

/** The content type of a framed body. */
export const FRAME_CONTENT_TYPE = "application/x-dpkit-frame";
/** Version byte written by {@link encodeFrame}. */
export const FRAME_VERSION = 1;
/** Deepest JSON nesting {@link decodeFrame} accepts. */
export const MAX_FRAME_DEPTH = 16;

const MAGIC = [0x44, 0x50, 0x4b, 0x46]; // "DPKF"
const BLOB_KEY = "$blob";
const KIND_BYTES = 1;
const KIND_FLOAT32 = 2;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function frameError(reason: string): DpError {
  return new DpError("protocol_error", `Malformed frame: ${reason}`, "body");
}

/**
 * Encodes a message (plain JSON values plus `Uint8Array` / `Float32Array` anywhere) as one frame.
 *
 * @param message - the message; other typed arrays, functions, `undefined` in arrays and cycles are not supported
 * @returns the frame bytes
 * @example
 * ```ts
 * import { encodeFrame, decodeFrame } from "dpkit/federated";
 * const bytes = encodeFrame({ type: "report", update: new Float32Array([1, 2]) });
 * decodeFrame(bytes); // { type: "report", update: Float32Array [1, 2] }
 * ```
 */
export function encodeFrame(message: unknown): Uint8Array {
  const blobs: (Uint8Array | Float32Array)[] = [];
  const json = JSON.stringify(message, (_k, v: unknown) => {
    if (v instanceof Uint8Array || v instanceof Float32Array) {
      blobs.push(v);
      return { [BLOB_KEY]: blobs.length - 1 };
    }
    if (ArrayBuffer.isView(v)) throw new DpError("invalid_parameter", "Only Uint8Array and Float32Array can be framed.", "message");
    return v;
  });
  const header = new TextEncoder().encode(json);
  let size = 12 + pad4(header.length);
  for (const b of blobs) size += 8 + pad4(b.byteLength);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FRAME_VERSION;
  view.setUint32(8, header.length, true);
  out.set(header, 12);
  let o = 12 + pad4(header.length);
  for (const b of blobs) {
    view.setUint32(o, b instanceof Float32Array ? KIND_FLOAT32 : KIND_BYTES, true);
    view.setUint32(o + 4, b.byteLength, true);
    if (b instanceof Float32Array && !LITTLE_ENDIAN) {
      for (let i = 0; i < b.length; i++) view.setFloat32(o + 8 + 4 * i, b[i], true);
    } else {
      out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), o + 8);
    }
    o += 8 + pad4(b.byteLength);
  }
  return out;
}

/**
 * Decodes a frame written by {@link encodeFrame}.
 *
 * @param bytes - the received body (untrusted)
 * @returns the message, with blobs restored as `Uint8Array` / `Float32Array`
 * @throws {@link DpError} `protocol_error` naming what is malformed
 * @example
 * ```ts
 * import { encodeFrame, decodeFrame } from "dpkit/federated";
 * decodeFrame(encodeFrame({ type: "poll", round: 0 })); // { type: "poll", round: 0 }
 * ```
 */
export function decodeFrame(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) throw frameError("body is not bytes");
  if (bytes.length < 12) throw frameError(`${bytes.length} bytes is shorter than the 12-byte preamble`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) throw frameError("bad magic (not a dpkit frame)");
  if (bytes[4] !== FRAME_VERSION) throw frameError(`unsupported version ${bytes[4]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(8, true);
  if (12 + jsonLength > bytes.length) throw frameError(`JSON length ${jsonLength} runs past the end`);
  const blobs: (Uint8Array | Float32Array)[] = [];
  let o = 12 + pad4(jsonLength);
  while (o < bytes.length) {
    if (o + 8 > bytes.length) throw frameError("truncated blob header");
    const kind = view.getUint32(o, true);
    const length = view.getUint32(o + 4, true);
    if (o + 8 + length > bytes.length) throw frameError(`blob ${blobs.length} of ${length} bytes runs past the end`);
    const start = o + 8;
    if (kind === KIND_BYTES) blobs.push(bytes.slice(start, start + length));
    else if (kind === KIND_FLOAT32) {
      if (length % 4 !== 0) throw frameError(`float32 blob ${blobs.length} has ${length} bytes, not a multiple of 4`);
      const f = new Float32Array(length / 4);
      if (LITTLE_ENDIAN) new Uint8Array(f.buffer).set(bytes.subarray(start, start + length));
      else for (let i = 0; i < f.length; i++) f[i] = view.getFloat32(start + 4 * i, true);
      blobs.push(f);
    } else throw frameError(`unknown blob kind ${kind}`);
    o += 8 + pad4(length);
  }
  if (o !== pad4(bytes.length) || o < bytes.length) throw frameError("trailing bytes");
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + jsonLength)));
  } catch (e) {
    throw frameError(`JSON header: ${(e as Error).message}`);
  }
  const used = new Set<number>();
  const restore = (v: unknown, depth: number): unknown => {
    if (depth > MAX_FRAME_DEPTH) throw frameError(`nested deeper than ${MAX_FRAME_DEPTH}`);
    if (Array.isArray(v)) return v.map((x) => restore(x, depth + 1));
    if (v !== null && typeof v === "object") {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === BLOB_KEY) {
        const i = (v as Record<string, unknown>)[BLOB_KEY];
        if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= blobs.length)
          throw frameError(`reference to missing blob ${String(i)}`);
        if (used.has(i)) throw frameError(`blob ${i} referenced twice`);
        used.add(i);
        return blobs[i];
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        if (k === "__proto__") throw frameError("forbidden key __proto__");
        out[k] = restore((v as Record<string, unknown>)[k], depth + 1);
      }
      return out;
    }
    return v;
  };
  const message = restore(parsed, 0);
  if (used.size !== blobs.length) throw frameError(`${blobs.length - used.size} unreferenced blob(s)`);
  return message;
}
