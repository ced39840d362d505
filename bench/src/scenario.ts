import { setTimeout as delay } from 'node:timers/promises';
import type { ClientPlan, StepResult } from './generator-protocol.js';
import type { GeneratorPool } from './generators.js';
import { LatencyHistogram } from './histogram.js';
import type { BenchOptions, Workload } from './options.js';
import { CpuMeter, OTHER_CPU, openFilesLimit, rssBytes } from './proc-stats.js';
import { RedisMeter, type RedisStepStats } from './redis-stats.js';
import type { LatencySummary, MemoryRecord, StepRecord, SystemRun } from './results.js';
import type { RunningSystem } from './systems.js';

/** Connections opened at once: well under the listen backlog, so no SYN is dropped and retried. */
const CONNECT_CONCURRENCY = 50;
const CONNECT_TIMEOUT_MS = 120_000;
/** How long the memory probe lets a server settle before and after connecting. */
const MEMORY_SETTLE_MS = 2_000;
/** Above this event-loop utilization a generator's own queueing shows in the latencies it measures. */
const GENERATOR_BUSY_ELU = 0.9;
/** Start of the caveat a step gets when a generator was near saturation. */
export const GENERATOR_BUSY = 'generator busy';
/** CPU% (of one core) used by others during a step above which the step is flagged. */
const OTHER_CPU_CAVEAT = 20;
/** Deliveries/s at which the latency and CPU targets are read: steps up to it always run. */
const TARGET_DELIVERIES_PER_SEC = 10_000;
/** Lead time for generators to receive a step before it starts. */
const STEP_LEAD_MS = 300;

let nextTag = 1;
/** Step tags are part of every mid; 4096 of them per run (see load-generator). */
export function takeTag(): number {
  const tag = nextTag++;
  if (tag >= 4096) throw new Error('more than 4095 steps in one run');
  return tag;
}

/**
 * Clients round-robin over the servers (client i → server i mod N), rooms in consecutive blocks
 * (client i → room ⌊i·R/C⌋) so each room has members on every server, rooms round-robin over generators.
 */
export function planClients(
  workload: Workload,
  urls: readonly string[],
  generators: number,
  parser: ClientPlan['parser'] = 'default',
): ClientPlan[][] {
  const { clients, rooms } = workload;
  const roomOf = (i: number) => Math.floor((i * rooms) / clients);
  const sizes = new Array<number>(rooms).fill(0);
  for (let i = 0; i < clients; i++) sizes[roomOf(i)]!++;
  const positions = new Array<number>(rooms).fill(0);
  const plans: ClientPlan[][] = Array.from({ length: generators }, () => []);
  for (let i = 0; i < clients; i++) {
    const room = roomOf(i);
    plans[room % generators]!.push({
      url: urls[i % urls.length]!,
      parser,
      room: `room-${room}`,
      roomSize: sizes[room]!,
      pos: positions[room]!++,
    });
  }
  return plans;
}

function summary(histogram: LatencyHistogram): LatencySummary {
  const ms = (micros: number) => Math.round(micros) / 1000;
  return {
    p50: ms(histogram.percentile(50)),
    p90: ms(histogram.percentile(90)),
    p99: ms(histogram.percentile(99)),
    p999: ms(histogram.percentile(99.9)),
    max: ms(histogram.max),
    mean: ms(histogram.mean()),
  };
}

function sum(results: readonly StepResult[], pick: (r: StepResult) => number): number {
  return results.reduce((n, r) => n + pick(r), 0);
}

