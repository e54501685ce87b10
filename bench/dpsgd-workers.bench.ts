/**
 * DP-SGD worker scaling: one full DP step (clipped sum, secure Gaussian noise, SGD update) at
 * batch 256 for the MNIST MLP and the small CNN (`mnistModel("mlp" | "cnn")`) on wasm, computed
 * in the calling thread (the default, no `workers`) and with a pool of worker threads
 * (`createDpWorkerPool`, chunks of CHUNK examples), side by side: the cases alternate within
 * each repetition and the table gives medians. The speed-up is in-process / workers.
 *
 * Every case is first run WARMUP times (default 150) and only then measured: each worker thread
 * is a fresh V8 isolate that compiles tfjs's JavaScript for itself, and for its first ~100 steps
 * V8's compiler threads compete with the workers for the cores (see docs/dpsgd-engine.md,
 * "Worker scaling"); the old default of one warm-up step measured that warm-up. The steady state
 * of a training run needs about 2000 warm-up steps (issue 19, seventh wave): over a caller + 1
 * worker pool's first 4000 CNN steps the other threads' CPU per step fell 3.2 → 1.5 → 0.9 → 0.7 →
 * 0.5 → 0.3 ms (per 500 steps), and in this bench the worker's isolate warms more slowly than the
 * calling thread's (which also runs the in-process case, two engine calls per repetition to the
 * worker's one): at WARMUP=600 the worker's 128-example chunk took 15.2–15.8 ms against the calling
 * thread's 13.4, at WARMUP=2000 13.5 against 13.4. Use WARMUP=2000 (with CHUNKED=0 to save time)
 * for figures of a training run's steady state. The warm-up prints the other threads' CPU per
 * repetition in windows of 500, to show that it has settled.
 *
 * The step's timeline (issue 19) is printed for each pool: from the step's start, when the calling
 * thread posted the request, finished its own chunks and its noise share, saw the last answer,
 * reduced, had the gradients ready and applied them; when the (first) worker woke, began and ended
 * its chunks and answered; and the derived calling thread's sleep, answer and wake latencies and
 * serial tail (medians; the threads' epoch clocks are comparable).
 *
 * Also printed, per step (means: the clock moves in scheduler ticks), from per-thread CPU clocks
 * (Linux schedstat; load-independent to first order): the calling thread's CPU time, the slowest
 * worker's CPU time (read by the calling thread while the worker sleeps before and after the step:
 * a worker's own reading at the end of its step lags by up to one scheduler tick, which until
 * issue 19's last wave understated it by ~1–2 ms and put that time under "CPU V8"),
 * the CPU time of every other thread of the process (V8's compiler and GC threads), and the
 * critical path they imply on idle cores — calling thread + slowest worker, and no less than all
 * threads' CPU time over the number of cores — with the speed-up it predicts. On a loaded machine
 * the wall-clock columns say little; the CPU columns still do (though a loaded host inflates CPU
 * times too: caches and memory bandwidth are shared).
 *
 * With `callerComputes` (issue 19) the calling thread computes the first ⌈chunks / (workers + 1)⌉
 * chunks itself while the workers compute the rest: the cases "caller + N worker(s)" (CALLER, a
 * list of worker counts; default 1, i.e. the calling thread and one worker share the 2 chunks of
 * 128). For those cases the critical path is max(calling thread, its serial part + slowest worker).
 *
 * Usage: npm run bench -- dpsgd-workers   (env: REPS=15, WARMUP=150, WORKERS=2 or a list such as
 * 1,2 or "" for none, CALLER=1 or a list such as 1,2 or "" for none, NOISE_AFTER=1 to
 * add each pool with the noise drawn after the workers answered, BALANCED_SPLIT=1 to add each caller
 * pool with the noise split balanced by the threads' timings (setNoiseBalance), CHUNK=128, BLOCK=1 consecutive steps per case and repetition, CHUNKED=0 to leave out the in-process chunked case, POOL_WARMUP=0 pool-only warm-up steps after the shared warm-up, MODELS=mlp,cnn, DPKIT_BACKEND=wasm|cpu). The load average is printed before
 * and after: on a loaded machine the workers compete with other processes for the cores and
 * the wall-clock speed-up is understated.
 */
