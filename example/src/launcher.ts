import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  DevkitError,
  type ExitStatus,
  launchCluster,
  type NodeKind,
  type NodeProcess,
  type RedisServer,
  redisReachable,
  SOURCE_EXEC_ARGV,
  startRedisServer,
  workspaceEntryPoints,
} from '@iocluster/devkit';
import { createKeys } from '@iocluster/shared';
import { Redis } from 'ioredis';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One process of the stack: a node, the frontend, or the stack's own redis-server. */
export interface StackProcess {
  /** `frontend`, `io-node-1`, `app-node-2`, `redis`... */
  readonly label: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** What it announced when ready (`nodeId`, `url`, `port`). */
  readonly ready: Readonly<Record<string, unknown>>;
  /** Resolves when it exited. */
  readonly exited: Promise<ExitStatus>;
  /** Sends a signal (SIGKILL for a crash, SIGTERM for a drain) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Redis to use; when nothing answers there and `startRedis` allows, a local redis-server is started. @defaultValue 'redis://127.0.0.1:6379' */
  redisUrl?: string;
  /** Start a redis-server on a free port when `redisUrl` does not answer. @defaultValue true */
  startRedis?: boolean;
  /**
   * IOCLUSTER_PREFIX of every process. Every run has a CLUSTER_ID of its own (unless `env` gives one), so
   * a second stack on a Redis and prefix in use is refused rather than merged with the first.
   * @defaultValue 'iocluster' on a Redis started here; on one that was already running (which another
   * example may be using), `example-<random>`, whose keys are deleted once the stack stopped
   */
  prefix?: string;
  /** @defaultValue 2 */
  ioNodes?: number;
  /** @defaultValue 2 */
  appNodes?: number;
  /** `IO_NODE_WORKERS` of every io-node process: io-nodes it runs, each on a port of its own. @defaultValue 1 */
  ioWorkers?: number;
  /** `APP_NODE_WORKERS` of every app-node process. @defaultValue 1 */
  appWorkers?: number;
  /** Frontend port; 0 picks a free one. @defaultValue 3000 */
  frontendPort?: number;
  /** Interface everything listens on. @defaultValue '127.0.0.1' */
  host?: string;
  /** FRONTEND_PROXY. @defaultValue false */
  proxy?: boolean;
  /** ADMIN_TOKEN of the frontend (enables `/admin`). @defaultValue none: no admin view */
  adminToken?: string;
  /**
   * Run the TypeScript sources through tsx (`src/main.ts`, `--conditions=source`) instead of the built
   * `dist/main.js`: for tests that must not depend on a build. @defaultValue false
   */
  source?: boolean;
  /** Extra environment for every process. @defaultValue {} */
  env?: Record<string, string>;
  /** Receives every output line of every process, prefixed. @defaultValue lines are dropped */
  output?: (name: string, line: string) => void;
  /** How long each process may take to get ready. @defaultValue 30000 */
  readyTimeoutMs?: number;
  /**
   * Aborting it while the stack starts (Ctrl-C) stops what was started once the step under way is done,
   * and rejects. @defaultValue never aborted
   */
  signal?: AbortSignal;
}

