import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type AppNode, type AppNodeOptions, createAppNode } from '@iocluster/app-node';
import { createFrontend, type Frontend, type FrontendOptions } from '@iocluster/frontend';
import { createIoNode, type IoNode, type IoNodeOptions } from '@iocluster/io-node';
import { createKeys, createRedis, type RedisConnection } from '@iocluster/shared';
import {
  type Socket as ClientSocket,
  io as connectClient,
  type ManagerOptions,
  type SocketOptions,
} from 'socket.io-client';
import { inject } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** An app-node running in its own process through the real entry point (packages/app-node/src/main.ts). */
export interface ChildAppNode {
  readonly nodeId: string;
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
}

export interface Cluster {
  readonly prefix: string;
  readonly redisUrl: string;
  readonly ioNodes: IoNode[];
  readonly appNodes: AppNode[];
  readonly children: ChildAppNode[];
  readonly childIoNodes: ChildIoNode[];
  readonly frontends: Frontend[];
  /** A Redis connection for assertions, closed by cleanup. */
  readonly redis: RedisConnection;
  /** Connects a socket.io-client to io-node `index` and waits for `connect`. */
  connect(index: number, options?: Partial<ManagerOptions & SocketOptions>): Promise<ClientSocket>;
  startIoNode(options?: Partial<IoNodeOptions>): Promise<IoNode>;
  startAppNode(options?: Partial<AppNodeOptions>): Promise<AppNode>;
  startChildAppNode(env?: Record<string, string>): Promise<ChildAppNode>;
  /** An io-node process on 127.0.0.1 (port 0 unless `env.IO_NODE_PORT`); `env` adds to its environment. */
  startChildIoNode(env?: Record<string, string>): Promise<ChildIoNode>;
  /** A frontend on 127.0.0.1, port 0, reading this cluster's registry. */
  startFrontend(options?: Partial<FrontendOptions>): Promise<Frontend>;
  /** Closes clients, nodes and processes, then deletes every key under the prefix. */
  cleanup(): Promise<void>;
}

export async function setup(options: SetupOptions = {}): Promise<Cluster> {
  const redisUrl = options.redisUrl ?? inject('redisUrl');
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const clients: ClientSocket[] = [];
  const ioNodes: IoNode[] = [];
  const appNodes: AppNode[] = [];
  const children: ChildAppNode[] = [];
  const childIoNodes: ChildIoNode[] = [];
  const frontends: Frontend[] = [];
  const redis = createRedis(redisUrl, 'command');

  const cluster: Cluster = {
    prefix,
    redisUrl,
    ioNodes,
    appNodes,
    children,
    childIoNodes,
    frontends,
    redis,
    async connect(index, clientOptions = {}) {
      const node = ioNodes[index];
      if (!node) throw new Error(`no io-node ${index}`);
      const socket = connectClient(node.url, {
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
        redis: redisUrl,
        prefix,
        port: 0,
        host: '127.0.0.1',
        ...options.ioNodeOptions,
        ...extra,
      });
      await node.start();
      ioNodes.push(node);
      return node;
    },
    async startAppNode(extra = {}) {
      const app = createAppNode({ redis: redisUrl, prefix, ...options.appNodeOptions, ...extra });
      options.register?.(app);
      await app.start();
      appNodes.push(app);
      return app;
    },
    async startChildAppNode(env = {}) {
      if (!options.appModule) throw new Error('setup(): childAppNodes need appModule');
      const nodeId = `child-${randomBytes(3).toString('hex')}`;
      const child = fork(`${root}packages/app-node/src/main.ts`, [`${root}${options.appModule}`], {
        cwd: root,
        execArgv: ['--import', 'tsx', '--conditions=source'],
        env: {
          ...process.env,
          REDIS_URL: redisUrl,
          IOCLUSTER_PREFIX: prefix,
          APP_NODE_ID: nodeId,
          LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
          ...options.childEnv,
          ...env,
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) =>
          reject(new Error(`child app-node exited with ${code} before it was ready`)),
        );
        child.on('message', (message: { type?: string }) => {
          if (message.type === 'ready') {
            child.removeAllListeners('exit');
            resolve();
          }
        });
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const handle: ChildAppNode = {
        nodeId,
        process: child,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
      children.push(handle);
      return handle;
    },
    async startChildIoNode(env = {}) {
      const nodeId = `child-io-${randomBytes(3).toString('hex')}`;
      const child = fork(`${root}packages/io-node/src/main.ts`, [], {
        cwd: root,
        execArgv: ['--import', 'tsx', '--conditions=source'],
        env: {
          ...process.env,
          REDIS_URL: redisUrl,
          IOCLUSTER_PREFIX: prefix,
          IO_NODE_ID: nodeId,
          IO_NODE_HOST: '127.0.0.1',
          IO_NODE_PORT: '0',
          LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
          ...env,
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const ready = await new Promise<{ url: string; port: number }>((resolve, reject) => {
        child.once('exit', (code) =>
          reject(new Error(`child io-node exited with ${code} before it was ready`)),
        );
        child.on('message', (message: { type?: string; url: string; port: number }) => {
          if (message.type === 'ready') {
            child.removeAllListeners('exit');
            resolve(message);
          }
        });
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const handle: ChildIoNode = {
        nodeId,
        url: ready.url,
        port: ready.port,
        process: child,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
      childIoNodes.push(handle);
      return handle;
    },
    async startFrontend(extra = {}) {
      const frontend = createFrontend({ redis: redisUrl, prefix, host: '127.0.0.1', port: 0, ...extra });
      await frontend.start();
      frontends.push(frontend);
      return frontend;
    },
    async cleanup() {
      for (const socket of clients) socket.disconnect();
      await Promise.allSettled(frontends.map((frontend) => frontend.close()));
      await Promise.allSettled(childIoNodes.map((child) => child.kill()));
      // io-nodes first: their clients' disconnect events still find app-nodes to answer them.
      await Promise.allSettled(ioNodes.map((node) => node.close()));
      await Promise.allSettled(children.map((child) => child.kill()));
      await Promise.allSettled(appNodes.map((app) => app.close()));
      for (const pattern of createKeys(prefix).patterns) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      }
      await redis.quit();
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