import { availableParallelism, loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../src/backend/index.js";
import { lastStepProfile, noiseSplit, setNoiseBalance } from "../src/dpsgd/workers/pool.js";
import { chunkedClippedSum } from "../src/dpsgd/workers/chunks.js";
import { processThreadsCpuMs, threadClock, threadCpuMs } from "../src/dpsgd/workers/thread-clock.js";
import { computeClippedSum, issueDpGradients, privatizeParts } from "../src/dpsgd/gradients.js";
import { sampledGaussianStep } from "../src/accounting/index.js";
import { createDpWorkerPool, dpApplyGradients, dpGradients, mnistInputShape, mnistModel, type MnistModelKind } from "../src/dpsgd/index.js";
import { SeededRng } from "../src/random/index.js";
import { type BenchRow as Row, median } from "./report.js";

const REPS = Number(process.env.REPS ?? 15);
const WARMUP = Number(process.env.WARMUP ?? 150);
/**
 * After the shared warm-up, each pool case runs this many more steps on its own (default 0). In the
 * shared warm-up the calling thread makes two or more engine calls per repetition (the in-process
 * case's and its own chunk) to a worker's one, so a worker's isolate is less warm than the calling
 * thread's, unlike in a training run where only the pool steps; this evens that out.
 */
const POOL_WARMUP = Number(process.env.POOL_WARMUP ?? 0);
const WORKERS = (process.env.WORKERS ?? "2")
  .split(",")
  .filter((v) => v.trim() !== "")
  .map(Number);
const CALLER = (process.env.CALLER ?? "1")
  .split(",")
  .filter((v) => v.trim() !== "")
  .map(Number);
const CHUNK = Number(process.env.CHUNK ?? 128);
/**
 * Consecutive measured steps of each case per repetition (default 1: the cases alternate step by
 * step). Alternating step by step leaves a pool's workers asleep through every in-process step (about
 * 25 ms for the CNN), which a training run never does; with BLOCK=25 each case runs 25 steps back to
 * back, as in training, and the cases still alternate (by block) to cancel the machine's drift.
 */
const BLOCK = Number(process.env.BLOCK ?? 1);
/** Also time each pool with the noise drawn after the workers answered (the calling thread idle while it waits). */
const NOISE_AFTER = process.env.NOISE_AFTER === "1";
/**
 * Also time each `callerComputes` pool with the noise split balanced by the threads' timings (a
 * second pool, `setNoiseBalance`), beside the default split (the calling thread's share of the chunks).
 */
const BALANCED_SPLIT = process.env.BALANCED_SPLIT === "1";
/** Whether to time the in-process chunked case too (CHUNKED=0 leaves it out: a long warm-up then costs less). */
const CHUNKED = process.env.CHUNKED !== "0";
const MODELS = (process.env.MODELS ?? "mlp,cnn").split(",") as MnistModelKind[];
const BATCH = 256;

const info = await prepareBackend({ announce: false });
tf.enableProdMode();
const load = (): string =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");
const loadBefore = load();
console.log(`backend ${info.name}, ${availableParallelism()} cores, load average before: ${loadBefore}`);
if (threadClock() === undefined) console.log("(no per-thread CPU clock on this platform: the CPU columns are empty)");

const rows: Row[] = [];
const table: string[][] = [];
const fmt = (v: number | undefined, digits = 1): string => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(digits));

