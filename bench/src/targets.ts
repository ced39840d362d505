import { type MessageCost, messageCost } from './cost.js';
import { kneeText, ms, n } from './format.js';
import type { MemoryRecord, StepRecord, SystemRun, TargetStatus, WorkloadRun } from './results.js';

/**
 * The performance targets `npm run bench` checks, all against the baseline measured in the same run:
 * read at fan-out 10 on the step nearest 10,000 deliveries/s, and on the rpc step nearest 1,000 calls/s.
 */
export const GOALS = {
  /** CPU of every iocluster process plus Redis per delivery, × the baseline's. */
  cpuPerDelivery: 1.5,
  /** An io-node's CPU per message, × a baseline server's (the mean over each system's servers). */
  ioNodePerMessage: 1.3,
  p50Ms: 2,
  p99Ms: 15,
  /** Knees (zero loss, p99 ≤ 100 ms), × the baseline's. */
  kneeFanout10: 1.0,
  kneeFanout1: 1.0,
  /** CPU of every iocluster process plus Redis per call, × the baseline's. */
  rpcCpuPerCall: 3,
  rpcP50Ms: 1,
  /** RSS growth per idle connection on an io-node, 10,000 connections. */
  rssPerConnectionKB: 20,
} as const;

/** Deliveries per second the fan-out 10 targets are read at; calls per second for rpc. */
export const FANOUT_RATE = 10_000;
export const RPC_RATE = 1_000;

const IO_NODE = /^io-\d+(\.w\d+)?$/;
const BASE_SERVER = /^base-\d+$/;

function run(workload: WorkloadRun | undefined, system: string): SystemRun | undefined {
  return workload?.runs.find((r) => r.system === system);
}

/**
 * The step OFFERED nearest `rate` deliveries/s (within 25 %), whatever it delivered: a system that could
 * not keep up with the targets' load is measured there, and misses, rather than not measured.
 */
function stepNear(system: SystemRun | undefined, rate: number): StepRecord | undefined {
  const offered = (step: StepRecord) => (step.expected * 1000) / step.durationMs;
  return (system?.steps ?? [])
    .filter((step) => Math.abs(offered(step) - rate) <= rate / 4)
    .sort((a, b) => Math.abs(offered(a) - rate) - Math.abs(offered(b) - rate))[0];
}

function notMeasured(target: string, goal: string, detail = ''): TargetStatus {
  return { target, goal, measured: '—', status: 'not measured', detail };
}

/** `value ≤ goal`, with how far over when it is not. */
function atMost(
  target: string,
  goal: string,
  value: number,
  limit: number,
  measured: string,
  over: string,
): TargetStatus {
  const met = value <= limit;
  return { target, goal, measured, status: met ? 'met' : 'missed', detail: met ? '' : `by ${over}` };
}

/** The steps of iocluster and the baseline nearest `rate`, and what a message cost on each. */
function pair(
  workload: WorkloadRun | undefined,
  rate: number,
): { io: StepRecord; base: StepRecord; ioCost: MessageCost; baseCost: MessageCost } | undefined {
  const io = stepNear(run(workload, 'iocluster'), rate);
  const base = stepNear(run(workload, 'baseline'), rate);
  const ioCost = io && messageCost(io);
  const baseCost = base && messageCost(base);
  if (!io || !base || !ioCost || !baseCost) return undefined;
  return { io, base, ioCost, baseCost };
}

function ratioTarget(target: string, limit: number, io: number, base: number, unit: string): TargetStatus {
  const goal = `≤ ${limit.toFixed(1)}× baseline`;
  if (!(base > 0)) return notMeasured(target, goal);
  const ratio = io / base;
  return atMost(
    target,
    goal,
    ratio,
    limit,
    `${ratio.toFixed(2)}× (${io.toFixed(1)} vs ${base.toFixed(1)} ${unit})`,
    `${(ratio - limit).toFixed(2)}×`,
  );
}

