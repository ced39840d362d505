import type { BenchOptions, WorkloadName } from './options.js';
import type { MachineInfo } from './proc-stats.js';
import type { RedisStepStats } from './redis-stats.js';
import type { ScaleRecord } from './scale.js';
import type { SystemName } from './systems.js';

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** One offered load on one system. Rates are per second; latencies in ms. */
export interface StepRecord {
  /** The step as asked for (`--steps`). */
  requested: number;
  /** The load actually scheduled: messages over the step's duration. */
  offered: number;
  durationMs: number;
  sent: number;
  /** Messages sent per second over the send window. */
  sentRate: number;
  expected: number;
  /** Distinct deliveries (message, receiver). */
  delivered: number;
  /** Delivered deliveries divided by the fan-out, per second from the first send to the last delivery. */
  deliveredMsgsPerSec: number;
  deliveriesPerSec: number;
  lost: number;
  duplicates: number;
  late: number;
  misrouted: number;
  acked: number;
  ackErrors: Record<string, number>;
  latencyMs: LatencySummary;
  /** How late the generators sent against their schedule. */
  sendLagMs: { p99: number; max: number };
  /** Event-loop utilization of each generator (0..1). */
  generatorElu: number[];
  /** CPU% by process label (100 = one core): servers, app-node, generators, redis. */
  cpu: Record<string, number>;
  /** Length of the interval `cpu`, `wakeups` and `redis` cover (the step and its drain), ms. */
  meteredMs?: number;
  /** Wake-ups (voluntary context switches of the main thread) by process label over the step. */
  wakeups: Record<string, number>;
  /** Redis commands and bytes over the step (absent when the counters could not be read). */
  redis?: RedisStepStats;
  /** What may skew this step: a generator near saturation, other work on the machine. */
  caveats: string[];
  /** Zero loss and p99 within the limit. */
  ok: boolean;
  failure?: string;
}

export interface Knee {
  msgsPerSec: number;
  deliveriesPerSec: number;
  offered: number;
  p50Ms: number;
  p99Ms: number;
  cpu: Record<string, number>;
  /** False when no step failed: the knee is at least this, the system was never pushed past it. */
  bounded: boolean;
  /** Offered rate of the failing step: the true knee lies below it (null when no step failed). */
  failedAt: number | null;
  /** The failing step had a generator near saturation: the limit found may be the generator's. */
  failedGeneratorBusy: boolean;
}

export interface SystemRun {
  system: SystemName;
  connect: { clients: number; joined: number; ms: number };
  warmup?: { sent: number; lost: number; duplicates: number };
  steps: StepRecord[];
  knee: Knee | null;
  /** Warn/error log lines of the system's processes during the run, by process. */
  warnings: Record<string, { count: number; first: string[] }>;
}

export interface WorkloadRun {
  name: WorkloadName;
  clients: number;
  rooms: number;
  /** Mean deliveries expected per message (members per room, the sender included). */
  fanout: number;
  runs: SystemRun[];
  /** Knee of iocluster divided by the baseline's; null when either is missing. */
  ratio: number | null;
  /** Knee of iocluster divided by each peer's (`baseline`, `baseline-streams`) that ran. */
  ratios: Record<string, number | null>;
}

export interface MemoryRecord {
  system: SystemName;
  /** Process whose RSS was measured (the first Socket.IO server). */
  server: string;
  clients: number;
  connectMs: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  perClientBytes: number;
  perClientKB: number;
  /** RSS of every process of the system before and after, for context. */
  processes: Record<string, { beforeBytes: number; afterBytes: number }>;
}

/** `inconclusive`: a knee the ratio needs was not reached, and the bound it gives does not decide. */
export type TargetState = 'met' | 'missed' | 'inconclusive' | 'not measured';

export interface TargetStatus {
  target: string;
  goal: string;
  measured: string;
  status: TargetState;
  detail: string;
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: MachineInfo;
  options: Omit<BenchOptions, 'outDir'>;
  workloads: WorkloadRun[];
  /** The scale workload: one record per io-node count (absent in older results). */
  scale?: ScaleRecord[];
  memory: MemoryRecord[];
  targets: TargetStatus[];
}
