import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type AppNode, type AppNodeOptions, createAppNode } from '@iocluster/app-node';
import {
  type ForkedProcess,
  forkProcess,
  launchCluster,
  type NodeProcess,
  type ReadyMessage,
  SOURCE_EXEC_ARGV,
  workspaceEntryPoints,
} from '@iocluster/devkit';
import { createFrontend, type Frontend, type FrontendOptions } from '@iocluster/frontend';
import { createIoNode, type IoNode, type IoNodeOptions } from '@iocluster/io-node';
import {
  closeRedis,
  createKeys,
  createRedis,
  type RedisConnection,
  type RedisTarget,
  readSlots,
} from '@iocluster/shared';
import {
  type Socket as ClientSocket,
  io as connectClient,
  type ManagerOptions,
  type SocketOptions,
} from 'socket.io-client';
import { inject } from 'vitest';
import { DEFAULT_TRANSPORT, type IngressTransport } from './ingress.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** An app-node running in its own process through the real entry point (packages/app-node/src/main.ts). */
export interface ChildAppNode {
  readonly nodeId: string;
  /** What it announced when ready (with `APP_NODE_WORKERS` > 1: `workers`, one entry per worker). */
  readonly ready: ReadyMessage;
  readonly process: ChildProcess;
  /** SIGKILL: the process gets no chance to finish or release anything. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>;
}

/** An io-node running in its own process through the real entry point (packages/io-node/src/main.ts). */
export interface ChildIoNode {
  readonly nodeId: string;
  /** The URL it registered (its public URL). */
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** SIGKILL: no deregistration, no drain; the registry entry must expire. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>;
}

/** One io-node worker of a {@link ChildIoNodeSupervisor}, as it announced itself. */
export interface SupervisedIoNode {
  readonly index: number;
  readonly pid: number;
  readonly nodeId: string;
  readonly url: string;
  readonly port: number;
}

/** `IO_NODE_WORKERS` io-nodes run by one io-node process (its supervisor), through the real entry point. */
export interface ChildIoNodeSupervisor {
  /** `IO_NODE_ID` of the supervisor: every worker's id starts with it. */
  readonly baseId: string;
  /** The workers as they were when the supervisor announced ready. */
  readonly workers: readonly SupervisedIoNode[];
  readonly process: ChildProcess;
  /** Resolves with how the supervisor exited. */
  readonly exited: ForkedProcess['exited'];
  /** SIGTERM to the supervisor, waiting for its exit. */
  stop(): Promise<void>;
}

export interface SetupOptions {
  ioNodes?: number;
  /** In-process app-nodes, each given the handlers by `register`. */
  appNodes?: number;
  /** App-nodes as child processes running `appModule`. */
  childAppNodes?: number;
  /** Registers handlers on in-process app-nodes. */
  register?: (app: AppNode) => void;
  /** Handlers module for child app-nodes (path from the repository root). */
  appModule?: string;
  ioNodeOptions?: Partial<IoNodeOptions>;
  appNodeOptions?: Partial<AppNodeOptions>;
  /** Extra environment of child app-nodes. */
  childEnv?: Record<string, string>;
  redisUrl?: string;
  /** A Sentinel or Cluster target (devkit's `startRedisSentinel().target`...) instead of `redisUrl`. */
  redis?: RedisTarget;
  /**
   * The ingress transport of every node, process and frontend of the cluster (`INGRESS_TRANSPORT`);
   * unset, the settings' default. Node options given beside it win.
   */
  transport?: IngressTransport;
}

export interface Cluster {
  readonly prefix: string;
  /** The ingress transport the cluster runs on. */
  readonly transport: IngressTransport;
  /** The standalone Redis's URL (that of the test run unless `redisUrl` was given). */
  readonly redisUrl: string;
  /** Where every node connects: `options.redis`, or `redisUrl`. */
  readonly target: RedisTarget;
  readonly ioNodes: IoNode[];
  readonly appNodes: AppNode[];
  readonly children: ChildAppNode[];
  readonly childIoNodes: ChildIoNode[];
  readonly frontends: Frontend[];
  /** A Redis connection for assertions, closed by cleanup. */
  readonly redis: RedisConnection;
  /** Connects a socket.io-client to io-node `index` and waits for `connect`. */
  connect(index: number, options?: Partial<ManagerOptions & SocketOptions>): Promise<ClientSocket>;
  /** Connects a socket.io-client to any io-node URL (a child io-node's, say); closed by cleanup. */
  connectTo(url: string, options?: Partial<ManagerOptions & SocketOptions>): Promise<ClientSocket>;
  startIoNode(options?: Partial<IoNodeOptions>): Promise<IoNode>;
  startAppNode(options?: Partial<AppNodeOptions>): Promise<AppNode>;
  startChildAppNode(env?: Record<string, string>): Promise<ChildAppNode>;
  /**
   * An io-node process on 127.0.0.1 (port 0 unless `env.IO_NODE_PORT`); `env` adds to its environment.
   * `module` (path from the repository root) replaces the io-node's main.ts, e.g. a fixture with hooks.
   */
  startChildIoNode(env?: Record<string, string>, module?: string): Promise<ChildIoNode>;
  /**
   * An io-node process on 127.0.0.1 running `workers` io-nodes (`IO_NODE_WORKERS`, port 0); every output
   * line of it and its workers goes to `output`. Cleanup stops it with SIGTERM, so its workers drain.
   */
  startIoNodeSupervisor(
    workers: number,
    env?: Record<string, string>,
    output?: (line: string) => void,
  ): Promise<ChildIoNodeSupervisor>;
  /** A frontend on 127.0.0.1, port 0, reading this cluster's registry. */
  startFrontend(options?: Partial<FrontendOptions>): Promise<Frontend>;
  /** A frontend process on 127.0.0.1 (port 0); `env` adds to its environment. */
  startChildFrontend(env?: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }>;
  /**
   * Runs `module` (path from the repository root; TypeScript sources) as a process of its own with this
   * cluster's Redis and prefix in its environment (plus `env`) and `args`; resolves with its ready message.
   */
  runScript(module: string, args: string[], env?: Record<string, string>): Promise<ReadyMessage>;
  /** Closes clients, nodes and processes, then deletes every key under the prefix. */
  cleanup(): Promise<void>;
}

/** Longest one cleanup step may take before the cleanup goes on without it (and says so). */
const CLEANUP_STEP_MS = 20_000;

/**
 * Waits for a cleanup step's promises, at most CLEANUP_STEP_MS: a step stuck (on a Redis that a failure
 * test left unreachable, say) is named in the output instead of hanging the hook.
 */
async function bounded(step: string, work: Promise<unknown>[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const overran = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), CLEANUP_STEP_MS);
  });
  const done = Promise.allSettled(work).then(() => false);
  if (await Promise.race([done, overran])) {
    console.warn(`cleanup: "${step}" still running after ${CLEANUP_STEP_MS} ms; going on without it`);
  }
  clearTimeout(timer);
}

