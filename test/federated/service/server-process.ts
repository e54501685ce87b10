/**
 * Test fixture: a federated server process on a toy model (no tfjs), configured by a JSON
 * argument. Prints `URL <url>` on stdout when listening and `STATUS <json>` when done; every
 * log line (service and HTTP) goes to the log file.
 */
import { appendFileSync } from "node:fs";
import { FederatedService, type FederatedServiceOptions } from "../../../src/federated/server/service.js";
import { serveFederatedHttp } from "../../../src/federated/transport/http-server.js";

const cfg = JSON.parse(process.argv[2]) as Partial<FederatedServiceOptions> & {
  db: string;
  port?: number;
  logFile: string;
  dimension: number;
  maxBodyBytes?: number;
};
const log = (line: string): void => appendFileSync(cfg.logFile, `${line}\n`);
const init = new Float32Array(cfg.dimension);
for (let i = 0; i < init.length; i++) init[i] = ((i % 7) - 3) / 10;
const service = await FederatedService.open({
  model: { name: "toy", dimension: cfg.dimension },
  initialWeights: init,
  training: { localEpochs: 1, batchSize: 1, learningRate: 0.1, minExamples: 1 },
  rounds: 3,
  clientsPerRound: 5,
  minClients: 3,
  dp: "none",
  ...cfg,
  log,
});
const http = await serveFederatedHttp(service, {
  port: cfg.port ?? 0,
  status: () => service.status(),
  maxBodyBytes: cfg.maxBodyBytes,
  log,
});
process.stdout.write(`URL ${http.url}\n`);
await service.whenDone();
await new Promise((r) => setTimeout(r, 1000));
process.stdout.write(`STATUS ${JSON.stringify(service.status())}\n`);
await http.close();
service.close();
process.exit(0);
