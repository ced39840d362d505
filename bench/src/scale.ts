import { setTimeout as delay } from 'node:timers/promises';
import type { ClientPlan } from './generator-protocol.js';
import type { GeneratorPool } from './generators.js';
import { LatencyHistogram } from './histogram.js';
import { CpuMeter } from './proc-stats.js';
import type { RunningSystem } from './systems.js';

/** io-node counts the scale workload runs. */
export const SCALE_IO_NODES = [1, 2, 4, 8] as const;

/**
 * How the offered load follows the io-node count: `per-node` keeps each io-node's share constant (the
 * `--steps` rate is the 8-node total, so 1/8 of it per io-node), which is what tells whether a node's work
 * grows with the number of nodes; `total` keeps the cluster's load constant, so each io-node gets less of
 * it as nodes are added and pays its per-wake-up costs over fewer messages.
 */
export type ScaleLoad = 'per-node' | 'total';
export const SCALE_LOADS: readonly ScaleLoad[] = ['per-node', 'total'];

/** The offered load of one scale run, in messages/s. */
export function scaleRate(load: ScaleLoad, rate: number, ioNodes: number): number {
  return load === 'total' ? rate : (rate * ioNodes) / Math.max(...SCALE_IO_NODES);
}
const CLIENTS = 200;
const ROOM_SIZE = 10;

/** One io-node count of the scale workload. */
export interface ScaleRecord {
  /** How the load followed the io-node count (absent in older results: `total`). */
  load?: ScaleLoad;
  ioNodes: number;
  offered: number;
  sent: number;
  delivered: number;
  lost: number;
  p50Ms: number;
  p99Ms: number;
  /** Commands each io-node applied per message sent (its inbox's share), by io-node label. */
  commandsPerMessage: Record<string, number>;
  /** CPU µs of each io-node per delivery it made (its members' deliveries). */
  cpuUsPerDelivery: Record<string, number>;
  /** CPU µs of all io-nodes, app-node and Redis per delivery. */
  systemCpuUsPerDelivery: number;
}

/** Sum of `iocluster_io_commands_total` on an io-node's `/metrics`. */
async function commandsApplied(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('iocluster_io_commands_total{')) total += Number(line.split(' ').pop());
  }
  return total;
}

/**
 * Rooms of 10 whose members all sit on one io-node (room r on node r mod N): a room emit should reach one
 * io-node only, so each io-node's commands and CPU per delivery stay flat as io-nodes are added.
 */
export async function runScaleStep(
  system: RunningSystem,
  pool: GeneratorPool,
  pids: ReadonlyMap<string, number>,
  load: ScaleLoad,
  rate: number,
  durationMs: number,
  drainMs: number,
  tag: number,
): Promise<ScaleRecord> {
  const n = system.urls.length;
  const rooms = CLIENTS / ROOM_SIZE;
  const plans: ClientPlan[][] = Array.from({ length: pool.size }, () => []);
  for (let i = 0; i < CLIENTS; i++) {
    const room = Math.floor(i / ROOM_SIZE);
    plans[room % pool.size]!.push({
      url: system.urls[room % n]!,
      parser: system.parser,
      room: `room-${room}`,
      roomSize: ROOM_SIZE,
      pos: i % ROOM_SIZE,
    });
  }
  await pool.connect(plans, 50, 120_000);
  const counts = (ms: number) =>
    plans.map((plan) => Math.round((((rate * plan.length) / CLIENTS) * ms) / 1000));
  await pool.step({
    tag,
    counts: counts(1_000),
    durationMs: 1_000,
    drainMs,
    startAt: Date.now() + 300,
    mode: 'chat',
  });
  await delay(500);
  const before = await Promise.all(system.urls.map(commandsApplied));
  const meter = new CpuMeter(pids);
  const startAt = Date.now() + 300;
  const metering = delay(300).then(() => meter.begin());
  const results = await pool.step({
    tag: tag + 1,
    counts: counts(durationMs),
    durationMs,
    drainMs,
    startAt,
    mode: 'chat',
  });
  await metering;
  const seconds = meter.elapsedMs() / 1000;
  const cpu = meter.end();
  const after = await Promise.all(system.urls.map(commandsApplied));
  await pool.disconnect();
  const sent = results.reduce((a, r) => a + r.sent, 0);
  const delivered = results.reduce((a, r) => a + r.delivered, 0);
  const expected = results.reduce((a, r) => a + r.expected, 0);
  const labels = [...pids.keys()].filter((label) => label.startsWith('io-'));
  const commandsPerMessage: Record<string, number> = {};
  const cpuUsPerDelivery: Record<string, number> = {};
  // Node i holds rooms i, i+N, ...: its share of the deliveries is its share of the rooms.
  labels.forEach((label, i) => {
    commandsPerMessage[label] =
      Math.round((((after[i] ?? 0) - (before[i] ?? 0)) / Math.max(1, sent)) * 100) / 100;
    const share = Math.ceil((rooms - i) / n) / rooms;
    const us = ((cpu[label] ?? 0) / 100) * seconds * 1e6;
    cpuUsPerDelivery[label] = Math.round((us / Math.max(1, delivered * share)) * 10) / 10;
  });
  const systemUs = Object.entries(cpu)
    .filter(([label]) => label.startsWith('io-') || label.startsWith('app-') || label === 'redis')
    .reduce((a, [, pct]) => a + (pct / 100) * seconds * 1e6, 0);
  const latency = LatencyHistogram.from(results.map((r) => r.latency));
  return {
    load,
    ioNodes: n,
    offered: rate,
    sent,
    delivered,
    lost: expected - delivered,
    p50Ms: Math.round(latency.percentile(50)) / 1000,
    p99Ms: Math.round(latency.percentile(99)) / 1000,
    commandsPerMessage,
    cpuUsPerDelivery,
    systemCpuUsPerDelivery: Math.round((systemUs / Math.max(1, delivered)) * 10) / 10,
  };
}
