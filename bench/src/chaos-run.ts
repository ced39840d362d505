import { setTimeout as delay } from 'node:timers/promises';
import { CHAOS_CASES, type ChaosCase, type ChaosCaseName } from './chaos-cases.js';
import { type ChaosCluster, startChaosCluster } from './chaos-cluster.js';
import type { ClientPlan, StepResult } from './generator-protocol.js';
import { GeneratorPool } from './generators.js';
import { LatencyHistogram } from './histogram.js';
import { planClients } from './scenario.js';

/** How the chaos suite loads the cluster and times its failures. */
export interface ChaosOptions {
  cases: ChaosCaseName[];
  /** Chat messages per second, all clients together. */
  rate: number;
  clients: number;
  rooms: number;
  /** Load before the (first) failure. */
  faultAfterMs: number;
  /** Load after the failure was injected (after the cluster was whole again, for restarts). */
  tailMs: number;
  /** How long after its last send a case waits for missing deliveries before counting them lost. */
  drainMs: number;
  redisRestarts: number;
  /** A delivery slower than this counts as "not recovered yet". */
  slowMs: number;
  /** Extra environment of every node (`--env`), over the case's own. */
  env: Record<string, string>;
  /** Where every line the nodes print goes (`--log`), with its time and node. */
  logFile?: string;
}

/** What one case measured. */
export interface ChaosRecord {
  case: ChaosCaseName;
  title: string;
  topology: ChaosCase['topology'];
  rate: number;
  durationMs: number;
  sent: number;
  /** Deliveries expected: one per member of the message's room, the sender included. */
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Messages whose ack said ok. */
  acked: number;
  /** Acks that carried an error, by code. */
  ackErrors: Record<string, number>;
  /** Epoch ms of each injection, relative to the first send. */
  faultsAtMs: number[];
  /** Seconds from the last injection until every later delivery was faster than `slowMs`. */
  recoverSeconds: number;
  /** Connections `@iocluster/client` clients lost, and sessions they got back. */
  reconnects: number;
  recovered: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Sending ended before the injection did (the case ran longer than its load). */
  faultOutlastedLoad: boolean;
  /** What the processes logged at warn level or above, by process label (the first few lines each). */
  warnings: Record<string, { count: number; first: string[] }>;
}

/** Estimated time a case's injection takes, so the load spans it plus `tailMs`. */
function injectionMs(name: ChaosCaseName, options: ChaosOptions): number {
  if (name === 'redis-restart') return options.redisRestarts * 5_000;
  if (name === 'rolling-restart') return 4 * 6_000;
  if (name === 'redis-freeze') return 3_000;
  if (name === 'sentinel-failover' || name === 'redis-cluster-failover') return 5_000;
  return 0;
}

let nextTag = 1;

/** Starts a fresh cluster for the case, loads it, injects the failure, and counts every delivery. */
export async function runChaosCase(name: ChaosCaseName, options: ChaosOptions): Promise<ChaosRecord> {
  const chaos = CHAOS_CASES[name];
  let cluster: ChaosCluster | undefined;
  let pool: GeneratorPool | undefined;
  try {
    cluster = await startChaosCluster({
      topology: chaos.topology,
      ioNodes: 2,
      appNodes: 2,
      env: { ...chaos.env, ...options.env },
      ...(options.logFile ? { logFile: options.logFile } : {}),
    });
    pool = await GeneratorPool.start(1);
    const frontendUrl = cluster.frontendUrl;
    const plans: ClientPlan[][] = planClients(
      { name: 'fanout10', clients: options.clients, rooms: options.rooms, steps: [] },
      [frontendUrl],
      1,
    ).map((plan) => plan.map((client) => ({ ...client, frontendUrl })));
    await pool.connect(plans, 50, 120_000);

    const durationMs = options.faultAfterMs + injectionMs(name, options) + options.tailMs;
    const count = Math.round((options.rate * durationMs) / 1000);
    const startAt = Date.now() + 300;
    const stepping = pool.step({
      tag: nextTag++,
      mode: 'chat',
      counts: [count],
      durationMs,
      drainMs: options.drainMs,
      startAt,
      slowMs: options.slowMs,
    });
    // A generator failing mid-case must not leave the injection waiting on a dead step.
    stepping.catch(() => undefined);
    await delay(startAt + options.faultAfterMs - Date.now());
    const faults = await chaos.inject(cluster, { redisRestarts: options.redisRestarts });
    const injectedUntil = Date.now();
    const results = await stepping;
    return {
      ...record(chaos, options, durationMs, results, faults, injectedUntil),
      warnings: cluster.warnings(),
    };
  } finally {
    await pool?.close();
    await cluster?.close();
  }
}

function record(
  chaos: ChaosCase,
  options: ChaosOptions,
  durationMs: number,
  results: StepResult[],
  faults: number[],
  injectedUntil: number,
): Omit<ChaosRecord, 'warnings'> {
  const sum = (pick: (r: StepResult) => number) => results.reduce((n, r) => n + pick(r), 0);
  const latency = LatencyHistogram.from(results.map((r) => r.latency));
  const ackErrors: Record<string, number> = {};
  for (const r of results) {
    for (const [code, n] of Object.entries(r.ackErrors)) ackErrors[code] = (ackErrors[code] ?? 0) + n;
  }
  const firstSend = Math.min(...results.map((r) => r.firstSendAt));
  const lastSend = Math.max(...results.map((r) => r.lastSendAt));
  const lastSlow = Math.max(...results.map((r) => r.lastSlowAt));
  const lastFault = faults[faults.length - 1] ?? firstSend;
  const expected = sum((r) => r.expected);
  const delivered = sum((r) => r.delivered);
  const ms = (micros: number) => Math.round(micros) / 1000;
  return {
    case: chaos.name,
    title: chaos.title,
    topology: chaos.topology,
    rate: options.rate,
    durationMs,
    sent: sum((r) => r.sent),
    expected,
    delivered,
    lost: expected - delivered,
    duplicated: sum((r) => r.duplicates),
    acked: sum((r) => r.acked),
    ackErrors,
    faultsAtMs: faults.map((at) => Math.round(at - firstSend)),
    recoverSeconds: Math.max(0, Math.round((lastSlow - lastFault) / 100) / 10),
    reconnects: sum((r) => r.reconnects),
    recovered: sum((r) => r.recovered),
    latencyMs: {
      p50: ms(latency.percentile(50)),
      p99: ms(latency.percentile(99)),
      max: ms(latency.max),
    },
    faultOutlastedLoad: injectedUntil > lastSend,
  };
}

const number = (n: number) => n.toLocaleString('en-US');

/** The README's table: one row per case. */
export function chaosMarkdown(records: readonly ChaosRecord[]): string {
  const rows = records.map((r) => {
    const errors = Object.entries(r.ackErrors)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    return (
      `| ${r.title} | ${number(r.sent)} | ${number(r.delivered)} / ${number(r.expected)} | ` +
      `${r.lost === 0 ? '0' : `**${number(r.lost)}**`} | ${number(r.duplicated)} | ${r.recoverSeconds} | ` +
      `${r.latencyMs.p99} / ${r.latencyMs.max} | ${r.reconnects} (${r.recovered}) | ${errors || '–'} |`
    );
  });
  return [
    '| case | sent | delivered / expected | lost | duplicated | recover (s) | p99 / max (ms) | reconnects (recovered) | ack errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}
