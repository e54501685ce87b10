/**
 * The HTTP side of the federated service, on node:http.
 *
 * Why node:http and not a framework: the service has a handful of routes, needs an exact byte
 * limit enforced while the body streams in (a 413 before the whole body is buffered), binary
 * bodies, and no dependency that a security review must follow; every Node HTTP framework
 * wraps this module anyway, and `fetch` on the client side needs nothing more.
 *
 * Routes: `POST /v1/{checkIn,poll,report,secagg}` (framed bodies, bearer token), `GET /status`
 * (JSON), and optional static assets (the browser client page at `/`) and data routes.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DpError, requireInteger } from "../../errors.js";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "../protocol/frame.js";
import { CLIENT_MESSAGE_TYPES, PROTOCOL_ERROR_STATUS, type ServerMessage } from "../protocol/messages.js";
import type { FederatedRequestHandler } from "../protocol/transport.js";

/** A static response (e.g. the browser client's page or bundle). */
export interface StaticAsset {
  contentType: string;
  body: string | Uint8Array;
}

/** Options for {@link serveFederatedHttp}. */
export interface FederatedHttpOptions {
  /** Port (0: any free port). Default 0. */
  port?: number;
  /** Interface. Default "127.0.0.1". */
  host?: string;
  /** Largest request body in bytes; larger ones get 413 without being read. Default 64 MiB. */
  maxBodyBytes?: number;
  /** What `GET /status` returns. */
  status?: () => unknown;
  /** Static assets by path (e.g. `/` and `/fl-client.js`). */
  assets?: Record<string, StaticAsset | (() => StaticAsset | Promise<StaticAsset>)>;
  /** Extra GET routes by path prefix (e.g. `/data/`), answering bytes or undefined (404). */
  getRoutes?: Record<string, (url: URL) => StaticAsset | undefined | Promise<StaticAsset | undefined>>;
  /** Called for every request with its method, path, status and body size (never the body). */
  log?: (line: string) => void;
  /**
   * How long `close()` lets requests already in flight finish before it cuts every connection
   * (ms). Default 5,000. While closing, each response says `connection: close`, so a client
   * that polls on a kept-alive connection cannot hold the server open.
   */
  closeGraceMs?: number;
}

/** A running HTTP server. */
export interface FederatedHttpServer {
  /** e.g. "http://127.0.0.1:41234". */
  readonly url: string;
  readonly port: number;
  /** The node:http server. */
  readonly server: Server;
  /**
   * Stops accepting connections, closes idle ones, answers requests in flight with
   * `connection: close`, and cuts whatever is still open after `closeGraceMs`: it always settles.
   */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Uint8Array): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.length,
    "cache-control": "no-store",
  });
  res.end(body);
}

function sendMessage(res: ServerResponse, message: ServerMessage): void {
  const status = message.type === "error" ? PROTOCOL_ERROR_STATUS[message.code] : 200;
  send(res, status, FRAME_CONTENT_TYPE, encodeFrame(message));
}

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | "too_large"> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      resolve("too_large");
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve("too_large");
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!over) resolve(new Uint8Array(Buffer.concat(chunks)));
    });
    req.on("error", reject);
  });
}

/**
 * Serves a federated service over HTTP.
 *
 * @param handler - the service (e.g. a `FederatedService`)
 * @param options - see {@link FederatedHttpOptions}
 * @returns the running server (its `url` has the real port)
 * @throws {@link DpError} `invalid_parameter` for a bad port or limit, `io_error` when it cannot listen
 * @example
 * ```ts
 * import { serveFederatedHttp } from "dpkit/federated";
 * const http = await serveFederatedHttp({ handle: () => ({ type: "done", reason: "demo" }) }, { port: 0 });
 * console.log(http.url);
 * await http.close();
 * ```
 */
export async function serveFederatedHttp(
  handler: FederatedRequestHandler,
  options: FederatedHttpOptions = {},
): Promise<FederatedHttpServer> {
  const port = requireInteger("port", options.port ?? 0, { min: 0, max: 65535 });
  const host = options.host ?? "127.0.0.1";
  const limit = requireInteger("maxBodyBytes", options.maxBodyBytes ?? 64 * 1024 * 1024, { min: 1024 });
  const log = options.log;
  const graceMs = requireInteger("closeGraceMs", options.closeGraceMs ?? 5_000, { min: 0, max: 600_000 });
  let closing = false;
  const pending = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    // Once closing, every answer ends its connection: a kept-alive poller cannot hold the port.
    if (closing) res.shouldKeepAlive = false;
    else {
      pending.add(res);
      res.once("close", () => pending.delete(res));
    }
    void (async () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const path = url.pathname;
      let bytes = 0;
      try {
        if (req.method === "POST" && path.startsWith("/v1/")) {
          const type = path.slice(4);
          if (!(CLIENT_MESSAGE_TYPES as readonly string[]).includes(type)) {
            req.resume();
            return sendMessage(res, { type: "error", code: "not_found", reason: `no route POST ${path}` });
          }
          const ct = String(req.headers["content-type"] ?? "");
          if (!ct.startsWith(FRAME_CONTENT_TYPE)) {
            req.resume();
            return sendMessage(res, { type: "error", code: "unsupported_media", reason: `the body must be ${FRAME_CONTENT_TYPE}` });
          }
          const body = await readBody(req, limit);
          if (body === "too_large") {
            res.setHeader("connection", "close");
            return sendMessage(res, { type: "error", code: "too_large", reason: `the body exceeds ${limit} bytes` });
          }
          bytes = body.length;
          let decoded: unknown;
          try {
            decoded = decodeFrame(body);
          } catch (e) {
            return sendMessage(res, { type: "error", code: "bad_request", reason: (e as Error).message });
          }
          const auth = String(req.headers.authorization ?? "");
          const token = auth.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
          const answer = await handler.handle(type, decoded, token, bytes);
          return sendMessage(res, answer);
        }
        if (req.method === "GET" || req.method === "HEAD") {
          if (path === "/status" && options.status) return send(res, 200, "application/json", JSON.stringify(options.status()));
          const asset = options.assets?.[path];
          if (asset) {
            const a = typeof asset === "function" ? await asset() : asset;
            return send(res, 200, a.contentType, a.body);
          }
          for (const [prefix, route] of Object.entries(options.getRoutes ?? {})) {
            if (path.startsWith(prefix)) {
              const a = await route(url);
              if (a) return send(res, 200, a.contentType, a.body);
            }
          }
        }
        req.resume();
        send(res, 404, "application/json", JSON.stringify({ error: "not_found", reason: `no route ${req.method} ${path}` }));
      } catch (e) {
        const bad = e instanceof DpError && e.code === "invalid_parameter";
        if (!res.headersSent)
          send(
            res,
            bad ? 400 : 500,
            "application/json",
            JSON.stringify({ error: bad ? "bad_request" : "internal", reason: bad ? (e as Error).message : "internal error" }),
          );
        else res.destroy();
      } finally {
        log?.(`${req.method} ${path} ${res.statusCode} ${bytes}B`);
      }
    })();
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new DpError("io_error", `Cannot listen on ${host}:${port}: ${e.message}`, "port")));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const res of pending) if (!res.headersSent) res.shouldKeepAlive = false;
        // Requests in flight finish (their answers say `connection: close`); after the grace,
        // whatever is still open is cut, so close() settles even if a client keeps polling.
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