/** Deletes every key under `prefix` (SCAN by the patterns of createKeys, then DEL; on every Cluster primary). */
export async function deleteKeys(redis: RedisConnection, prefix: string): Promise<void> {
  const isCluster = 'refreshSlotsCache' in redis;
  if (isCluster) {
    // After a failover the connection's view may still list a dead primary until it next hears MOVED.
    await readSlots(redis);
  }
  const servers = isCluster ? redis.nodes('master') : [redis];
  for (const server of servers) {
    for (const pattern of createKeys(prefix).patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        // One DEL per key (in a Cluster, the keys of one DEL must share a slot), in one pipeline.
        if (keys.length > 0)
          await keys.reduce((pipeline, key) => pipeline.del(key), server.pipeline()).exec();
        cursor = next;
      } while (cursor !== '0');
    }
  }
}

/** The environment that points a child process at `target` (packages/shared/src/config.ts). */
function redisEnv(target: RedisTarget): Record<string, string> {
  const list = (nodes: readonly { host: string; port: number }[]) =>
    nodes.map((node) => `${node.host}:${node.port}`).join(',');
  if (target.kind === 'standalone') return { REDIS_URL: target.url };
  if (target.kind === 'sentinel') {
    return { REDIS_SENTINELS: list(target.sentinels), REDIS_SENTINEL_NAME: target.name };
  }
  return { REDIS_CLUSTER_NODES: list(target.nodes) };
}

