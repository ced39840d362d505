import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_NAMES, type SystemName } from './systems.js';

export type WorkloadName = 'fanout10' | 'fanout1' | 'rpc' | 'scale';
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['fanout10', 'fanout1', 'rpc', 'scale'];

export interface Workload {
  name: WorkloadName;
  clients: number;
  rooms: number;
  /** Offered loads to try, in messages per second, lowest first. */
  steps: number[];
}

export interface BenchOptions {
  short: boolean;
  workloads: Workload[];
  systems: SystemName[];
  durationMs: number;
  /** How long after its last send a step waits for missing deliveries before counting them lost. */
  drainMs: number;
  /** Unrecorded load at the first step's rate after joining, so JIT warm-up is not measured. */
  warmupMs: number;
  /** Pause between steps, so one step's stragglers do not land in the next. */
  gapMs: number;
  /** A step fails above this p99 (or with any loss); stepping stops after a failing step. */
  p99LimitMs: number;
  generators: number;
  /** Idle clients of the memory probe; 0 skips it. */
  memoryClients: number;
  cpuProf: boolean;
  /** Extra environment of the iocluster processes (`--env K=V,K=V`): to compare settings, say. */
  ioclusterEnv: Record<string, string>;
  outDir: string;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const FULL_STEPS: Record<WorkloadName, number[]> = {
  // Fine around where a 2-core machine with everything on it saturates (2-4k msgs/s at fan-out 10);
  // 1,000 msgs/s at fan-out 10 is the 10,000 deliveries/s of the latency target.
  fanout10: [500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_500, 4_000, 5_000, 6_000, 8_000],
  fanout1: [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 10_000, 12_000],
  // Round trips per second; the first step is the fixed rate latency is compared at.
  rpc: [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 10_000, 12_000],
  // One step per io-node count (1, 2, 4, 8): 10,000 deliveries/s.
  scale: [1_000],
};
const SHORT_STEPS = [500, 1_000, 2_000];
const WORKLOAD_SHAPES: Record<WorkloadName, { clients: number; rooms: number }> = {
  fanout10: { clients: 200, rooms: 20 },
  fanout1: { clients: 200, rooms: 200 },
  rpc: { clients: 200, rooms: 200 },
  scale: { clients: 200, rooms: 20 },
};

export const USAGE = `usage: npm run bench -- [options]   (or: node bench/dist/run.js [options])
  --short                 CI mode: fanout10 at 3 low steps of 3 s, both systems, 1,000-connection memory probe
  --workload <names>      fanout10, fanout1, rpc, scale (iocluster with 1, 2, 4, 8 io-nodes, rooms on
                          one node each; first --steps rate) comma-separated, all or none
                                                                              default: all (short: fanout10)
  --steps <n,n,...>       offered loads in messages/s, lowest first           default: per workload
  --duration-ms <ms>      length of each step                                 default: 10000 (short: 3000)
  --drain-ms <ms>         wait for stragglers after a step's last send        default: 3000 (short: 2000)
  --warmup-ms <ms>        unrecorded warm-up load after joining               default: 2000 (short: 1000)
  --clients <n>           clients of every workload                           default: 200
  --rooms <n>             rooms of every workload                             default: 20 / 200
  --systems <names>       iocluster, baseline (@socket.io/redis-adapter), baseline-streams
                          (@socket.io/redis-streams-adapter), iocluster-msgpack (msgpack parser on
                          io-nodes and clients), iocluster-workers (one io-node process with
                          IO_NODE_WORKERS=2)                                  default: the first four
                                                                              (short: iocluster, baseline)
  --generators <n>        load generator processes                            default: 1
  --memory-clients <n>    idle connections of the memory probe (0 skips it)   default: 10000 (short: 1000)
  --cpu-prof              run the iocluster processes with --cpu-prof into bench/profiles
  --env <K=V,...>         extra environment of the iocluster processes (e.g. COMMAND_APPEND_SCRIPT=off)
  --out <dir>             results directory                                   default: bench/results`;

function list<T extends string>(raw: string, allowed: readonly T[], name: string): T[] {
  const items = raw.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new Error(`${name} must be a comma-separated list of ${allowed.join(', ')}, got "${item}"`);
    }
  }
  return [...new Set(items)] as T[];
}

