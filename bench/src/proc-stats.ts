import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on every Linux we run). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, i.e. 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * Times the process's main thread went to sleep and was woken (voluntary context switches): for an
 * event-loop process, one per wake-up of its loop. Undefined once the process is gone.
 */
export function wakeups(pid: number): number | undefined {
  try {
    const match = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in bytes (VmRSS); undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Soft limit on open files of this process (children inherit it). */
export function openFilesLimit(): number {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match?.[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match?.[1] ?? 1024);
  } catch {
    return 1024;
  }
}

/** CPU seconds the whole machine has spent busy (all cores: everything but idle and iowait). */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user and nice).
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Label under which {@link CpuMeter} reports what processes outside the benchmark used. */
export const OTHER_CPU = 'other';

/**
 * CPU% per process between two samples (100 = one core busy for the whole interval), plus `other`:
 * what the rest of the machine used meanwhile, the measure of how far a shared machine skews a step.
 */
export class CpuMeter {
  private readonly start = new Map<number, number>();
  private readonly startWakeups = new Map<number, number>();
  private startBusy: number | undefined;
  private startedAt = 0;

  constructor(private readonly pids: ReadonlyMap<string, number>) {}

  begin(): void {
    this.startedAt = performance.now();
    this.startBusy = machineBusySeconds();
    for (const pid of this.pids.values()) {
      const seconds = cpuSeconds(pid);
      if (seconds !== undefined) this.start.set(pid, seconds);
      const woken = wakeups(pid);
      if (woken !== undefined) this.startWakeups.set(pid, woken);
    }
  }

  /** Wake-ups of each process's main thread since `begin()`, by label. */
  wakeups(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [label, pid] of this.pids) {
      const before = this.startWakeups.get(pid);
      const after = wakeups(pid);
      if (before !== undefined && after !== undefined) out[label] = after - before;
    }
    return out;
  }

  /** Length of the metered interval so far, ms. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /** CPU% by process label over the interval since `begin()`. */
  end(): Record<string, number> {
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const busy = machineBusySeconds();
    const out: Record<string, number> = {};
    let ours = 0;
    for (const [label, pid] of this.pids) {
      const before = this.start.get(pid);
      const after = cpuSeconds(pid);
      if (before === undefined || after === undefined || wallSeconds <= 0) continue;
      ours += after - before;
      out[label] = Math.round(((after - before) / wallSeconds) * 1000) / 10;
    }
    if (busy !== undefined && this.startBusy !== undefined && wallSeconds > 0) {
      const others = Math.max(0, busy - this.startBusy - ours);
      out[OTHER_CPU] = Math.round((others / wallSeconds) * 1000) / 10;
    }
    return out;
  }
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  redis: string;
  /** 1/5/15-minute load averages when the run started: other work on the machine skews every figure. */
  loadAverageAtStart: number[];
  openFilesLimit: number;
}

export function machineInfo(redisVersion: string): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch {
    // /proc/cpuinfo is Linux-only; os.cpus() answered above.
  }
  return {
    cpuModel: cpuModel.trim(),
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    redis: redisVersion,
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
    openFilesLimit: openFilesLimit(),
  };
}
