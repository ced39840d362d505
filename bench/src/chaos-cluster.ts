import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type RedisSentinelSetup,
  type RedisServer,
  startRedisSentinel,
  startRedisServer,
} from '@iocluster/devkit';
import { type BenchChild, forkReady } from './child.js';

/** Where the chaos cluster's Redis runs: one server, or a primary + replica under three sentinels. */
export type ChaosTopology = 'standalone' | 'sentinel';

export interface ChaosClusterOptions {
  topology: ChaosTopology;
  ioNodes: number;
  appNodes: number;
  /** Extra environment of every node. */
  env?: Record<string, string>;
}

/** A node process of the cluster, with its role and the id it registered under. */
export interface ChaosNode {
  readonly kind: 'io-node' | 'app-node';
  readonly nodeId: string;
  readonly process: BenchChild;
}

/**
 * Redis (AOF on), a frontend, io-nodes and app-nodes through their real entry points (the built
 * `dist/main.js` files, as in production), with the controls the chaos cases use. Rooms named `room-*`
 * keep history, so a client that moves to another io-node gets back the messages it missed.
 */
export interface ChaosCluster {
  readonly topology: ChaosTopology;
  /** The standalone server (undefined with Sentinel). */
  readonly redis: RedisServer | undefined;
  /** The Sentinel setup (undefined when standalone). */
  readonly sentinel: RedisSentinelSetup | undefined;
  readonly frontendUrl: string;
  /** The live nodes, in start order (replacements at the end). */
  readonly ioNodes: ChaosNode[];
  readonly appNodes: ChaosNode[];
  /** The current Redis primary (the server, or Sentinel's primary). */
  primary(): Promise<RedisServer>;
  /** Starts another node of that kind (a new id) and waits until it is ready. */
  startNode(kind: ChaosNode['kind']): Promise<ChaosNode>;
  /** SIGKILL (a crash) or SIGTERM (a drain) to a node; waits for its exit and forgets it. */
  stopNode(node: ChaosNode, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Warnings and errors every node and the frontend logged so far (stopped ones included), by label. */
  warnings(): Record<string, { count: number; first: string[] }>;
  /** Every process and Redis stopped, temp dirs removed. Idempotent. */
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = {
  'io-node': `${ROOT}packages/io-node/dist/main.js`,
  'app-node': `${ROOT}packages/app-node/dist/main.js`,
  frontend: `${ROOT}packages/frontend/dist/main.js`,
} as const;
const CHAT_HANDLERS = fileURLToPath(new URL('./chat-handlers.js', import.meta.url));
/** A drain may take its 10 s of in-flight events plus Redis writes; past this the node is killed. */
const STOP_GRACE_MS = 20_000;

export async function startChaosCluster(options: ChaosClusterOptions): Promise<ChaosCluster> {
  const prefix = `chaos${randomBytes(3).toString('hex')}`;
  const dir = options.topology === 'standalone' ? await mkdtemp(join(tmpdir(), 'iocluster-chaos-')) : '';
  let redis: RedisServer | undefined;
  let sentinel: RedisSentinelSetup | undefined;
  const processes = new Set<BenchChild>();
  const everStarted: BenchChild[] = [];
  const ioNodes: ChaosNode[] = [];
  const appNodes: ChaosNode[] = [];
  let closed: Promise<void> | undefined;

  const close = () => {
    closed ??= (async () => {
      await Promise.allSettled([...processes].map((child) => child.stop(5_000)));
      await redis?.close();
      await sentinel?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    })();
    return closed;
  };

  try {
    if (options.topology === 'standalone') redis = await startRedisServer({ aof: true, dir });
    else sentinel = await startRedisSentinel({ aof: true });
    const redisEnv: Record<string, string> = sentinel ? { ...sentinel.env } : { REDIS_URL: redis!.url };
    const env = {
      ...redisEnv,
      IOCLUSTER_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      LOG_PRETTY: 'off',
      HISTORY_ROOMS: 'room-*',
      ...options.env,
    };
    let started = 0;
    const fork = async (kind: keyof typeof MAIN, extra: Record<string, string>, args: string[] = []) => {
      const child = await forkReady({
        label: `${kind}-${started++}`,
        module: MAIN[kind],
        args,
        env: { ...env, ...extra },
      });
      processes.add(child);
      everStarted.push(child);
      void child.exited.then(() => processes.delete(child));
      return child;
    };

    const frontend = await fork('frontend', { FRONTEND_HOST: '127.0.0.1', FRONTEND_PORT: '0' });
    const startNode = async (kind: ChaosNode['kind']): Promise<ChaosNode> => {
      const nodeId = `chaos-${kind === 'io-node' ? 'io' : 'app'}-${randomBytes(3).toString('hex')}`;
      const child =
        kind === 'io-node'
          ? await fork(kind, { IO_NODE_ID: nodeId, IO_NODE_HOST: '127.0.0.1', IO_NODE_PORT: '0' })
          : await fork(kind, { APP_NODE_ID: nodeId }, [CHAT_HANDLERS]);
      const node: ChaosNode = { kind, nodeId, process: child };
      (kind === 'io-node' ? ioNodes : appNodes).push(node);
      return node;
    };
    for (let i = 0; i < options.appNodes; i++) await startNode('app-node');
    for (let i = 0; i < options.ioNodes; i++) await startNode('io-node');

    return {
      topology: options.topology,
      redis,
      sentinel,
      frontendUrl: String(frontend.ready.url),
      ioNodes,
      appNodes,
      primary: async () => redis ?? sentinel!.primary(),
      warnings: () =>
        Object.fromEntries(
          everStarted
            .filter((child) => child.warnings.count > 0)
            .map((child) => [child.label, { count: child.warnings.count, first: [...child.warnings.first] }]),
        ),
      startNode,
      async stopNode(node, signal) {
        const list = node.kind === 'io-node' ? ioNodes : appNodes;
        list.splice(list.indexOf(node), 1);
        if (signal === 'SIGKILL') await node.process.kill('SIGKILL');
        else await node.process.stop(STOP_GRACE_MS);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
