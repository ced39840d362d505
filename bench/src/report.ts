import { costTable } from './cost.js';
import { kneeText, ms, n } from './format.js';
import type { MachineInfo } from './proc-stats.js';
import type { BenchResults, Knee, StepRecord, TargetStatus, WorkloadRun } from './results.js';
import type { ScaleRecord } from './scale.js';
import { GENERATOR_BUSY } from './scenario.js';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Highest delivered rate among the steps with zero loss and p99 within the limit before the first failing one. */
export function kneeOf(steps: readonly StepRecord[]): Knee | null {
  let best: StepRecord | undefined;
  for (const step of steps) {
    // Steps after a failing one (run only to reach the targets' load) do not raise the knee.
    if (!step.ok) break;
    if (!best || step.deliveredMsgsPerSec > best.deliveredMsgsPerSec) best = step;
  }
  if (!best) return null;
  return {
    msgsPerSec: best.deliveredMsgsPerSec,
    deliveriesPerSec: best.deliveriesPerSec,
    offered: best.offered,
    p50Ms: best.latencyMs.p50,
    p99Ms: best.latencyMs.p99,
    cpu: best.cpu,
    bounded: steps.some((step) => !step.ok),
    failedAt: steps.find((step) => !step.ok)?.offered ?? null,
    failedGeneratorBusy:
      steps.find((step) => !step.ok)?.caveats.some((c) => c.startsWith(GENERATOR_BUSY)) ?? false,
  };
}

function cpuText(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([label, pct]) => `${label} ${pct.toFixed(0)}%`)
    .join(' ');
}

/** The console line for one step of one system. */
export function stepLine(workload: string, system: string, step: StepRecord): string {
  const errors = Object.entries(step.ackErrors)
    .map(([code, count]) => `${code}×${count}`)
    .join(',');
  return [
    `${workload.padEnd(8)} ${system.padEnd(9)}`,
    `offered ${n(step.offered).padStart(6)}/s`,
    `sent ${n(step.sentRate).padStart(6)}/s`,
    `delivered ${n(step.deliveredMsgsPerSec).padStart(6)} msg/s ${n(step.deliveriesPerSec).padStart(7)} del/s`,
    `lost ${n(step.lost)} dup ${n(step.duplicates)}`,
    `p50 ${ms(step.latencyMs.p50)} p99 ${ms(step.latencyMs.p99)} max ${ms(step.latencyMs.max)} ms`,
    `| cpu ${cpuText(step.cpu)}`,
    `| gen lag p99 ${ms(step.sendLagMs.p99)} ms elu ${step.generatorElu.join('/')}`,
    ...(step.late + step.misrouted > 0 ? [`late ${step.late} misrouted ${step.misrouted}`] : []),
    ...(errors ? [`ack errors ${errors}`] : []),
    step.ok ? 'ok' : `FAIL (${step.failure})`,
    ...step.caveats.map((c) => `[${c}]`),
  ].join('  ');
}

/** iocluster's knee over a peer's, on that peer's row. */
function ratioText(workload: WorkloadRun, peer: string): string {
  const ratio = workload.ratios?.[peer] ?? (peer === 'baseline' ? workload.ratio : null);
  if (ratio === null || ratio === undefined) return 'n/a';
  const [io, base] = ['iocluster', peer].map((s) => workload.runs.find((r) => r.system === s)?.knee);
  const note = io && base && (!io.bounded || !base.bounded) ? ' (a knee was not reached: bound only)' : '';
  return `${ratio.toFixed(2)}×${note}`;
}

function describeWorkload(workload: WorkloadRun): string {
  if (workload.name === 'rpc') return `rpc (${workload.clients} clients, round trips/s)`;
  return `fan-out ${Number(workload.fanout.toFixed(2))} (${workload.clients} clients, ${workload.rooms} rooms)`;
}

/** `met`, `missed by 2.1 ms`, `inconclusive: why`... */
export function statusText(target: TargetStatus): string {
  if (!target.detail) return target.status;
  return `${target.status}${target.status === 'missed' ? ' ' : ': '}${target.detail}`;
}