function combine(
  requested: number,
  scheduled: number,
  durationMs: number,
  results: readonly StepResult[],
  cpu: Record<string, number>,
  p99LimitMs: number,
  wakeups: Record<string, number>,
  redis: RedisStepStats | undefined,
): StepRecord {
  const latency = LatencyHistogram.from(results.map((r) => r.latency));
  const sendLag = LatencyHistogram.from(results.map((r) => r.sendLag));
  const sent = sum(results, (r) => r.sent);
  const expected = sum(results, (r) => r.expected);
  const delivered = sum(results, (r) => r.delivered);
  const firstSend = Math.min(...results.filter((r) => r.sent > 0).map((r) => r.firstSendAt));
  const lastSend = Math.max(...results.map((r) => r.lastSendAt));
  const lastDelivery = Math.max(...results.map((r) => r.lastDeliveryAt));
  const sendSeconds = Math.max(1e-3, (lastSend - firstSend) / 1000);
  const deliverySeconds = Math.max(1e-3, (Math.max(lastSend, lastDelivery) - firstSend) / 1000);
  const fanout = sent > 0 ? expected / sent : 0;
  const ackErrors: Record<string, number> = {};
  for (const r of results) {
    for (const [code, n] of Object.entries(r.ackErrors)) ackErrors[code] = (ackErrors[code] ?? 0) + n;
  }
  const latencyMs = summary(latency);
  const lost = expected - delivered;
  const failures: string[] = [];
  if (lost > 0) failures.push(`${lost} lost`);
  if (latencyMs.p99 > p99LimitMs) failures.push(`p99 ${latencyMs.p99} ms > ${p99LimitMs} ms`);
  const caveats: string[] = [];
  const busiest = Math.max(...results.map((r) => r.eventLoopUtilization));
  if (busiest > GENERATOR_BUSY_ELU) {
    caveats.push(
      `${GENERATOR_BUSY}: event loop ${Math.round(busiest * 100)}% busy, latency includes its queueing`,
    );
  }
  if ((cpu[OTHER_CPU] ?? 0) > OTHER_CPU_CAVEAT) {
    caveats.push(`processes outside the benchmark used ${cpu[OTHER_CPU]}% CPU`);
  }
  const round = (n: number) => Math.round(n);
  return {
    requested,
    offered: round(scheduled / (durationMs / 1000)),
    durationMs,
    sent,
    // n sends span n-1 intervals.
    sentRate: sent > 1 ? round(((sent - 1) / sendSeconds) * (sent / (sent - 1))) : sent,
    expected,
    delivered,
    deliveredMsgsPerSec: fanout > 0 ? round(delivered / fanout / deliverySeconds) : 0,
    deliveriesPerSec: round(delivered / deliverySeconds),
    lost,
    duplicates: sum(results, (r) => r.duplicates),
    late: sum(results, (r) => r.late),
    misrouted: sum(results, (r) => r.misrouted),
    acked: sum(results, (r) => r.acked),
    ackErrors,
    latencyMs,
    sendLagMs: {
      p99: Math.round(sendLag.percentile(99)) / 1000,
      max: Math.round(sendLag.max) / 1000,
    },
    generatorElu: results.map((r) => Math.round(r.eventLoopUtilization * 100) / 100),
    cpu,
    wakeups,
    ...(redis ? { redis } : {}),
    caveats,
    ok: failures.length === 0,
    ...(failures.length > 0 ? { failure: failures.join(', ') } : {}),
  };
}

export interface StepContext {
  system: RunningSystem;
  pool: GeneratorPool;
  options: BenchOptions;
  /** Every process to meter, by label (the system's, the generators', redis). */
  pids: ReadonlyMap<string, number>;
  /** The benchmark's private Redis, whose command counts each step records. */
  redisUrl: string;
  onStep: (record: StepRecord) => void;
}