for (const kind of MODELS) {
  const model = mnistModel(kind);
  const rng = new SeededRng(1);
  const x = tf.tensor(
    Float32Array.from({ length: BATCH * 784 }, () => rng.nextUint32() / 2 ** 32),
    [BATCH, ...mnistInputShape(kind)],
  );
  const y = tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 7) % 10));
  const specs = [...WORKERS.map((w) => ({ workers: w, caller: false })), ...CALLER.map((w) => ({ workers: w, caller: true }))];
  const pools = await Promise.all(
    specs.map((p) => createDpWorkerPool({ model, workers: p.workers, chunkSize: CHUNK, callerComputes: p.caller })),
  );
  const optimizer = tf.train.sgd(0.01);
  // Secure noise (the default source) in every case, as in training.
  // The step's own marks (epoch ms, comparable with the pool's timeline): start, gradients ready (noise added, tensors made), update applied.
  const marks = { start: NaN, grads: NaN, applied: NaN };
  const epochNow = (): number => performance.timeOrigin + performance.now();
  const step = (workers?: (typeof pools)[number]) => () => {
    marks.start = epochNow();
    const g = dpGradients({
      model,
      loss: "sparseCategoricalCrossentropy",
      x,
      y,
      l2NormClip: 1,
      noiseMultiplier: 1.1,
      expectedBatchSize: BATCH,
      workers,
    });
    marks.grads = epochNow();
    dpApplyGradients(optimizer, g);
    marks.applied = epochNow();
  };
  const label = (w: number, caller: boolean): string => `${caller ? "caller + " : ""}${w} worker${w > 1 ? "s" : ""}`;
  // The same chunking as the pools, in the calling thread: separates the cost of chunking from
  // the cost of the threads (copies, messages).
  const chunked = (): void => {
    const parts = chunkedClippedSum({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1, chunkSize: CHUNK });
    const grads = privatizeParts(parts, { l2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: BATCH });
    const event = sampledGaussianStep(1.1).event;
    dpApplyGradients(optimizer, issueDpGradients({ grads, norms: parts.norms, event, lossValue: parts.lossSum / BATCH, batchSize: BATCH }));
  };
  // The same pool step with the noise drawn after the workers answered (as before issue 19's
  // noise-ahead change): the clipped sum without `noiseAhead`, then the noise in place.
  const noiseAfter = (pool: (typeof pools)[number]) => (): void => {
    const parts = computeClippedSum({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1, workers: pool });
    const grads = privatizeParts(parts, { l2NormClip: 1, noiseMultiplier: 1.1, expectedBatchSize: BATCH });
    const event = sampledGaussianStep(1.1).event;
    dpApplyGradients(optimizer, issueDpGradients({ grads, norms: parts.norms, event, lossValue: parts.lossSum / BATCH, batchSize: BATCH }));
  };
  const cases: [string, () => void][] = [
    ["in-process (no workers)", step()],
    ...(CHUNKED ? [[`in-process, chunks of ${CHUNK}`, chunked] as [string, () => void]] : []),
    ...pools.map((p, i): [string, () => void] => [label(specs[i].workers, specs[i].caller), step(p)]),
  ];
  const casePools: ((typeof pools)[number] | undefined)[] = [undefined, ...(CHUNKED ? [undefined] : []), ...pools];
  if (NOISE_AFTER)
    pools.forEach((p, i) => {
      cases.push([`${label(specs[i].workers, specs[i].caller)}, noise after`, noiseAfter(p)]);
      casePools.push(p);
    });
  const balancedPools = BALANCED_SPLIT
    ? await Promise.all(
        specs
          .filter((p) => p.caller)
          .map(async (p) => {
            const pool = await createDpWorkerPool({ model, workers: p.workers, chunkSize: CHUNK, callerComputes: true });
            setNoiseBalance(pool, true);
            cases.push([`${label(p.workers, true)}, balanced noise split`, step(pool)]);
            casePools.push(pool);
            return pool;
          }),
      )
    : [];
  const poolOf = (name: string) => casePools[cases.findIndex(([n]) => n === name)];
  const series = new Map<string, Record<string, number[]>>(cases.map(([name]) => [name, {}]));
  const record = (name: string, key: string, v: number | undefined): void => {
    if (v === undefined) return;
    const s = series.get(name) as Record<string, number[]>;
    (s[key] ??= []).push(v);
  };
  // The warm-up, in windows of 500 repetitions: the other threads' CPU time (V8's compiler and GC
  // threads: every thread but the calling one and the pools' workers) per repetition of all cases,
  // to see that it has settled before the measured repetitions.
  const workerTids = (): number[] =>
    casePools.flatMap((p) => (p ? (lastStepProfile(p)?.workers ?? []).map((w) => w.tid).filter((t): t is number => t !== undefined) : []));
  const ownCpu = (tids: number[]): number | undefined => {
    const all = processThreadsCpuMs();
    const main = threadClock()?.cpuMs;
    if (all === undefined || main === undefined) return undefined;
    return all - main - tids.reduce((a, t) => a + (threadCpuMs(t) ?? 0), 0);
  };
  // (The workers' thread ids are known once each pool has run a step: the first window starts after the first repetition.)
  let windowStart = 1;
  let tids: number[] = [];
  let othersAt: number | undefined;
  for (let r = 0; r < WARMUP; r++) {
    for (const [, f] of r % 2 === 0 ? cases : [...cases].reverse()) f();
    if (r === 0) {
      tids = workerTids();
      othersAt = ownCpu(tids);
    } else if ((r + 1) % 500 === 0 || r + 1 === WARMUP) {
      const now = ownCpu(tids);
      if (now !== undefined && othersAt !== undefined)
        console.log(
          `  ${kind} warm-up repetitions ${windowStart + 1}-${r + 1}: other threads' CPU ${((now - othersAt) / (r + 1 - windowStart)).toFixed(2)} ms per repetition (all cases)`,
        );
      windowStart = r + 1;
      othersAt = ownCpu(tids);
    }
  }
  for (const [name, f] of cases) if (poolOf(name) !== undefined) for (let r = 0; r < POOL_WARMUP; r++) f();
  for (let r = 0; r < REPS; r++) {
    for (const [name, f] of r % 2 === 0 ? cases : [...cases].reverse())
      for (let b = 0; b < BLOCK; b++) {
        // The workers' clocks, read from here while they sleep (exact; their own reading at the end of
        // a step lags by up to a scheduler tick). Their thread ids come with the previous step's profile.
        const tids = (poolOf(name) && lastStepProfile(poolOf(name) as (typeof pools)[number])?.workers.map((w) => w.tid)) || [];
        const w0 = tids.map((t) => (t === undefined ? undefined : threadCpuMs(t)));
        const p0 = processThreadsCpuMs();
        const c0 = process.cpuUsage();
        const m0 = threadClock();
        const t0 = performance.now();
        f();
        const wall = performance.now() - t0;
        const m1 = threadClock();
        const c = process.cpuUsage(c0);
        const p1 = processThreadsCpuMs();
        const w1 = tids.map((t) => (t === undefined ? undefined : threadCpuMs(t)));
        record(name, "wall", wall);
        record(name, "cpuAll", p0 !== undefined && p1 !== undefined ? p1 - p0 : (c.user + c.system) / 1000);
        record(name, "main", m0 && m1 ? m1.cpuMs - m0.cpuMs : undefined);
        const p = poolOf(name);
        const prof = p ? lastStepProfile(p) : undefined;
        if (prof) {
          record(name, "caller", prof.caller);
          if (prof.workers.length > 0) record(name, "workerOwn", Math.max(...prof.workers.map((w) => w.total)));
          const outside = prof.workers.map((w, i) => {
            const a = w0[i];
            const b = w1[i];
            return w.tid !== undefined && w.tid === tids[i] && a !== undefined && b !== undefined ? b - a : undefined;
          });
          const cpus = outside;
          if (cpus.every((v) => v !== undefined)) {
            cpus.forEach((v, i) => record(name, `workerCpu.${i}`, v));
            record(
              name,
              "workersCpu",
              (cpus as number[]).reduce((a, b) => a + b, 0),
            );
          }
          if (prof.workers.length > 0)
            for (const k of ["receive", "weights", "inputs", "compute", "noise"] as const)
              record(name, `worker.${k}`, Math.max(...prof.workers.map((w) => w[k] ?? 0)));
          for (const k of ["write", "post", "caller", "ahead", "wait", "reduce"] as const) record(name, `main.${k}`, prof[k]);
          // After the last worker answered: the reduction, the noise (what is left of it), the update.
          record(name, "main.tail", wall - prof.write - prof.post - prof.caller - prof.ahead - prof.wait);
          // The step's timeline, from the step's start (the calling thread's marks, the pool's, the first worker's).
          const from = (v: number): number => v - marks.start;
          const wat = prof.workers[0]?.at;
          const tl: Record<string, number> = {
            enter: from(prof.at.start),
            posted: from(prof.at.posted),
            callerDone: from(prof.at.callerDone),
            aheadDone: from(prof.at.aheadDone),
            answered: from(prof.at.answered),
            reduced: from(prof.at.reduced),
            grads: from(marks.grads),
            applied: from(marks.applied),
          };
          if (wat)
            Object.assign(tl, { woke: from(wat.woke), wFrom: from(wat.computeFrom), wTo: from(wat.computeTo), wDone: from(wat.done) });
          for (const [k, v] of Object.entries(tl)) record(name, `tl.${k}`, v);
          if (wat) {
            // Derived: how long the calling thread slept for the answer, the answer's latency after the worker wrote it,
            // the worker's late start after the request, and the calling thread's serial tail.
            record(name, "tl.callerIdle", Math.max(0, prof.at.answered - prof.at.aheadDone));
            record(name, "tl.workerIdleEnd", Math.max(0, prof.at.aheadDone - wat.done));
            record(name, "tl.answerLatency", prof.at.answered - Math.max(wat.done, prof.at.aheadDone));
            record(name, "tl.wakeLatency", wat.woke - prof.at.posted);
            record(name, "tl.tail", marks.applied - prof.at.answered);
          }
        }
      }
  }
  const med = (name: string, key: string): number | undefined => {
    const v = (series.get(name) as Record<string, number[]>)[key];
    return v && v.length > 0 ? median(v) : undefined;
  };
  // CPU clocks advance in scheduler ticks (4 ms at HZ=250), so one step's reading is coarse:
  // CPU columns are means over the repetitions (the tick error averages out), not medians.
  const mean = (name: string, key: string): number | undefined => {
    const v = (series.get(name) as Record<string, number[]>)[key];
    return v && v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const slowestWorkerCpu = (name: string): number | undefined => {
    const p = poolOf(name);
    if (!p) return undefined;
    const each = Array.from({ length: p.size }, (_, i) => mean(name, `workerCpu.${i}`)).filter((v): v is number => v !== undefined);
    return each.length > 0 ? Math.max(...each) : undefined;
  };
  const base = med(cases[0][0], "wall") as number;
  // The 10th percentile of the step's wall time: the steps no outside load slowed. On a shared host
  // each core's speed swings by up to 1.8x from second to second (docs/dpsgd-engine.md, "Ninth
  // wave"), and a split step waits for the slower of its threads, so the median understates what
  // the split does on quiet cores; both are printed, side by side.
  const p10 = (name: string): number | undefined => {
    const v = (series.get(name) as Record<string, number[]>).wall;
    return v && v.length > 0 ? [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 10)] : undefined;
  };
  const baseP10 = p10(cases[0][0]) as number;
  // The wall time the CPU columns imply on idle cores: the longest chain of dependent work, but no
  // less than all threads' CPU time spread over the cores (V8's threads need a core too).
  const critical = (name: string): number | undefined => {
    const main = mean(name, "main");
    if (main === undefined) return undefined;
    const all = (mean(name, "cpuAll") ?? 0) / availableParallelism();
    const worker = slowestWorkerCpu(name);
    const p = poolOf(name);
    if (!p) return Math.max(main, all);
    if (worker === undefined) return undefined;
    // With callerComputes the calling thread's chunks run alongside the workers': only its serial part adds up.
    const path = p.callerComputes ? Math.max(main, Math.max(0, main - (mean(name, "caller") ?? 0)) + worker) : main + worker;
    return Math.max(path, all);
  };
  const baseCritical = critical(cases[0][0]);
  const tag = (name: string): string => `${kind} batch ${BATCH} ${info.name}: ${name}`;
  for (const [name] of cases) {
    const ms = med(name, "wall") as number;
    const speedUp = base / ms;
    rows.push({
      case: tag(name),
      metric: "DP step time",
      value: +ms.toFixed(2),
      unit: "ms",
      baseline: +base.toFixed(2),
      ratio: +speedUp.toFixed(3),
    });
    const ms10 = p10(name) as number;
    rows.push({
      case: `${tag(name)}, 10th percentile`,
      metric: "DP step time",
      value: +ms10.toFixed(2),
      unit: "ms",
      baseline: +baseP10.toFixed(2),
      ratio: +(baseP10 / ms10).toFixed(3),
    });
    const cpuAll = mean(name, "cpuAll") as number;
    rows.push({ case: `${tag(name)}, CPU time of all threads`, metric: "CPU time", value: +cpuAll.toFixed(2), unit: "ms" });
    const main = mean(name, "main");
    const pool = poolOf(name) !== undefined;
    const workerCpu = slowestWorkerCpu(name);
    const workersCpu = pool ? mean(name, "workersCpu") : undefined;
    const others = main === undefined ? undefined : cpuAll - main - (workersCpu ?? 0);
    const crit = critical(name);
    const predicted = crit !== undefined && baseCritical !== undefined ? baseCritical / crit : undefined;
    if (main !== undefined)
      rows.push({ case: `${tag(name)}, calling thread's CPU time`, metric: "CPU time", value: +main.toFixed(2), unit: "ms" });
    if (workerCpu !== undefined)
      rows.push({ case: `${tag(name)}, slowest worker's CPU time`, metric: "CPU time", value: +workerCpu.toFixed(2), unit: "ms" });
    if (others !== undefined)
      rows.push({
        case: `${tag(name)}, other threads' CPU time (V8 compiler, GC)`,
        metric: "CPU time",
        value: +others.toFixed(2),
        unit: "ms",
      });
    if (crit !== undefined && predicted !== undefined)
      rows.push({
        case: `${tag(name)}, critical path (calling thread + slowest worker, CPU)`,
        metric: "CPU time",
        value: +crit.toFixed(2),
        unit: "ms",
        baseline: +(baseCritical as number).toFixed(2),
        ratio: +predicted.toFixed(3),
      });
    const own = pool ? med(name, "workerOwn") : undefined;
    if (own !== undefined)
      rows.push({ case: `${tag(name)}, slowest worker's own time`, metric: "time", value: +own.toFixed(2), unit: "ms" });
    table.push([
      kind,
      name,
      fmt(ms),
      `${speedUp.toFixed(2)}x`,
      `${fmt(ms10)} / ${(baseP10 / ms10).toFixed(2)}x`,
      fmt(cpuAll),
      fmt(main),
      fmt(workerCpu),
      fmt(others),
      fmt(crit),
      predicted === undefined ? "-" : `${predicted.toFixed(2)}x`,
      fmt(own),
    ]);
    if (pool) {
      const parts = ["write", "post", "caller", "ahead", "wait", "reduce", "tail"]
        .map((k) => `${k} ${fmt(med(name, `main.${k}`), 2)}`)
        .join(", ");
      const wparts = ["receive", "weights", "inputs", "compute", "noise"].map((k) => `${k} ${fmt(med(name, `worker.${k}`), 2)}`).join(", ");
      const tlm = (k: string): string => fmt(med(name, `tl.${k}`), 2);
      console.log(
        `  ${kind} ${name}: timeline (ms from the step's start, medians): calling thread enters ${tlm("enter")}, posted ${tlm("posted")}, ` +
          `own chunks done ${tlm("callerDone")}, noise share done ${tlm("aheadDone")}, answer seen ${tlm("answered")}, reduced ${tlm("reduced")}, ` +
          `gradients ready ${tlm("grads")}, applied ${tlm("applied")}; worker woke ${tlm("woke")}, chunks ${tlm("wFrom")}-${tlm("wTo")}, ` +
          `answered ${tlm("wDone")}; calling thread asleep ${tlm("callerIdle")}, worker done before the calling thread ${tlm("workerIdleEnd")}, ` +
          `answer latency ${tlm("answerLatency")}, wake latency ${tlm("wakeLatency")}, serial tail ${tlm("tail")}`,
      );
      // The timeline's medians in the JSON too (ms from the step's start; the last five are durations).
      const TIMELINE: [string, string][] = [
        ["posted", "request posted"],
        ["callerDone", "calling thread's own chunks done"],
        ["aheadDone", "calling thread's noise share done"],
        ["wFrom", "worker's chunks begin"],
        ["wTo", "worker's chunks end"],
        ["answered", "answer seen"],
        ["applied", "update applied"],
        ["callerIdle", "calling thread asleep"],
        ["answerLatency", "answer latency"],
        ["wakeLatency", "wake latency"],
        ["tail", "serial tail"],
        ["workerIdleEnd", "worker done before the calling thread"],
      ];
      for (const [k, what] of TIMELINE) {
        const v = med(name, `tl.${k}`);
        if (v !== undefined) rows.push({ case: `${tag(name)}, timeline: ${what}`, metric: "time", value: +v.toFixed(3), unit: "ms" });
      }
      const f = noiseSplit(poolOf(name) as (typeof pools)[number]);
      console.log(
        `  ${kind} ${name}: calling thread ${parts} ms (tail: from the last answer to the end of the step); slowest worker ${wparts} ms` +
          (f === undefined ? "" : `; the calling thread's share of the noise ${f.toFixed(2)}`),
      );
    }
  }
  await Promise.all([...pools, ...balancedPools].map((p) => p.close()));
  tf.dispose([x, y]);
  model.dispose();
}

