import { describe, expect, test } from 'vitest';
import { kneeOf, markdown, statusText } from '../src/report.js';
import type { MemoryRecord, StepRecord, SystemRun, TargetStatus, WorkloadRun } from '../src/results.js';
import { evaluateTargets, GOALS } from '../src/targets.js';

interface StepShape {
  /** Messages per second (calls per second for rpc). */
  rate: number;
  fanout: number;
  /** CPU µs per message by process label. */
  cpuUs: Record<string, number>;
  p50?: number;
  p99?: number;
  lost?: number;
}

/** A one-second step whose meters give exactly `cpuUs` per message. */
function step({ rate, fanout, cpuUs, p50 = 1, p99 = 5, lost = 0 }: StepShape): StepRecord {
  const cpu = Object.fromEntries(Object.entries(cpuUs).map(([label, us]) => [label, (us * rate) / 1e4]));
  const delivered = rate * fanout - lost;
  return {
    requested: rate,
    offered: rate,
    durationMs: 1_000,
    sent: rate,
    sentRate: rate,
    expected: rate * fanout,
    delivered,
    deliveredMsgsPerSec: delivered / fanout,
    deliveriesPerSec: delivered,
    lost,
    duplicates: 0,
    late: 0,
    misrouted: 0,
    acked: rate,
    ackErrors: {},
    latencyMs: { p50, p90: p99, p99, p999: p99, max: p99, mean: p50 },
    sendLagMs: { p99: 0, max: 0 },
    generatorElu: [0.2],
    cpu,
    meteredMs: 1_000,
    wakeups: {},
    caveats: [],
    ok: lost === 0 && p99 <= 100,
  };
}

function system(name: SystemRun['system'], steps: StepRecord[]): SystemRun {
  return {
    system: name,
    connect: { clients: 200, joined: 200, ms: 1 },
    steps,
    knee: kneeOf(steps),
    warnings: {},
  };
}

function workload(name: WorkloadRun['name'], fanout: number, runs: SystemRun[]): WorkloadRun {
  const [io, base] = ['iocluster', 'baseline'].map((s) => runs.find((r) => r.system === s)?.knee);
  const ratio = io && base ? io.msgsPerSec / base.msgsPerSec : null;
  return { name, clients: 200, rooms: 200 / fanout, fanout, runs, ratio, ratios: { baseline: ratio } };
}

const memory = (perClientKB: number, clients = 10_000): MemoryRecord => ({
  system: 'iocluster',
  server: 'io-0',
  clients,
  connectMs: 1,
  rssBeforeBytes: 0,
  rssAfterBytes: perClientKB * 1_000 * clients,
  perClientBytes: perClientKB * 1_000,
  perClientKB,
  processes: {},
});

const byName = (targets: TargetStatus[], part: string) => {
  const found = targets.find((t) => t.target === part) ?? targets.find((t) => t.target.includes(part));
  if (!found) throw new Error(`no target "${part}" in ${targets.map((t) => t.target).join(' | ')}`);
  return found;
};

/** Fan-out 10 at 1,000 msgs/s (10,000 deliveries/s), then a step each system fails or passes. */
function fanout10(io: Record<string, number>, base: Record<string, number>, latency = { p50: 1.5, p99: 12 }) {
  return workload('fanout10', 10, [
    system('iocluster', [
      step({ rate: 1_000, fanout: 10, cpuUs: io, ...latency }),
      step({ rate: 4_000, fanout: 10, cpuUs: io, p99: 150 }),
    ]),
    system('baseline', [
      step({ rate: 1_000, fanout: 10, cpuUs: base }),
      step({ rate: 4_000, fanout: 10, cpuUs: base, p99: 150 }),
    ]),
  ]);
}

function rpc(ioUs: number, baseUs: number, p50: number) {
  return workload('rpc', 1, [
    system('iocluster', [
      step({ rate: 1_000, fanout: 1, cpuUs: { 'io-0': ioUs / 2, 'io-1': ioUs / 2 }, p50 }),
    ]),
    system('baseline', [step({ rate: 1_000, fanout: 1, cpuUs: { 'base-0': baseUs }, p50: 0.3 })]),
  ]);
}

