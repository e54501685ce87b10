// Browser bundle for test/browser: the parts of dpkit a web page uses without tfjs.
import {
  createRapporEncoder,
  DEFAULT_RAPPOR_PARAMS,
  kRandomizedResponse,
  rapporBloomFilter,
  rapporPermanentResponse,
} from "../../src/ldp/index.js";
import { discreteGaussian, discreteLaplace, secureRng } from "../../src/random/index.js";
import { zigguratWasmActive } from "../../src/random/discrete-ziggurat.js";

const api = {
  hashes(values: string[], secret: string) {
    const p = DEFAULT_RAPPOR_PARAMS;
    return values.map((v, i) => {
      const cohort = i % p.numCohorts;
      const bloom = rapporBloomFilter(v, cohort, p.numHashes, p.numBits);
      return { bloom, prr: rapporPermanentResponse(secret, bloom, p.probPrr, p.numBits) };
    });
  },
  encode(values: string[], secret: string, cohort: number) {
    const client = createRapporEncoder({ params: DEFAULT_RAPPOR_PARAMS, secret, cohort });
    return values.map((v) => client.encodeDetailed(v));
  },
  samples(n: number) {
    const rng = secureRng();
    const g: number[] = [];
    const l: number[] = [];
    for (let i = 0; i < n; i++) {
      g.push(discreteGaussian(3, rng));
      l.push(discreteLaplace(2, rng));
    }
    const rr = kRandomizedResponse({ epsilon: 1, k: 4 });
    const reports = Array.from({ length: 2000 }, () => rr.randomize(2));
    return { secure: rng.secure, g, l, reports, zigguratWasm: zigguratWasmActive() };
  },
};

(globalThis as unknown as { dpkitTest: typeof api }).dpkitTest = api;