/** Mean CPU µs per message of the processes whose label matches. */
function meanOf(cost: MessageCost, label: RegExp): number {
  const values = Object.entries(cost.cpuUs)
    .filter(([name]) => label.test(name))
    .map(([, us]) => us);
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** iocluster's knee over the baseline's, decided only when the interval the step spacing allows is clear. */
function kneeTarget(workload: WorkloadRun | undefined, label: string, limit: number): TargetStatus {
  const target = `knee throughput, ${label}`;
  const goal = `≥ ${limit.toFixed(1)}× baseline`;
  const base = run(workload, 'baseline')?.knee ?? null;
  const ioRun = run(workload, 'iocluster');
  if (workload && base && ioRun && !ioRun.knee) {
    return {
      target,
      goal,
      measured: `0× (iocluster failed its first step, ${n(ioRun.steps[0]?.offered ?? 0)} msgs/s; baseline ${kneeText(base)})`,
      status: 'missed',
      detail: `by ${limit.toFixed(1)}×`,
    };
  }
  if (!workload || workload.ratio === null) return notMeasured(target, goal);
  const io = ioRun?.knee ?? null;
  const ratio = workload.ratio;
  // Each knee is only known to lie between its passing step and the failing one (or above it, when
  // no step failed), so the true ratio lies in an interval; only an interval clear of the goal decides.
  const low = io && base?.failedAt ? io.msgsPerSec / base.failedAt : 0;
  const high = io?.failedAt && base ? io.failedAt / base.msgsPerSec : Number.POSITIVE_INFINITY;
  const status: TargetStatus['status'] = low >= limit ? 'met' : high < limit ? 'missed' : 'inconclusive';
  const interval = `true ratio between ${low.toFixed(2)}× and ${Number.isFinite(high) ? `${high.toFixed(2)}×` : '∞'} at this step spacing`;
  return {
    target,
    goal,
    measured: `${ratio.toFixed(2)}× (${kneeText(io)} vs ${kneeText(base)} msgs/s)`,
    status,
    detail:
      status === 'missed'
        ? `by ${(limit - ratio).toFixed(2)}× (${n((1 - ratio / limit) * 100)}% short; ${interval})`
        : status === 'inconclusive'
          ? `${interval}; use finer --steps around the knees`
          : '',
  };
}

/** p50 or p99 of iocluster at a step near `rate`, against a fixed bound. */
function latencyTarget(
  workload: WorkloadRun | undefined,
  target: string,
  pct: 'p50' | 'p99',
  rate: number,
  limit: number,
  unit: string,
): TargetStatus {
  const goal = `≤ ${limit} ms`;
  const near = stepNear(run(workload, 'iocluster'), rate);
  if (!near) return notMeasured(target, goal, `no iocluster step near ${n(rate)} ${unit}`);
  const value = near.latencyMs[pct];
  const base = stepNear(run(workload, 'baseline'), rate);
  return atMost(
    target,
    goal,
    value,
    limit,
    `${ms(value)} ms (at ${n(near.deliveriesPerSec)} ${unit}${base ? `; baseline ${ms(base.latencyMs[pct])}` : ''})`,
    `${ms(value - limit)} ms`,
  );
}

/** `baseline-streams` ran on every workload of the run. */
function peerTarget(workloads: readonly WorkloadRun[]): TargetStatus {
  const target = 'second peer (@socket.io/redis-streams-adapter) on every workload';
  const goal = 'measured on every workload';
  const measured = workloads.filter((w) => (run(w, 'baseline-streams')?.steps.length ?? 0) > 0);
  if (measured.length === 0) return notMeasured(target, goal);
  const ratio = (w: WorkloadRun) => {
    const value = w.ratios['baseline-streams'];
    return value === null || value === undefined ? 'n/a' : `${value.toFixed(2)}×`;
  };
  return {
    target,
    goal,
    measured: measured
      .map((w) => `${w.name}: knee ${kneeText(run(w, 'baseline-streams')!.knee)} (iocluster ${ratio(w)})`)
      .join('; '),
    status: measured.length === workloads.length ? 'met' : 'missed',
    detail: measured.length < workloads.length ? 'not on every workload' : '',
  };
}

function memoryTarget(memory: readonly MemoryRecord[]): TargetStatus {
  const target = 'RSS per idle connection on an io-node, 10,000 connections';
  const limit = GOALS.rssPerConnectionKB;
  const goal = `≤ ${limit} KB`;
  const mem = memory.find((m) => m.system === 'iocluster');
  if (!mem) return notMeasured(target, goal);
  const base = memory.find((m) => m.system === 'baseline');
  const measured = `${mem.perClientKB} KB (${n(mem.clients)} connections${base ? `; baseline ${base.perClientKB} KB` : ''})`;
  if (mem.perClientKB <= limit) return { target, goal, measured, status: 'met', detail: '' };
  // Fewer connections spread the server's fixed growth over fewer clients: only a pass is conclusive.
  const over = (mem.perClientKB - limit).toFixed(1);
  return mem.clients < 10_000
    ? {
        target,
        goal,
        measured,
        status: 'inconclusive',
        detail: `over by ${over} KB with only ${n(mem.clients)} connections`,
      }
    : { target, goal, measured, status: 'missed', detail: `by ${over} KB` };
}

/** Every target's status, from whatever this run measured (`not measured` for what it did not run). */
export function evaluateTargets(
  workloads: readonly WorkloadRun[],
  memory: readonly MemoryRecord[],
): TargetStatus[] {
  const fanout10 = workloads.find((w) => w.name === 'fanout10');
  const fanout1 = workloads.find((w) => w.name === 'fanout1');
  const rpc = workloads.find((w) => w.name === 'rpc');
  const at10k = pair(fanout10, FANOUT_RATE);
  const atRpc = pair(rpc, RPC_RATE);
  const where = 'at 10,000 deliveries/s, fan-out 10';

  const cpuTarget = `CPU (iocluster processes + Redis) per delivery ${where}`;
  const ioTarget = `io-node CPU per message ${where} (mean of the io-nodes vs of the baseline's servers)`;
  const rpcCpuTarget = 'rpc: CPU (iocluster processes + Redis) per call at 1,000 calls/s';
  return [
    at10k
      ? ratioTarget(
          cpuTarget,
          GOALS.cpuPerDelivery,
          at10k.ioCost.systemCpuUsPerDelivery,
          at10k.baseCost.systemCpuUsPerDelivery,
          'µs per delivery',
        )
      : notMeasured(cpuTarget, `≤ ${GOALS.cpuPerDelivery.toFixed(1)}× baseline`),
    at10k
      ? ratioTarget(
          ioTarget,
          GOALS.ioNodePerMessage,
          meanOf(at10k.ioCost, IO_NODE),
          meanOf(at10k.baseCost, BASE_SERVER),
          'µs per message',
        )
      : notMeasured(ioTarget, `≤ ${GOALS.ioNodePerMessage.toFixed(1)}× baseline`),
    latencyTarget(fanout10, `p50 latency ${where}`, 'p50', FANOUT_RATE, GOALS.p50Ms, 'deliveries/s'),
    latencyTarget(fanout10, `p99 latency ${where}`, 'p99', FANOUT_RATE, GOALS.p99Ms, 'deliveries/s'),
    kneeTarget(fanout10, 'fan-out 10', GOALS.kneeFanout10),
    kneeTarget(fanout1, 'fan-out 1', GOALS.kneeFanout1),
    atRpc
      ? ratioTarget(
          rpcCpuTarget,
          GOALS.rpcCpuPerCall,
          atRpc.ioCost.systemCpuUs,
          atRpc.baseCost.systemCpuUs,
          'µs per call',
        )
      : notMeasured(rpcCpuTarget, `≤ ${GOALS.rpcCpuPerCall.toFixed(1)}× baseline`),
    latencyTarget(rpc, 'rpc: p50 round trip at 1,000 calls/s', 'p50', RPC_RATE, GOALS.rpcP50Ms, 'calls/s'),
    memoryTarget(memory),
    peerTarget(workloads),
  ];
}