describe('bench targets', () => {
  test('bench targets - each goal is met at its bound and missed just past it, with the figures it compared', () => {
    const base = { 'base-0': 200, 'base-1': 200, redis: 50, 'gen-0': 300 };
    // 750 µs per message over 450: 1.67×; the io-nodes 260 over the servers' 200: 1.3×.
    const io = { 'io-0': 260, 'io-1': 260, 'app-0': 150, redis: 80, 'gen-0': 500 };
    const targets = evaluateTargets([fanout10(io, base), rpc(900, 300, 1)], [memory(20)]);

    const cpu = byName(targets, 'per delivery');
    expect(cpu).toMatchObject({ status: 'missed', goal: '≤ 1.5× baseline' });
    expect(cpu.measured).toBe('1.67× (75.0 vs 45.0 µs per delivery)');
    expect(statusText(cpu)).toBe('missed by 0.17×');
    expect(byName(targets, 'io-node CPU per message')).toMatchObject({
      status: 'met',
      measured: '1.30× (260.0 vs 200.0 µs per message)',
    });
    expect(byName(targets, 'p50 latency')).toMatchObject({ status: 'met', goal: `≤ ${GOALS.p50Ms} ms` });
    expect(byName(targets, 'p99 latency')).toMatchObject({ status: 'met', goal: `≤ ${GOALS.p99Ms} ms` });
    // The generator's CPU is not the system's: 900 over 300 per call is exactly 3×.
    expect(byName(targets, 'rpc: CPU')).toMatchObject({
      status: 'met',
      measured: '3.00× (900.0 vs 300.0 µs per call)',
    });
    expect(byName(targets, 'rpc: p50')).toMatchObject({
      status: 'met',
      measured: '1.00 ms (at 1,000 calls/s; baseline 0.30)',
    });
    expect(byName(targets, 'RSS')).toMatchObject({ status: 'met', goal: '≤ 20 KB' });

    const past = evaluateTargets(
      [fanout10({ ...io, 'io-0': 262, 'io-1': 262 }, base, { p50: 2.01, p99: 15.1 }), rpc(903, 300, 1.01)],
      [memory(20.1)],
    );
    expect(byName(past, 'io-node CPU per message').status).toBe('missed');
    expect(statusText(byName(past, 'p50 latency'))).toBe('missed by 0.01 ms');
    expect(byName(past, 'p99 latency').status).toBe('missed');
    expect(byName(past, 'rpc: CPU').status).toBe('missed');
    expect(byName(past, 'rpc: p50').status).toBe('missed');
    expect(statusText(byName(past, 'RSS'))).toBe('missed by 0.1 KB');
  });

  test("bench targets - a system that could not keep up with the targets' load is measured there, and misses", () => {
    const base = { 'base-0': 200 };
    const swamped = fanout10({ 'io-0': 300 }, base, { p50: 900, p99: 2_000 });
    // Offered 10,000 deliveries/s, delivered 4,000: the step still counts.
    const step = swamped.runs[0]!.steps[0]!;
    Object.assign(step, { delivered: 4_000, deliveriesPerSec: 4_000, lost: 6_000, ok: false });
    const targets = evaluateTargets([swamped], []);
    expect(byName(targets, 'p50 latency')).toMatchObject({
      status: 'missed',
      measured: expect.stringContaining('900 ms (at 4,000'),
    });
    expect(byName(targets, 'per delivery').status).toBe('missed');
  });

  test('bench targets - a knee ratio is decided only when the interval the steps allow is clear of the goal', () => {
    const cpu = { 'io-0': 1, 'base-0': 1 };
    const knees = (ioPass: number, ioFail: number, basePass: number, baseFail: number) =>
      workload('fanout1', 1, [
        system('iocluster', [
          step({ rate: ioPass, fanout: 1, cpuUs: cpu }),
          step({ rate: ioFail, fanout: 1, cpuUs: cpu, lost: 1 }),
        ]),
        system('baseline', [
          step({ rate: basePass, fanout: 1, cpuUs: cpu }),
          step({ rate: baseFail, fanout: 1, cpuUs: cpu, lost: 1 }),
        ]),
      ]);
    const status = (w: WorkloadRun) => byName(evaluateTargets([w], []), 'knee throughput, fan-out 1').status;
    // iocluster passed where the baseline failed: at least 1.0× whatever lies between.
    expect(status(knees(8_000, 10_000, 6_000, 8_000))).toBe('met');
    // iocluster failed below where the baseline passed.
    expect(status(knees(4_000, 6_000, 7_000, 8_000))).toBe('missed');
    // Same steps passed and failed: the ratio lies somewhere around 1.
    expect(status(knees(6_000, 8_000, 6_000, 8_000))).toBe('inconclusive');
  });

  test('bench targets - what a run did not measure is said so, and printed with the rest', () => {
    const targets = evaluateTargets([], []);
    expect(targets).toHaveLength(10);
    expect(new Set(targets.map((t) => t.status))).toEqual(new Set(['not measured']));
    const table = markdown({
      version: 1,
      startedAt: '',
      finishedAt: '',
      command: '',
      machine: {
        cpuModel: 'cpu',
        cores: 2,
        memoryGiB: 1,
        kernel: 'k',
        node: 'v20',
        redis: '7',
        loadAverageAtStart: [0, 0, 0],
        openFilesLimit: 1_024,
      },
      options: {} as never,
      workloads: [],
      memory: [],
      targets,
    });
    for (const t of targets) expect(table).toContain(`| ${t.target} | ${t.goal} | — | not measured`);
  });
});
