import type { StepRecord, SystemRun, WorkloadRun } from './results.js';

/** Labels of processes that are not the system under test. */
const NOT_SYSTEM = /^(gen-\d+|bench|other)$/;

/** What one message sent cost over a step, from its meters. */
export interface MessageCost {
  /** Messages sent in the step. */
  messages: number;
  deliveries: number;
  /** CPU µs per message by process (servers, app-node, redis...). */
  cpuUs: Record<string, number>;
  /** CPU µs per message of the system: its processes plus Redis (not generators or the benchmark). */
  systemCpuUs: number;
  /** The same per delivery. */
  systemCpuUsPerDelivery: number;
  /** Wake-ups per message by process. */
  wakeups: Record<string, number>;
  /** Redis calls per message by command, and in total; Redis CPU µs per message in commands. */
  redisCalls: Record<string, number>;
  redisCallsTotal: number;
  /** Lua scripts run per message (`evalsha` + `eval`): each is one command of a client, many inside. */
  redisScripts: number;
  /** Bytes Redis read and wrote per message. */
  redisBytesIn: number;
  redisBytesOut: number;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export function messageCost(step: StepRecord): MessageCost | null {
  if (step.sent === 0 || !step.meteredMs) return null;
  const per = (value: number) => value / step.sent;
  const seconds = step.meteredMs / 1000;
  const cpuUs: Record<string, number> = {};
  let system = 0;
  for (const [label, pct] of Object.entries(step.cpu)) {
    const us = per((pct / 100) * seconds * 1e6);
    cpuUs[label] = Math.round(us);
    if (!NOT_SYSTEM.test(label)) system += us;
  }
  const wakeups: Record<string, number> = {};
  for (const [label, count] of Object.entries(step.wakeups ?? {})) wakeups[label] = round(per(count));
  const redisCalls: Record<string, number> = {};
  for (const [command, calls] of Object.entries(step.redis?.calls ?? {})) {
    if (calls > 0) redisCalls[command] = round(per(calls));
  }
  return {
    messages: step.sent,
    deliveries: step.delivered,
    cpuUs,
    systemCpuUs: Math.round(system),
    systemCpuUsPerDelivery: step.delivered > 0 ? round((system * step.sent) / step.delivered, 1) : 0,
    wakeups,
    redisCalls,
    redisCallsTotal: round(per(step.redis?.totalCalls ?? 0)),
    redisScripts: round(per((step.redis?.calls.evalsha ?? 0) + (step.redis?.calls.eval ?? 0))),
    redisBytesIn: Math.round(per(step.redis?.netInputBytes ?? 0)),
    redisBytesOut: Math.round(per(step.redis?.netOutputBytes ?? 0)),
  };
}

/** The console line of a step's cost per message. */
export function costLine(step: StepRecord): string {
  const cost = messageCost(step);
  if (!cost) return '';
  const top = (record: Record<string, number>, limit: number) =>
    Object.entries(record)
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([k, v]) => `${k} ${v}`)
      .join(' ');
  return (
    `    per message: system CPU ${cost.systemCpuUs} µs (${cost.systemCpuUsPerDelivery} µs/delivery) | ` +
    `cpu µs ${top(cost.cpuUs, 8)} | wake-ups ${top(cost.wakeups, 8)} | ` +
    `redis ${cost.redisScripts} scripts, ${cost.redisCallsTotal} calls incl. the scripts' own (${top(cost.redisCalls, 10)}) ${cost.redisBytesIn} B in ${cost.redisBytesOut} B out`
  );
}

/** The step of a run whose delivery rate is nearest `rate`, if one is within 25 % of it. */
export function stepNear(run: SystemRun | undefined, rate: number): StepRecord | undefined {
  return (run?.steps ?? [])
    .filter((s) => Math.abs(s.deliveriesPerSec - rate) <= rate / 4)
    .sort((a, b) => Math.abs(a.deliveriesPerSec - rate) - Math.abs(b.deliveriesPerSec - rate))[0];
}

/** Markdown table: cost per message of every system at the step nearest `rate` deliveries/s. */
export function costTable(workload: WorkloadRun, rate: number): string[] {
  const lines = [
    `Cost per message, ${workload.name}, step nearest ${rate.toLocaleString('en-US')} deliveries/s:`,
    '',
    '| system | deliveries/s | system CPU µs/msg (µs/delivery) | CPU µs/msg by process | wake-ups/msg by process | Lua scripts/msg | Redis calls/msg (incl. those inside scripts) | Redis bytes in / out per msg |',
    '|---|---:|---:|---|---|---:|---|---:|',
  ];
  for (const r of workload.runs) {
    const step = stepNear(r, rate);
    const cost = step && messageCost(step);
    if (!step || !cost) continue;
    const list = (record: Record<string, number>) =>
      Object.entries(record)
        .filter(([k]) => k !== 'bench' && k !== 'other')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
    lines.push(
      `| ${r.system} | ${step.deliveriesPerSec.toLocaleString('en-US')} | ${cost.systemCpuUs} (${cost.systemCpuUsPerDelivery}) | ` +
        `${list(cost.cpuUs)} | ${list(cost.wakeups)} | ${cost.redisScripts} | ${cost.redisCallsTotal}: ${list(cost.redisCalls)} | ` +
        `${cost.redisBytesIn} / ${cost.redisBytesOut} |`,
    );
  }
  return lines;
}
