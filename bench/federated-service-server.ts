/**
 * Helper of bench/federated-service.bench.ts (not a benchmark itself): one federated server
 * process on a toy model of DIM parameters, configured by a JSON argument; prints `URL <url>`
 * when listening and `STATUS <json>` (with its own CPU time) when the population is done.
 */
import { FederatedService, type FederatedServiceOptions } from "../src/federated/server/service.js";
import { serveFederatedHttp } from "../src/federated/transport/http-server.js";

const cfg = JSON.parse(process.argv[2]) as Partial<FederatedServiceOptions> & { db: string; dimension: number };
const service = await FederatedService.open({
  model: { name: "bench", dimension: cfg.dimension },
  initialWeights: new Float32Array(cfg.dimension),
  training: { localEpochs: 1, batchSize: 1, learningRate: 0.1, minExamples: 1 },
  rounds: 1,
  clientsPerRound: 10,
  minClients: 1,
  dp: "none",
  ...cfg,
});
const http = await serveFederatedHttp(service, { port: 0, status: () => service.status(), maxBodyBytes: 8 * cfg.dimension + (1 << 20) });
process.stdout.write(`URL ${http.url}\n`);
// One attempt: completed, or abandoned (then the STATUS line says rounds: 0 and why).
await service.whenRoundEnds();
process.stdout.write(`STATUS ${JSON.stringify(service.status())}\n`);
// keep answering until the clients have learnt that the population is done
await new Promise((r) => setTimeout(r, 8000));
await http.close();
service.close();
process.exit(0);