/** An integer option's value; throws an error naming the option unless it lies in [min, max]. */
export function integer(raw: string | undefined, name: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** Parses the command line; throws an error naming the bad option. `help` is true for --help. */
/** `--env K=V,K=V` as an environment. */
export function envPairs(raw: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (raw ?? '')
      .split(',')
      .filter((pair) => pair.length > 0)
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new Error(`--env must be a comma-separated list of K=V, got "${pair}"`);
        return [pair.slice(0, eq), pair.slice(eq + 1)];
      }),
  );
}

export function parseOptions(argv: readonly string[]): BenchOptions & { help: boolean } {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const valued = new Set([
    'workload',
    'steps',
    'duration-ms',
    'drain-ms',
    'warmup-ms',
    'clients',
    'rooms',
    'systems',
    'generators',
    'memory-clients',
    'env',
    'out',
  ]);
  const boolean = new Set(['short', 'cpu-prof', 'help']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unexpected argument "${arg}"\n${USAGE}`);
    const name = match[1]!;
    if (boolean.has(name)) {
      flags.add(name);
    } else if (valued.has(name)) {
      const value = match[2] ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      values.set(name, value);
    } else {
      throw new Error(`unknown option --${name}\n${USAGE}`);
    }
  }
  const short = flags.has('short');
  const get = (name: string) => values.get(name);

  const names: WorkloadName[] = get('workload')
    ? get('workload') === 'none'
      ? []
      : get('workload') === 'all'
        ? [...WORKLOAD_NAMES]
        : list(get('workload')!, WORKLOAD_NAMES, '--workload')
    : short
      ? ['fanout10']
      : [...WORKLOAD_NAMES];
  const steps = get('steps')
    ? get('steps')!
        .split(',')
        .map((s) => integer(s.trim(), '--steps', 1, 1_000_000))
    : undefined;
  if (steps?.some((s, i) => i > 0 && s <= steps[i - 1]!)) {
    throw new Error('--steps must be increasing');
  }
  const clients = get('clients') ? integer(get('clients')!, '--clients', 1, 50_000) : undefined;
  const rooms = get('rooms') ? integer(get('rooms')!, '--rooms', 1, 50_000) : undefined;
  const workloads = names.map((name): Workload => {
    const shape = WORKLOAD_SHAPES[name];
    const workload = {
      name,
      clients: clients ?? shape.clients,
      rooms: rooms ?? shape.rooms,
      steps: steps ?? (short ? SHORT_STEPS : FULL_STEPS[name]),
    };
    if (workload.rooms > workload.clients) {
      throw new Error(`--rooms (${workload.rooms}) cannot exceed --clients (${workload.clients})`);
    }
    return workload;
  });

  return {
    help: flags.has('help'),
    short,
    workloads,
    systems: get('systems')
      ? list(get('systems')!, SYSTEM_NAMES, '--systems')
      : short
        ? ['iocluster', 'baseline']
        : ['iocluster', 'baseline', 'baseline-streams', 'iocluster-msgpack'],
    durationMs: integer(get('duration-ms') ?? (short ? '3000' : '10000'), '--duration-ms', 200, 600_000),
    drainMs: integer(get('drain-ms') ?? (short ? '2000' : '3000'), '--drain-ms', 100, 120_000),
    warmupMs: integer(get('warmup-ms') ?? (short ? '1000' : '2000'), '--warmup-ms', 0, 120_000),
    gapMs: 500,
    p99LimitMs: 100,
    generators: integer(get('generators') ?? '1', '--generators', 1, 8),
    memoryClients: integer(
      get('memory-clients') ?? (short ? '1000' : '10000'),
      '--memory-clients',
      0,
      100_000,
    ),
    cpuProf: flags.has('cpu-prof'),
    ioclusterEnv: envPairs(get('env')),
    outDir: resolve(get('out') ?? `${ROOT}bench/results`),
  };
}