/** SIGKILL (`kill`) and SIGTERM (`stop`) of a child process, each waiting for its exit. */
function controls(child: NodeProcess): Pick<ChildAppNode, 'process' | 'kill' | 'stop'> {
  return { process: child.child, kill: () => child.kill('SIGKILL'), stop: () => child.kill('SIGTERM') };
}

export async function setup(options: SetupOptions = {}): Promise<Cluster> {
  const redisUrl = options.redisUrl ?? inject('redisUrl');
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const clients: ClientSocket[] = [];
  const ioNodes: IoNode[] = [];
  const appNodes: AppNode[] = [];
  const children: ChildAppNode[] = [];
  const childIoNodes: ChildIoNode[] = [];
  const supervisors: ChildIoNodeSupervisor[] = [];
  const frontends: Frontend[] = [];
  const scripts: ForkedProcess[] = [];
  const target: RedisTarget = options.redis ?? { kind: 'standalone', url: redisUrl };
  const redis = createRedis(target, 'command');
  const transport: IngressTransport = options.transport ?? DEFAULT_TRANSPORT;
  const ingressTransport = { ingressTransport: transport };

  // The packages' processes through their real entry points (TypeScript sources via tsx), on this cluster.
  const processes = await launchCluster({
    entryPoints: workspaceEntryPoints(root, true),
    execArgv: SOURCE_EXEC_ARGV,
    cwd: root,
    env: {
      ...redisEnv(target),
      IOCLUSTER_PREFIX: prefix,
      INGRESS_TRANSPORT: transport,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    },
    output: 'inherit',
    // Under the test timeout (60 s), so a stuck start fails here, with the child's name.
    readyTimeoutMs: 50_000,
  });

  const cluster: Cluster = {
    prefix,
    transport,
    redisUrl,
    target,
    ioNodes,
    appNodes,
    children,
    childIoNodes,
    frontends,
    redis,
    async connect(index, clientOptions = {}) {
      const node = ioNodes[index];
      if (!node) throw new Error(`no io-node ${index}`);
      return cluster.connectTo(node.url, clientOptions);
    },
    async connectTo(url, clientOptions = {}) {
      const socket = connectClient(url, {
        transports: ['websocket'],
        reconnection: false,
        ...clientOptions,
      });
      clients.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      return socket;
    },
    async startIoNode(extra = {}) {
      const node = createIoNode({
        redis: target,
        prefix,
        port: 0,
        host: '127.0.0.1',
        ...ingressTransport,
        ...options.ioNodeOptions,
        ...extra,
      });
      await node.start();
      ioNodes.push(node);
      return node;
    },
    async startAppNode(extra = {}) {
      const app = createAppNode({
        redis: target,
        prefix,
        ...ingressTransport,
        ...options.appNodeOptions,
        ...extra,
      });
      options.register?.(app);
      await app.start();
      appNodes.push(app);
      return app;
    },
    async startChildAppNode(env = {}) {
      if (!options.appModule) throw new Error('setup(): childAppNodes need appModule');
      const nodeId = `child-${randomBytes(3).toString('hex')}`;
      const child = await processes.start('app-node', {
        nodeId,
        args: [`${root}${options.appModule}`],
        env: { ...options.childEnv, ...env },
      });
      const handle: ChildAppNode = { nodeId, ready: child.ready, ...controls(child) };
      children.push(handle);
      return handle;
    },
    async startChildIoNode(env = {}, module = undefined) {
      const nodeId = `child-io-${randomBytes(3).toString('hex')}`;
      const child = await processes.start('io-node', {
        nodeId,
        env,
        ...(module === undefined ? {} : { module: `${root}${module}` }),
      });
      const handle: ChildIoNode = {
        nodeId,
        url: String(child.url),
        port: Number(child.ready.port),
        ...controls(child),
      };
      childIoNodes.push(handle);
      return handle;
    },
    async startIoNodeSupervisor(workers, env = {}, output) {
      const baseId = `child-io-${randomBytes(3).toString('hex')}`;
      const child = await processes.start('io-node', {
        nodeId: baseId,
        env: { IO_NODE_WORKERS: String(workers), ...env },
        ...(output ? { output: (_: string, line: string) => output(line) } : {}),
      });
      const announced = child.ready.workers;
      if (!Array.isArray(announced)) throw new Error('the io-node supervisor announced no workers');
      const handle: ChildIoNodeSupervisor = {
        baseId,
        workers: (announced as Record<string, unknown>[]).map((w) => ({
          index: Number(w.index),
          pid: Number(w.pid),
          nodeId: String(w.nodeId),
          url: String(w.url),
          port: Number(w.port),
        })),
        process: child.child,
        exited: child.exited,
        // Its workers drain; one stuck past the grace is killed with the supervisor.
        stop: () => child.stop(),
      };
      supervisors.push(handle);
      return handle;
    },
    async startFrontend(extra = {}) {
      const frontend = createFrontend({
        redis: target,
        prefix,
        host: '127.0.0.1',
        port: 0,
        ...ingressTransport,
        ...extra,
      });
      await frontend.start();
      frontends.push(frontend);
      return frontend;
    },
    async startChildFrontend(env = {}) {
      const child = await processes.start('frontend', { env });
      return { url: String(child.ready.url), stop: () => child.stop() };
    },
    async runScript(module, args, env = {}) {
      const child = await forkProcess({
        label: module,
        module: `${root}${module}`,
        args,
        cwd: root,
        execArgv: [...SOURCE_EXEC_ARGV],
        env: { ...redisEnv(target), IOCLUSTER_PREFIX: prefix, LOG_LEVEL: 'warn', ...env },
        readyTimeoutMs: 30_000,
      });
      scripts.push(child);
      await child.exited;
      return child.ready;
    },
    async cleanup() {
      for (const socket of clients) socket.disconnect();
      const steps: [string, () => Promise<unknown>[]][] = [
        ['close frontends', () => frontends.map((frontend) => frontend.close())],
        ['stop scripts', () => scripts.map((script) => script.kill('SIGKILL'))],
        ['SIGKILL child io-nodes', () => childIoNodes.map((child) => child.kill())],
        ['stop io-node supervisors', () => supervisors.map((supervisor) => supervisor.stop())],
        // io-nodes first: their clients' disconnect events still find app-nodes to answer them.
        ['close io-nodes', () => ioNodes.map((node) => node.close())],
        ['SIGKILL child app-nodes', () => children.map((child) => child.kill())],
        ['close app-nodes', () => appNodes.map((app) => app.close())],
        // Anything of theirs still there, and a child that gets ready only now (its test timed out while
        // it started): stopped as soon as it is, rather than left running after the test run.
        ['stop child processes', () => [processes.stop(5_000)]],
        ['delete keys', () => [deleteKeys(redis, prefix)]],
      ];
      for (const [step, work] of steps) await bounded(step, work());
      await closeRedis(redis);
    },
  };

  try {
    for (let i = 0; i < (options.ioNodes ?? 0); i++) await cluster.startIoNode();
    for (let i = 0; i < (options.appNodes ?? 0); i++) await cluster.startAppNode();
    await Promise.all(Array.from({ length: options.childAppNodes ?? 0 }, () => cluster.startChildAppNode()));
  } catch (err) {
    await cluster.cleanup();
    throw err;
  }
  return cluster;
}

/** Resolves with the arguments of the next `event` on `socket`. */
export function nextEvent<T extends unknown[] = unknown[]>(socket: ClientSocket, event: string): Promise<T> {
  return new Promise((resolve) => socket.once(event, (...args: unknown[]) => resolve(args as T)));
}

/** Collects every `event` on `socket`; `until(n)` resolves once n arrived. */
export function collect<T = unknown>(socket: ClientSocket, event: string) {
  const items: T[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  socket.on(event, (item: T) => {
    items.push(item);
    for (const waiter of waiters.filter((w) => items.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return {
    items,
    until(count: number): Promise<T[]> {
      if (items.length >= count) return Promise.resolve(items);
      return new Promise((resolve) => waiters.push({ count, resolve: () => resolve(items) }));
    },
  };
}
