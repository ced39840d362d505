import { fileURLToPath } from 'node:url';
import { launchCluster, workspaceEntryPoints } from '@iocluster/devkit';
import { type BenchProcess, countWarnings, forkReady, type Warnings } from './child.js';

export type SystemName =
  | 'iocluster'
  | 'baseline'
  | 'baseline-streams'
  | 'iocluster-msgpack'
  | 'iocluster-workers';
export const SYSTEM_NAMES: readonly SystemName[] = [
  'iocluster',
  'baseline',
  'baseline-streams',
  'iocluster-msgpack',
  'iocluster-workers',
];
/** The plain Socket.IO peers: `baseline` with `@socket.io/redis-adapter`, `baseline-streams` with the streams one. */
export const PEERS: readonly SystemName[] = ['baseline', 'baseline-streams'];

/** A system under test, running in child processes. */
export interface RunningSystem {
  readonly name: SystemName;
  /** Socket.IO parser of its servers, which clients must use too. */
  readonly parser: 'default' | 'msgpack';
  /** URLs clients connect to, one per Socket.IO server. */
  readonly urls: string[];
  /** Every process the benchmark started; without workers, `servers[i]` serves `urls[i]`. */
  readonly processes: BenchProcess[];
  readonly servers: BenchProcess[];
  /** Every process to meter, by label: `processes`, plus the workers of a supervisor (`io-0.w1`). */
  readonly pids: ReadonlyMap<string, number>;
  /** Stops the servers first (clients leave cleanly), then the rest. */
  stop(): Promise<void>;
}

export interface SystemOptions {
  redisUrl: string;
  /** Key prefix of the iocluster run. */
  prefix: string;
  /** Profile the iocluster processes into this directory (`--cpu-prof`). */
  cpuProfDir?: string;
  /** Extra environment of the iocluster processes. */
  env?: Record<string, string>;
  /** io-node processes of `iocluster` (the scale workload). @defaultValue 2 */
  ioNodes?: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHAT_HANDLERS = fileURLToPath(new URL('./chat-handlers.js', import.meta.url));
const BASELINE_SERVER = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
const SERVERS = 2;

/**
 * 2 io-nodes and 1 app-node, through their real entry points, ordering on: `iocluster` as 2 io-node
 * processes; `iocluster-msgpack` the same with `SOCKETIO_PARSER=msgpack` (clients too);
 * `iocluster-workers` as ONE io-node process with `IO_NODE_WORKERS=2`.
 */
async function startIocluster(
  name: 'iocluster' | 'iocluster-msgpack' | 'iocluster-workers',
  options: SystemOptions,
): Promise<RunningSystem> {
  const parser = name === 'iocluster-msgpack' ? 'msgpack' : 'default';
  const workers = name === 'iocluster-workers' ? SERVERS : 1;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  // A supervisor's workers inherit its options: a fixed --cpu-prof-name would have them overwrite one
  // another's profile, so theirs keep Node's default name, which holds the PID (`io-0.w1` in the report).
  const execArgv = (label: string, named = true) =>
    options.cpuProfDir
      ? [
          '--cpu-prof',
          '--cpu-prof-dir',
          options.cpuProfDir,
          ...(named ? ['--cpu-prof-name', `${label}-${stamp}.cpuprofile`] : []),
        ]
      : [];
  const cluster = await launchCluster({
    entryPoints: workspaceEntryPoints(ROOT),
    appModule: CHAT_HANDLERS,
    env: {
      REDIS_URL: options.redisUrl,
      IOCLUSTER_PREFIX: options.prefix,
      LOG_LEVEL: 'warn',
      LOG_PRETTY: 'off',
      ORDERING: 'on',
      SOCKETIO_PARSER: parser,
      ...options.env,
    },
    tierEnv: { 'io-node': { IO_NODE_WORKERS: String(workers) } },
    readyTimeoutMs: 20_000,
    stopGraceMs: 15_000,
  });
  const started: BenchProcess[] = [];
  const start = async (kind: 'app-node' | 'io-node', label: string, named = true) => {
    const warnings: Warnings = { count: 0, first: [] };
    const node = await cluster.start(kind, {
      label,
      nodeId: `bench-${label}`,
      execArgv: execArgv(label, named),
      output: (_, line) => countWarnings(warnings, line),
    });
    started.push(Object.assign(node, { warnings }));
  };
  try {
    await start('app-node', 'app-0');
    for (let i = 0; i < (options.ioNodes ?? SERVERS) / workers; i++)
      await start('io-node', `io-${i}`, workers === 1);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  const servers = started.filter((child) => child.label.startsWith('io-'));
  // Drain order: the servers first (clients leave cleanly), then the app-node.
  return system(name, parser, servers, started, () => cluster.stop());
}

/**
 * 2 plain Socket.IO servers, one process each, with `@socket.io/redis-adapter` (`baseline`) or
 * `@socket.io/redis-streams-adapter` (`baseline-streams`).
 */
async function startBaseline(
  name: 'baseline' | 'baseline-streams',
  options: SystemOptions,
): Promise<RunningSystem> {
  const servers: BenchProcess[] = [];
  try {
    for (let i = 0; i < SERVERS; i++) {
      servers.push(
        await forkReady({
          label: `${name === 'baseline' ? 'base' : 'streams'}-${i}`,
          module: BASELINE_SERVER,
          env: {
            REDIS_URL: options.redisUrl,
            PORT: '0',
            ADAPTER: name === 'baseline' ? 'redis' : 'redis-streams',
          },
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(servers.map((child) => child.stop()));
    throw err;
  }
  return system(name, 'default', servers, servers, async () => {
    await Promise.allSettled(servers.map((child) => child.stop()));
  });
}

/** A server's nodes as it announced them: itself, or each worker of a supervisor. */
function nodesOf(server: BenchProcess): { url: string; label: string; pid: number }[] {
  const workers = server.ready.workers;
  const nodes: Record<string, unknown>[] = Array.isArray(workers)
    ? (workers as Record<string, unknown>[]).map((w) => ({
        ...w,
        label: `${server.label}.w${String(w.index)}`,
      }))
    : [{ ...server.ready, label: server.label, pid: server.pid }];
  return nodes.map((node) => {
    if (typeof node.url !== 'string') throw new Error(`${String(node.label)} announced no url`);
    return { url: node.url, label: String(node.label), pid: Number(node.pid) };
  });
}

function system(
  name: SystemName,
  parser: RunningSystem['parser'],
  servers: BenchProcess[],
  processes: BenchProcess[],
  stop: () => Promise<void>,
): RunningSystem {
  const nodes = servers.flatMap(nodesOf);
  const pids = new Map(processes.map((p) => [p.label, p.pid] as const));
  for (const node of nodes) pids.set(node.label, node.pid);
  return { name, parser, urls: nodes.map((node) => node.url), servers, processes, pids, stop };
}

export function startSystem(name: SystemName, options: SystemOptions): Promise<RunningSystem> {
  return name === 'baseline' || name === 'baseline-streams'
    ? startBaseline(name, options)
    : startIocluster(name, options);
}