export function machineLine(machine: MachineInfo): string {
  return (
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, ` +
    `Node ${machine.node}, Redis ${machine.redis}; load average ${machine.loadAverageAtStart[0]} at start; ` +
    'servers, Redis and load generator all on this machine'
  );
}

/** The console line of one io-node count of the scale workload. */
export function scaleLine(r: ScaleRecord): string {
  const list = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([k, v]) => `${k} ${v}`)
      .join(' ');
  return (
    `scale    ${(r.load ?? 'total').padEnd(8)} ${r.ioNodes} io-node(s) ${n(r.offered)} msgs/s  sent ${n(r.sent)} delivered ${n(r.delivered)} lost ${n(r.lost)}  ` +
    `p50 ${ms(r.p50Ms)} p99 ${ms(r.p99Ms)} ms  | commands applied per message ${list(r.commandsPerMessage)}  ` +
    `| io-node CPU µs per own delivery ${list(r.cpuUsPerDelivery)}  | system ${r.systemCpuUsPerDelivery} µs/delivery`
  );
}

/** Mean of the io-nodes' CPU µs per delivery in one scale record. */
function meanIoCpu(r: ScaleRecord): number {
  const values = Object.values(r.cpuUsPerDelivery);
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

/** The scale workload's tables, one per load mode, each with how the io-nodes' CPU per delivery moved. */
function scaleTables(records: readonly ScaleRecord[]): string[] {
  const lines: string[] = [];
  for (const load of ['per-node', 'total'] as const) {
    const rows = records.filter((r) => (r.load ?? 'total') === load);
    if (rows.length === 0) continue;
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    // Rooms of 10: ten deliveries per message.
    const perNode = first.offered / first.ioNodes;
    lines.push(
      '',
      load === 'per-node'
        ? `Scale, the same load per io-node (rooms of 10, every member on one io-node; ${n(perNode)} msgs/s = ${n(perNode * 10)} deliveries/s per io-node):`
        : `Scale, the same load in all (rooms of 10, every member on one io-node; ${n(first.offered)} msgs/s = ${n(first.offered * 10)} deliveries/s shared by the io-nodes):`,
      '',
      '| io-nodes | msgs/s | lost | p50 / p99 (ms) | commands applied per message, each io-node | io-node CPU µs per delivery it made | system CPU µs per delivery |',
      '|---:|---:|---:|---:|---|---|---:|',
    );
    for (const r of rows) {
      const values = (record: Record<string, number>) => Object.values(record).join(' / ');
      lines.push(
        `| ${r.ioNodes} | ${n(r.offered)} | ${n(r.lost)} | ${ms(r.p50Ms)} / ${ms(r.p99Ms)} | ${values(r.commandsPerMessage)} | ${values(r.cpuUsPerDelivery)} | ${r.systemCpuUsPerDelivery} |`,
      );
    }
    lines.push(
      '',
      `io-nodes' mean CPU per delivery, ${first.ioNodes} → ${last.ioNodes} io-nodes: ` +
        `${meanIoCpu(first).toFixed(1)} → ${meanIoCpu(last).toFixed(1)} µs (${(meanIoCpu(last) / meanIoCpu(first)).toFixed(2)}×).`,
    );
  }
  return lines;
}

/** The markdown the README can paste. */
export function markdown(results: BenchResults): string {
  const lines: string[] = [];
  lines.push(`**Machine:** ${machineLine(results.machine)}.`, '');
  lines.push(
    '| workload | system | knee (msgs/s) | deliveries/s at knee | p50 / p99 at knee (ms) | CPU at knee | iocluster / this peer |',
    '|---|---|---:|---:|---:|---|---:|',
  );
  for (const workload of results.workloads) {
    workload.runs.forEach((r, i) => {
      const knee = r.knee;
      lines.push(
        `| ${i === 0 ? describeWorkload(workload) : ''} | ${r.system} | ${kneeText(knee)} | ` +
          `${knee ? n(knee.deliveriesPerSec) : '—'} | ${knee ? `${ms(knee.p50Ms)} / ${ms(knee.p99Ms)}` : '—'} | ` +
          `${knee ? cpuText(knee.cpu) : '—'} | ${r.system.startsWith('baseline') ? ratioText(workload, r.system) : ''} |`,
      );
    });
  }
  const fanout10 = results.workloads.find((w) => w.name === 'fanout10');
  if (fanout10) lines.push('', ...costTable(fanout10, 10_000));
  const rpc = results.workloads.find((w) => w.name === 'rpc');
  if (rpc?.runs[0]?.steps[0]) lines.push('', ...costTable(rpc, rpc.runs[0].steps[0].deliveriesPerSec));
  if (results.scale && results.scale.length > 0) lines.push(...scaleTables(results.scale));
  lines.push('', '| target | goal | measured | status |', '|---|---|---|---|');
  for (const t of results.targets) {
    lines.push(`| ${t.target} | ${t.goal} | ${t.measured} | ${statusText(t)} |`);
  }
  if (results.memory.length > 0) {
    lines.push(
      '',
      '| system | server | idle connections | RSS before | RSS after | per connection |',
      '|---|---|---:|---:|---:|---:|',
    );
    for (const m of results.memory) {
      lines.push(
        `| ${m.system} | ${m.server} | ${n(m.clients)} | ${mib(m.rssBeforeBytes)} | ${mib(m.rssAfterBytes)} | ${m.perClientKB} KB |`,
      );
    }
  }
  lines.push(
    '',
    `Knee: highest delivered rate with zero loss and p99 ≤ 100 ms; steps of ${results.options.durationMs / 1000} s; ` +
      'CPU 100% = one core. "≥" marks a system never pushed past its knee; "†" one whose failing step ' +
      "had the load generator near saturation (the limit found may be the generator's).",
  );
  return lines.join('\n');
}