/** The running example: a frontend, io-nodes and app-nodes, and maybe a redis-server. */
export interface Stack {
  readonly frontendUrl: string;
  readonly redisUrl: string;
  readonly prefix: string;
  /** Set when the stack started its own redis-server. */
  readonly redis: StackProcess | undefined;
  readonly frontend: NodeProcess;
  readonly ioNodes: readonly NodeProcess[];
  readonly appNodes: readonly NodeProcess[];
  /** Every process started, still running or not. */
  readonly processes: readonly StackProcess[];
  /**
   * Stops everything it started, by PID, in drain order (frontend, io-nodes, app-nodes, redis): SIGTERM,
   * then SIGKILL for a process still there after `graceMs`. Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

/** The processes of a stack, by package. */
export type StackPackage = NodeKind;

/**
 * The entry point of a package's process, from the repository root: `dist/main.js` (what
 * docker-compose.yml and `npm run example` run), or with `source` the `src/main.ts` it is built from.
 */
export function entryPoint(pkg: StackPackage, source = false): string {
  // The example's frontend is packages/frontend plus the demo login (example/src/frontend.ts).
  if (pkg === 'frontend') return source ? 'example/src/frontend.ts' : 'example/dist/frontend.js';
  return workspaceEntryPoints('', source)[pkg];
}

/** The chat handlers module app-nodes load. */
export function chatModule(source = false): string {
  return source ? 'example/src/chat-app.ts' : 'example/dist/chat-app.js';
}

/** A redis-server of the stack's own on a free port, quiet (warnings only) and in its own process group. */
async function startOwnRedis(
  redisUrl: string,
  output: StackOptions['output'],
): Promise<{ url: string; process: StackProcess }> {
  let server: RedisServer;
  try {
    server = await startRedisServer({
      args: ['--loglevel', 'warning'],
      detached: true,
      output: (line) => output?.('redis', line),
    });
  } catch (err) {
    if (err instanceof DevkitError && err.code === 'REDIS_SERVER_NOT_FOUND') {
      throw new Error(
        `no Redis answers at ${redisUrl} and ${err.message}, or set REDIS_URL to a running one`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  const redis: StackProcess = {
    label: 'redis',
    pid: server.pid,
    child: server.child,
    ready: { port: server.port },
    exited: server.exited,
    kill: (signal = 'SIGTERM') => server.stop(signal),
  };
  return { url: server.url, process: redis };
}

/** Deletes every key of `prefix` (SCAN, then DEL in batches). */
async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
  try {
    for (const pattern of createKeys(prefix).patterns) {
      for await (const batch of redis.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>) {
        if (batch.length > 0) await redis.del(...batch);
      }
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts the chat example as separate processes through the packages' entry points (the same ones
 * docker-compose.yml runs): a frontend serving example/public, io-nodes on free ports and app-nodes
 * running example/src/chat-app. Resolves once every process said it is ready.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const opts = {
    redisUrl: 'redis://127.0.0.1:6379',
    startRedis: true,
    ioNodes: 2,
    appNodes: 2,
    ioWorkers: 1,
    appWorkers: 1,
    frontendPort: 3000,
    host: '127.0.0.1',
    proxy: false,
    source: false,
    env: {},
    readyTimeoutMs: 30_000,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<Omit<StackOptions, 'output' | 'adminToken' | 'signal' | 'prefix'>> & StackOptions;
  if (opts.signal?.aborted) throw new Error('start aborted');
  let redisUrl = opts.redisUrl;
  let redis: StackProcess | undefined;
  if (!(await redisReachable(redisUrl))) {
    if (!opts.startRedis) throw new Error(`no Redis answers at ${redisUrl}`);
    const started = await startOwnRedis(redisUrl, opts.output);
    redisUrl = started.url;
    redis = started.process;
  }
  const prefix = opts.prefix ?? (redis ? 'iocluster' : `example-${randomBytes(4).toString('hex')}`);
  /** Deletes the keys of a prefix made up for this run, once its processes are gone. */
  const forgetPrefix = opts.prefix === undefined && !redis ? () => deletePrefix(redisUrl, prefix) : undefined;
  const clusterId = opts.env.CLUSTER_ID ?? `example-${randomBytes(6).toString('hex')}`;
  // One secret per run, unless given: io-nodes verify with it what the frontend's demo login signs.
  const auth = {
    AUTH_JWT_SECRET: opts.env.AUTH_JWT_SECRET ?? randomBytes(32).toString('base64url'),
    AUTH_JWT_ISSUER: opts.env.AUTH_JWT_ISSUER ?? 'iocluster-example',
    AUTH_JWT_AUDIENCE: opts.env.AUTH_JWT_AUDIENCE ?? 'chat',
  };
  const main = (pkg: StackPackage) => `${ROOT}${entryPoint(pkg, opts.source)}`;
  try {
    const nodes = await launchCluster({
      entryPoints: { 'io-node': main('io-node'), 'app-node': main('app-node'), frontend: main('frontend') },
      appModule: `${ROOT}${chatModule(opts.source)}`,
      ioNodes: opts.ioNodes,
      appNodes: opts.appNodes,
      frontend: true,
      env: { ...opts.env, REDIS_URL: redisUrl, IOCLUSTER_PREFIX: prefix, CLUSTER_ID: clusterId },
      tierEnv: {
        'io-node': { ...auth, IO_NODE_WORKERS: String(opts.ioWorkers) },
        // Each app-node's /healthz, /readyz and /metrics, on a free port (listed in the admin view).
        'app-node': { APP_NODE_WORKERS: String(opts.appWorkers), METRICS_HOST: opts.host, METRICS_PORT: '0' },
        frontend: {
          ...auth,
          FRONTEND_PORT: String(opts.frontendPort),
          FRONTEND_STATIC_DIR: `${ROOT}example/public`,
          FRONTEND_PROXY: opts.proxy ? 'on' : 'off',
          ...(opts.adminToken ? { ADMIN_TOKEN: opts.adminToken } : {}),
        },
      },
      host: opts.host,
      cwd: ROOT,
      execArgv: opts.source ? SOURCE_EXEC_ARGV : [],
      ...(opts.output ? { output: opts.output } : {}),
      tailLines: 20,
      // Own process groups: a Ctrl-C in the terminal reaches only the launcher, which stops the others
      // in drain order, once each (a second signal would make them exit at once).
      detached: true,
      readyTimeoutMs: opts.readyTimeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const frontend = nodes.frontend;
    if (!frontend) {
      await nodes.stop(2_000);
      throw new Error('the frontend exited as soon as it was ready');
    }
    let stopping: Promise<void> | undefined;
    return {
      frontendUrl: `http://${opts.host}:${String(frontend.ready.port)}`,
      redisUrl,
      prefix,
      redis,
      frontend,
      ioNodes: nodes.ioNodes,
      appNodes: nodes.appNodes,
      processes: [...nodes.processes, ...(redis ? [redis] : [])],
      stop(graceMs = 10_000) {
        stopping ??= (async () => {
          await nodes.stop(graceMs);
          await forgetPrefix?.();
          await redis?.kill('SIGTERM');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await redis?.kill('SIGTERM');
    throw err;
  }
}