const loadAfter = load();
const w = [5, 28, 9, 8, 13, 8, 8, 8, 8, 8, 9, 10];
const line = (c: string[]) => c.map((s, i) => s.padEnd(w[i])).join(" | ");
console.log(
  line([
    "model",
    "case",
    "wall ms",
    "speed-up",
    "p10 / speed-up",
    "CPU all",
    "CPU main",
    "CPU wkr",
    "CPU V8",
    "crit. ms",
    "predicted",
    "worker own",
  ]),
);
console.log(w.map((n) => "-".repeat(n)).join("-|-"));
for (const r of table) console.log(line(r));
console.log(
  `chunk size ${CHUNK}, ${WARMUP} warm-up (then ${POOL_WARMUP} pool-only) and ${REPS} measured repetitions alternating${BLOCK > 1 ? ` in blocks of ${BLOCK} steps` : ""}; wall: medians (p10: 10th percentile), CPU: means per step; CPU wkr = slowest worker's ` +
    `own CPU time, CPU V8 = every other thread; crit. = max(CPU main + CPU wkr (caller cases: max(CPU main, its serial part + CPU wkr)), CPU all / cores), predicted = in-process crit. / crit.; load average after: ${loadAfter}`,
);
console.log(
  JSON.stringify({
    bench: "dpsgd-workers",
    backend: info.name,
    cores: availableParallelism(),
    chunkSize: CHUNK,
    callerComputes: CALLER,
    noiseAfter: NOISE_AFTER,
    balancedSplit: BALANCED_SPLIT,
    chunked: CHUNKED,
    warmup: WARMUP,
    poolWarmup: POOL_WARMUP,
    reps: REPS,
    block: BLOCK,
    loadBefore,
    loadAfter,
    rows,
  }),
);
