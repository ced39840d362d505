import { fileURLToPath } from 'node:url';
import { type BenchChild, forkReady } from './child.js';

export type SystemName = 'iocluster' | 'baseline';
export const SYSTEM_NAMES: readonly SystemName[] = ['iocluster', 'baseline'];

/** A system under test, running in child processes. */
export interface RunningSystem {
  readonly name: SystemName;
  /** URLs clients connect to, one per Socket.IO server. */
  readonly urls: string[];
  /** Every process of the system; `servers[i]` serves `urls[i]`. */
  readonly processes: BenchChild[];
  readonly servers: BenchChild[];
  /** Stops the servers first (clients leave cleanly), then the rest. */
  stop(): Promise<void>;
}

export interface SystemOptions {
  redisUrl: string;
  /** Key prefix of the iocluster run. */
  prefix: string;
  /** Profile the iocluster processes into this directory (`--cpu-prof`). */
  cpuProfDir?: string;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IO_NODE_MAIN = `${ROOT}packages/io-node/dist/main.js`;
const APP_NODE_MAIN = `${ROOT}packages/app-node/dist/main.js`;
const CHAT_HANDLERS = fileURLToPath(new URL('./chat-handlers.js', import.meta.url));
const BASELINE_SERVER = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
const SERVERS = 2;

/** 2 io-nodes and 1 app-node, through their real entry points, ordering on. */
async function startIocluster(options: SystemOptions): Promise<RunningSystem> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const execArgv = (label: string) =>
    options.cpuProfDir
      ? [
          '--cpu-prof',
          '--cpu-prof-dir',
          options.cpuProfDir,
          '--cpu-prof-name',
          `${label}-${stamp}.cpuprofile`,
        ]
      : [];
  const env = {
    REDIS_URL: options.redisUrl,
    IOCLUSTER_PREFIX: options.prefix,
    LOG_LEVEL: 'warn',
    LOG_PRETTY: 'off',
    ORDERING: 'on',
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
    for (let i = 0; i < SERVERS; i++) {
      started.push(
        await forkReady({
          label: `io-${i}`,
          module: IO_NODE_MAIN,
          env: { ...env, IO_NODE_ID: `bench-io-${i}`, IO_NODE_HOST: '127.0.0.1', IO_NODE_PORT: '0' },
          execArgv: execArgv(`io-${i}`),
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(started.map((child) => child.stop()));
    throw err;
  }
  const servers = started.filter((child) => child.label.startsWith('io-'));
  return system('iocluster', servers, started);
}

/** 2 plain Socket.IO servers with the Redis adapter, one process each. */
async function startBaseline(options: SystemOptions): Promise<RunningSystem> {
  const servers: BenchChild[] = [];
  try {
    for (let i = 0; i < SERVERS; i++) {
      servers.push(
        await forkReady({
          label: `base-${i}`,
          module: BASELINE_SERVER,
          env: { REDIS_URL: options.redisUrl, PORT: '0' },
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(servers.map((child) => child.stop()));
    throw err;
  }
  return system('baseline', servers, servers);
}

function system(name: SystemName, servers: BenchChild[], processes: BenchChild[]): RunningSystem {
  const urls = servers.map((server) => {
    const url = server.ready.url;
    if (typeof url !== 'string') throw new Error(`${server.label} announced no url`);
    return url;
  });
  return {
    name,
    urls,
    servers,
    processes,
    async stop() {
      await Promise.allSettled(servers.map((child) => child.stop()));
      await Promise.allSettled(processes.map((child) => child.stop()));
    },
  };
}

export function startSystem(name: SystemName, options: SystemOptions): Promise<RunningSystem> {
  return name === 'iocluster' ? startIocluster(options) : startBaseline(options);
}
