/**
 * The HTTP client transport: every protocol message is one `POST /v1/<type>` with a framed body
 * (JSON header plus raw little-endian tensors, no base64) and the bearer token in the
 * `authorization` header. It uses `fetch` only, so the same code runs in Node (>= 20) and in a
 * browser page.
 * @module
 */
import { DpError, requireObject } from "../../errors.js";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "../protocol/frame.js";
import type { ClientMessage, ServerMessage } from "../protocol/messages.js";
import type { FederatedTransport } from "../protocol/transport.js";

/** Options for {@link HttpTransport}. */
export interface HttpTransportOptions {
  /** The server's base URL, e.g. "http://127.0.0.1:8080" (a path prefix is kept). */
  baseUrl: string;
  /** Per-request time limit in milliseconds. Default 60,000. */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. Default 256 MiB. */
  maxResponseBytes?: number;
  /** The fetch implementation; default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

/**
 * A {@link FederatedTransport} over HTTP with `fetch`.
 *
 * @remarks
 * A refused request comes back as the server's `{ type: "error", code, reason }` answer (with a
 * 4xx status) and is returned, not thrown. The transport throws a {@link DpError}:
 * `io_error` when the server cannot be reached, times out, or answers 5xx without a protocol
 * body (the client retries later); `protocol_error` when the answer is not a well-formed frame
 * or is larger than `maxResponseBytes` (the client gives up with that message). It does not
 * validate the message's fields: the client runtime does, for every transport.
 *
 * @example
 * ```ts
 * import { HttpTransport } from "dpkit/federated";
 * const transport = new HttpTransport({ baseUrl: "http://127.0.0.1:8080" });
 * const answer = await transport.request({ type: "checkIn", protocol: 1, population: "mnist", clientKind: "node" });
 * ```
 */
export class HttpTransport implements FederatedTransport {
  /** Request body bytes sent so far. */
  bytesUp = 0;
  /** Response body bytes received so far. */
  bytesDown = 0;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly fetchImpl: typeof fetch;

  /**
   * @param options - see {@link HttpTransportOptions}
   * @throws {@link DpError} `invalid_parameter` for a URL that is not http(s), or bad limits
   */
  constructor(options: HttpTransportOptions) {
    requireObject("options", options);
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new DpError("invalid_parameter", `\`baseUrl\` must be an http(s) URL. Found ${JSON.stringify(options.baseUrl)}.`, "baseUrl");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new DpError("invalid_parameter", `\`baseUrl\` must be an http(s) URL. Found ${JSON.stringify(options.baseUrl)}.`, "baseUrl");
    }
    this.base = url.href.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 60_000;
    if (!(Number.isFinite(this.timeoutMs) && this.timeoutMs > 0))
      throw new DpError("invalid_parameter", `\`timeoutMs\` must be > 0. Found ${options.timeoutMs}.`, "timeoutMs");
    this.maxResponseBytes = options.maxResponseBytes ?? 256 * 1024 * 1024;
    if (!(Number.isSafeInteger(this.maxResponseBytes) && this.maxResponseBytes > 0)) {
      throw new DpError(
        "invalid_parameter",
        `\`maxResponseBytes\` must be a positive integer. Found ${options.maxResponseBytes}.`,
        "maxResponseBytes",
      );
    }
    const f = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (typeof f !== "function") throw new DpError("invalid_parameter", "`fetch` is not available here.", "fetch");
    this.fetchImpl = f.bind(globalThis);
  }

  /** The server's base URL (without a trailing slash). */
  get baseUrl(): string {
    return this.base;
  }

  /**
   * Posts `message` to `/v1/<message.type>` and returns the decoded answer (unvalidated).
   * @throws {@link DpError} `io_error` (unreachable, timeout, 5xx) or `protocol_error` (malformed answer)
   */
  async request(message: ClientMessage, token?: string): Promise<ServerMessage> {
    const body = encodeFrame(message);
    this.bytesUp += body.length;
    const headers: Record<string, string> = { "content-type": FRAME_CONTENT_TYPE, accept: FRAME_CONTENT_TYPE };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    const url = `${this.base}/v1/${message.type}`;
    try {
      let res: Response;
      try {
        res = await this.fetchImpl(url, { method: "POST", headers, body: body as unknown as BodyInit, signal: controller.signal });
      } catch (e) {
        const why = controller.signal.aborted ? `no answer within ${this.timeoutMs} ms` : (e as Error).message;
        throw new DpError("io_error", `Cannot reach the federated server at ${url}: ${why}`, "baseUrl");
      }
      const bytes = await this.readBody(res, url, controller);
      this.bytesDown += bytes.length;
      const type = res.headers.get("content-type") ?? "";
      let decoded: unknown;
      try {
        if (type.startsWith("application/json")) decoded = JSON.parse(new TextDecoder().decode(bytes));
        else decoded = decodeFrame(bytes);
      } catch (e) {
        if (res.status >= 500) throw new DpError("io_error", `The federated server answered ${res.status} at ${url}.`, "baseUrl");
        throw new DpError(
          "protocol_error",
          `The federated server's answer to ${message.type} (HTTP ${res.status}) is malformed: ${(e as Error).message}`,
          "response",
        );
      }
      return decoded as ServerMessage;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads a body up to the size limit. */
  private async readBody(res: Response, url: string, controller: AbortController): Promise<Uint8Array> {
    const declared = Number(res.headers.get("content-length") ?? NaN);
    if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
      controller.abort();
      throw new DpError(
        "protocol_error",
        `The federated server's answer at ${url} is ${declared} bytes, over the limit of ${this.maxResponseBytes}.`,
        "response",
      );
    }
    if (!res.body) return new Uint8Array(await res.arrayBuffer());
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > this.maxResponseBytes) {
          controller.abort();
          throw new DpError(
            "protocol_error",
            `The federated server's answer at ${url} exceeds the limit of ${this.maxResponseBytes} bytes.`,
            "response",
          );
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof DpError) throw e;
      const why = controller.signal.aborted ? `no answer within ${this.timeoutMs} ms` : (e as Error).message;
      throw new DpError("io_error", `The connection to ${url} failed while reading the answer: ${why}`, "baseUrl");
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
