import { fileURLToPath } from 'node:url';
import { type BenchChild, forkReady } from './child.js';

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
  readonly processes: BenchChild[];
  readonly servers: BenchChild[];
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
const IO_NODE_MAIN = `${ROOT}packages/io-node/dist/main.js`;
const APP_NODE_MAIN = `${ROOT}packages/app-node/dist/main.js`;
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
  const env = {
    REDIS_URL: options.redisUrl,
    IOCLUSTER_PREFIX: options.prefix,
    LOG_LEVEL: 'warn',
    LOG_PRETTY: 'off',
    ORDERING: 'on',
    SOCKETIO_PARSER: parser,
    ...options.env,
  };
  const started: BenchChild[] = [];
  try {
    const app = await forkReady({
      label: 'app-0',
      module: APP_NODE_MAIN,
      args: [CHAT_HANDLERS],
      env: { ...env, APP_NODE_ID: 'bench-app-0' },
      execArgv: execArgv('app-0'),
    });
    started.push(app);
    for (let i = 0; i < (options.ioNodes ?? SERVERS) / workers; i++) {
      started.push(
        await forkReady({
          label: `io-${i}`,
          module: IO_NODE_MAIN,
          env: {
            ...env,
            IO_NODE_ID: `bench-io-${i}`,
            IO_NODE_HOST: '127.0.0.1',
            IO_NODE_PORT: '0',
            IO_NODE_WORKERS: String(workers),
          },
          execArgv: execArgv(`io-${i}`, workers === 1),
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(started.map((child) => child.stop()));
    throw err;
  }
  const servers = started.filter((child) => child.label.startsWith('io-'));
  return system(name, parser, servers, started);
}

/**
 * 2 plain Socket.IO servers, one process each, with `@socket.io/redis-adapter` (`baseline`) or
 * `@socket.io/redis-streams-adapter` (`baseline-streams`).
 */
async function startBaseline(
  name: 'baseline' | 'baseline-streams',
  options: SystemOptions,
): Promise<RunningSystem> {
  const servers: BenchChild[] = [];
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
  return system(name, 'default', servers, servers);
}

/** A server's nodes as it announced them: itself, or each worker of a supervisor. */
function nodesOf(server: BenchChild): { url: string; label: string; pid: number }[] {
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
  servers: BenchChild[],
  processes: BenchChild[],
): RunningSystem {
  const nodes = servers.flatMap(nodesOf);
  const pids = new Map(processes.map((p) => [p.label, p.pid] as const));
  for (const node of nodes) pids.set(node.label, node.pid);
  return {
    name,
    parser,
    urls: nodes.map((node) => node.url),
    servers,
    processes,
    pids,
    async stop() {
      await Promise.allSettled(servers.map((child) => child.stop()));
      await Promise.allSettled(processes.map((child) => child.stop()));
    },
  };
}

export function startSystem(name: SystemName, options: SystemOptions): Promise<RunningSystem> {
  return name === 'baseline' || name === 'baseline-streams'
    ? startBaseline(name, options)
    : startIocluster(name, options);
}
