/**
 * `bench/dpsgd-profile.bench.ts` with issue 19's noise paths switched off in process (the ziggurat's
 * two-pass add and the JS finiteness check: `setZigguratFusedAddForTesting(false)`), to measure the
 * `noise+upload` phase before and after on the same tree:
 * `DPSGD_PROFILE_MODELS=mlp DPSGD_PROFILE_REPS=30 npx tsx bench/dpsgd-profile-two-pass.ts` (before)
 * against `DPSGD_PROFILE_MODELS=mlp DPSGD_PROFILE_REPS=30 npm run bench -- dpsgd-profile` (after).
 * Not a `*.bench.ts`: `npm run bench` does not run it.
 */
import { setZigguratFusedAddForTesting } from "../src/random/discrete-ziggurat.js";

setZigguratFusedAddForTesting(false);
await import("./dpsgd-profile.bench.js");