/** Connects and joins the workload's clients, warms up, then steps the load up until a step fails. */
export async function runWorkload(workload: Workload, context: StepContext): Promise<SystemRun> {
  const { system, pool, options } = context;
  const mode = workload.name === 'rpc' ? 'rpc' : 'chat';
  const plans = planClients(workload, system.urls, pool.size, system.parser);
  const connected = await pool.connect(plans, CONNECT_CONCURRENCY, CONNECT_TIMEOUT_MS);
  const run: SystemRun = {
    system: system.name,
    connect: {
      clients: connected.reduce((n, r) => n + r.connected, 0),
      joined: connected.reduce((n, r) => n + r.joined, 0),
      ms: Math.max(...connected.map((r) => r.ms)),
    },
    steps: [],
    knee: null,
    warnings: {},
  };
  // Each generator's share of the load is its share of the clients, so every client sends at one rate.
  const counts = (rate: number, durationMs: number) =>
    plans.map((plan) => Math.round((((rate * plan.length) / workload.clients) * durationMs) / 1000));

  const first = workload.steps[0];
  if (options.warmupMs > 0 && first !== undefined) {
    const warm = await pool.step({
      tag: takeTag(),
      counts: counts(first, options.warmupMs),
      durationMs: options.warmupMs,
      drainMs: options.drainMs,
      startAt: Date.now() + STEP_LEAD_MS,
      mode,
    });
    run.warmup = {
      sent: sum(warm, (r) => r.sent),
      lost: sum(warm, (r) => r.expected - r.delivered),
      duplicates: sum(warm, (r) => r.duplicates),
    };
    await delay(options.gapMs);
  }

  for (const rate of workload.steps) {
    const stepCounts = counts(rate, options.durationMs);
    const startAt = Date.now() + STEP_LEAD_MS;
    const meter = new CpuMeter(context.pids);
    const redisMeter = new RedisMeter(context.redisUrl);
    const metering = delay(STEP_LEAD_MS).then(() => {
      meter.begin();
      return redisMeter.begin().then(
        () => true,
        () => false,
      );
    });
    const results = await pool.step({
      tag: takeTag(),
      counts: stepCounts,
      durationMs: options.durationMs,
      drainMs: options.drainMs,
      startAt,
      mode,
    });
    const redisMetered = await metering;
    const meteredMs = Math.round(meter.elapsedMs());
    const cpu = meter.end();
    const wakeups = meter.wakeups();
    const redis = redisMetered ? await redisMeter.end().catch(() => undefined) : undefined;
    const record = combine(
      rate,
      stepCounts.reduce((a, b) => a + b, 0),
      options.durationMs,
      results,
      cpu,
      options.p99LimitMs,
      wakeups,
      redis,
    );
    record.meteredMs = meteredMs;
    run.steps.push(record);
    context.onStep(record);
    // Stepping stops at the first failing step, but at fan-out 10 not below the 10,000 deliveries/s the
    // latency and CPU targets are read at: a system failing earlier is still measured there.
    const short = workload.name === 'fanout10' && record.deliveriesPerSec < TARGET_DELIVERIES_PER_SEC * 0.9;
    if (!record.ok && !short) break;
    await delay(options.gapMs);
  }
  await pool.disconnect();
  return run;
}

/** RSS per idle connection on the system's first server: RSS before and after `count` clients connect. */
export async function probeMemory(
  system: RunningSystem,
  pool: GeneratorPool,
  count: number,
): Promise<MemoryRecord> {
  const server = system.servers[0]!;
  const limit = openFilesLimit();
  // Each connection is one descriptor in the server and one in its generator; keep 256 for the rest.
  const perGenerator = Math.ceil(count / pool.size);
  if (count + 256 > limit || perGenerator + 256 > limit) {
    throw new Error(
      `the memory probe needs ${count} connections but the open-files limit is ${limit}: ` +
        'raise it (ulimit -n) or pass --memory-clients / --generators',
    );
  }
  const rssAll = () => new Map(system.processes.map((p) => [p.label, rssBytes(p.pid) ?? 0]));
  await delay(MEMORY_SETTLE_MS);
  const before = rssAll();
  const url = system.urls[0]!;
  const plans: ClientPlan[][] = Array.from({ length: pool.size }, (_, g) =>
    Array.from({ length: Math.min(perGenerator, Math.max(0, count - g * perGenerator)) }, () => ({
      url,
      parser: system.parser,
      room: null,
      roomSize: 0,
      pos: 0,
    })),
  );
  const connected = await pool.connect(plans, CONNECT_CONCURRENCY, CONNECT_TIMEOUT_MS);
  const clients = connected.reduce((n, r) => n + r.connected, 0);
  if (clients !== count) throw new Error(`memory probe: ${clients} of ${count} clients connected`);
  await delay(MEMORY_SETTLE_MS);
  const after = rssAll();
  await pool.disconnect();
  const rssBeforeBytes = before.get(server.label) ?? 0;
  const rssAfterBytes = after.get(server.label) ?? 0;
  const perClientBytes = Math.round((rssAfterBytes - rssBeforeBytes) / count);
  return {
    system: system.name,
    server: server.label,
    clients: count,
    connectMs: Math.max(...connected.map((r) => r.ms)),
    rssBeforeBytes,
    rssAfterBytes,
    perClientBytes,
    perClientKB: Math.round((perClientBytes / 1024) * 10) / 10,
    processes: Object.fromEntries(
      [...before].map(([label, bytes]) => [label, { beforeBytes: bytes, afterBytes: after.get(label) ?? 0 }]),
    ),
  };
}
