import { Agent, createServer, get, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { serveFederatedHttp } from "../../../src/federated/transport/http-server.js";

// `close()` must settle even while a client keeps polling on a kept-alive connection, or holds a
// connected socket it never sent a request on (Chromium preconnects): node:http's close() waits on
// such a socket for ever (it stops reaping timed-out connections once closing), and the
// `dpkit server` process of the browser test hung on it in CI. The controls show each scenario
// does hold a plain node:http server open. Every wait is on an event (a request reached the
// handler, a socket reached the server), not on a sleep, so a loaded machine cannot reorder them.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const agents: Agent[] = [];
afterEach(() => {
  for (const a of agents.splice(0)) a.destroy();
});

/** Polls `url` every `everyMs` on one kept-alive socket until stopped; records each answer's `connection` header. */
function poller(url: string, everyMs: number): { stop: () => void; connection: string[]; errors: number } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  const state = { stop: () => void (stopped = true), connection: [] as string[], errors: 0 };
  let stopped = false;
  const once = (): void => {
    if (stopped) return;
    get(url, { agent }, (res) => {
      res.resume();
      res.on("end", () => {
        state.connection.push(String(res.headers.connection));
        setTimeout(once, everyMs);
      });
    }).on("error", () => {
      state.errors++;
    });
  };
  once();
  return state;
}

/** Counts requests that reached a handler; `reached(n)` resolves once n have. */
function counter(): { hit: () => void; reached: (n: number) => Promise<void> } {
  let hits = 0;
  const waiting: [number, () => void][] = [];
  return {
    hit: () => {
      hits++;
      for (const [n, r] of waiting) if (hits >= n) r();
    },
    reached: (n) => (hits >= n ? Promise.resolve() : new Promise((r) => waiting.push([n, r]))),
  };
}

/** Resolves with the ms `close` took, or "open" if it had not settled after `limitMs`. */
async function timeClose(close: () => Promise<void>, limitMs: number): Promise<number | "open"> {
  const t0 = Date.now();
  return Promise.race([close().then(() => Date.now() - t0), sleep(limitMs).then(() => "open" as const)]);
}

function closePlain(server: Server): Promise<void> {
  return new Promise<void>((r) => {
    server.close(() => r());
    server.closeIdleConnections();
  });
}

describe("serveFederatedHttp close()", () => {
  it("settles while a client polls on a kept-alive connection: answers in flight say connection: close", async () => {
    const requests = counter();
    const http = await serveFederatedHttp(
      { handle: () => ({ type: "done", reason: "test" }) },
      {
        getRoutes: { "/slow": async () => (requests.hit(), await sleep(300), { contentType: "text/plain", body: "ok" }) },
        // far above the limit below: it must settle by `connection: close`, not by the cut
        closeGraceMs: 60_000,
      },
    );
    const p = poller(`${http.url}/slow`, 10);
    await requests.reached(2); // the second poll is in flight (its answer comes 300 ms later)
    const took = await timeClose(() => http.close(), 4_000);
    p.stop();
    await sleep(100); // the client sees the last answer just after the server closes
    expect(took).not.toBe("open");
    // The answer in flight at close ends its connection, so no third poll is served.
    expect(p.connection).toEqual(["keep-alive", "close"]);
  });

  it("cuts a request that never finishes after closeGraceMs", async () => {
    const requests = counter();
    const http = await serveFederatedHttp(
      { handle: () => ({ type: "done", reason: "test" }) },
      { getRoutes: { "/hang": () => (requests.hit(), new Promise(() => {})) }, closeGraceMs: 200 },
    );
    const p = poller(`${http.url}/hang`, 10);
    await requests.reached(1);
    const took = await timeClose(() => http.close(), 4_000);
    p.stop();
    await sleep(100);
    expect(took).not.toBe("open");
    expect(took as number).toBeGreaterThanOrEqual(150);
    expect(p.errors).toBe(1); // the hung request was cut
  });

  it("cuts a connected socket that never sends a request (a browser's preconnect), which node:http's close() waits on for ever", async () => {
    const http = await serveFederatedHttp({ handle: () => ({ type: "done", reason: "test" }) }, { closeGraceMs: 200 });
    const plain: Server = createServer((_req, res) => void res.end("ok"));
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    const accepted = (server: Server) => new Promise<void>((r) => server.once("connection", () => r()));
    const open = (port: number): Socket => connect(port, "127.0.0.1").on("error", () => {});
    const both = Promise.all([accepted(http.server), accepted(plain)]);
    const ours = open(http.port);
    const theirs = open((plain.address() as AddressInfo).port);
    await both; // each server holds its socket
    const [tookOurs, tookPlain] = await Promise.all([timeClose(() => http.close(), 3_000), timeClose(() => closePlain(plain), 3_000)]);
    await sleep(50);
    expect(tookOurs).not.toBe("open");
    expect(ours.destroyed || ours.readableEnded).toBe(true);
    expect(tookPlain).toBe("open"); // the control: the same socket holds a plain server open
    plain.closeAllConnections();
    theirs.destroy();
  });

  it("control: a plain node:http server polled the same way stays open", async () => {
    const requests = counter();
    const server: Server = createServer((_req, res) => {
      requests.hit();
      setTimeout(() => res.end("ok"), 300);
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const p = poller(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, 10);
    await requests.reached(2);
    const took = await timeClose(() => closePlain(server), 2_000);
    p.stop();
    expect(took).toBe("open");
    expect(p.connection.every((c) => c === "keep-alive")).toBe(true);
    server.closeAllConnections();
  });
});
