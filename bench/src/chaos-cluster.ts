import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type LaunchedCluster,
  launchCluster,
  type NodeProcess,
  type RedisClusterSetup,
  type RedisSentinelSetup,
  type RedisServer,
  type RespValue,
  redisCommand,
  startRedisCluster,
  startRedisSentinel,
  startRedisServer,
  workspaceEntryPoints,
} from '@iocluster/devkit';
import { createKeys, INGRESS_GROUP } from '@iocluster/shared';
import { countWarnings, type Warnings } from './child.js';

/**
 * Where the chaos cluster's Redis runs: one server, a primary + replica under three sentinels, or a
 * Redis Cluster of three primaries with a replica each.
 */
export type ChaosTopology = 'standalone' | 'sentinel' | 'cluster';

export interface ChaosClusterOptions {
  topology: ChaosTopology;
  ioNodes: number;
  appNodes: number;
  /** Extra environment of every node. */
  env?: Record<string, string>;
  /** Every line any node prints is appended here, after the time (ms) and the node's label. */
  logFile?: string;
}

/**
 * Redis (AOF on), a frontend, io-nodes and app-nodes through their real entry points (the built
 * `dist/main.js` files, as in production), with the controls the chaos cases use. Rooms named `room-*`
 * keep history, so a client that moves to another io-node gets back the messages it missed.
 */
export interface ChaosCluster {
  readonly topology: ChaosTopology;
  /** The key prefix of every node (`IOCLUSTER_PREFIX`). */
  readonly prefix: string;
  /** The standalone server (undefined otherwise). */
  readonly redis: RedisServer | undefined;
  /** The Sentinel setup (undefined otherwise). */
  readonly sentinel: RedisSentinelSetup | undefined;
  /** The Redis Cluster (undefined otherwise). */
  readonly redisCluster: RedisClusterSetup | undefined;
  readonly frontendUrl: string;
  /** The live nodes, in start order (replacements at the end). */
  readonly ioNodes: readonly NodeProcess[];
  readonly appNodes: readonly NodeProcess[];
  /**
   * The current Redis primary: the server, Sentinel's primary, or the Cluster primary serving `key`
   * (by default the prefix's hash tag, where the ingress stream of one partition lives).
   */
  primary(key?: string): Promise<RedisServer>;
  /** With a Redis Cluster: the index (slot order) of the primary serving `key`. */
  primaryIndexOf(key: string): Promise<number>;
  /** The ingress transport the nodes run (`INGRESS_TRANSPORT`, else the default). */
  readonly transport: 'streams' | 'bullmq';
  /**
   * Streams: ingress entries the app-node `nodeId` holds (handed to it, not acknowledged), from the
   * group's pending list; undefined with BullMQ (its locks name no worker).
   */
  pendingOf(nodeId: string): Promise<number | undefined>;
  /** Starts another node of that kind (a new id) and waits until it is ready. */
  startNode(kind: ChaosNodeKind): Promise<NodeProcess>;
  /** SIGKILL (a crash) or SIGTERM (a drain) to a node; waits for its exit (it leaves the lists). */
  stopNode(node: NodeProcess, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Warnings and errors every node and the frontend logged so far (stopped ones included), by label. */
  warnings(): Record<string, { count: number; first: string[] }>;
  /** Every process and Redis stopped, temp dirs removed. Idempotent. */
  close(): Promise<void>;
}

/** The tiers the chaos cases stop and start. */
export type ChaosNodeKind = 'io-node' | 'app-node';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHAT_HANDLERS = fileURLToPath(new URL('./chat-handlers.js', import.meta.url));
/** A drain may take its 10 s of in-flight events plus Redis writes; past this the node is killed. */
const STOP_GRACE_MS = 20_000;

export async function startChaosCluster(options: ChaosClusterOptions): Promise<ChaosCluster> {
  const prefix = `chaos${randomBytes(3).toString('hex')}`;
  const transport = options.env?.INGRESS_TRANSPORT === 'bullmq' ? 'bullmq' : 'streams';
  const dir = options.topology === 'standalone' ? await mkdtemp(join(tmpdir(), 'iocluster-chaos-')) : '';
  let redis: RedisServer | undefined;
  let sentinel: RedisSentinelSetup | undefined;
  let redisCluster: RedisClusterSetup | undefined;
  let nodes: LaunchedCluster | undefined;
  const warnings = new Map<string, Warnings>();
  let closed: Promise<void> | undefined;

  const close = () => {
    closed ??= (async () => {
      await nodes?.stop(5_000);
      await redis?.close();
      await sentinel?.stop();
      await redisCluster?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    })();
    return closed;
  };

  try {
    let redisEnv: Record<string, string>;
    if (options.topology === 'standalone') {
      redis = await startRedisServer({ aof: true, dir });
      redisEnv = { REDIS_URL: redis.url };
    } else if (options.topology === 'sentinel') {
      sentinel = await startRedisSentinel({ aof: true });
      redisEnv = { ...sentinel.env };
    } else {
      redisCluster = await startRedisCluster({ aof: true });
      redisEnv = { ...redisCluster.env };
    }
    const cluster = await launchCluster({
      entryPoints: workspaceEntryPoints(ROOT),
      appModule: CHAT_HANDLERS,
      env: {
        ...redisEnv,
        IOCLUSTER_PREFIX: prefix,
        LOG_LEVEL: 'warn',
        LOG_PRETTY: 'off',
        HISTORY_ROOMS: 'room-*',
        ...options.env,
      },
      idPrefix: 'chaos-',
      appNodes: options.appNodes,
      ioNodes: options.ioNodes,
      frontend: true,
      output: (label, line) => {
        if (options.logFile) appendFileSync(options.logFile, `${Date.now()} ${label} ${line}\n`);
        const counted = warnings.get(label) ?? { count: 0, first: [] };
        warnings.set(label, counted);
        countWarnings(counted, line);
      },
      readyTimeoutMs: 20_000,
      stopGraceMs: STOP_GRACE_MS,
    });
    nodes = cluster;
    async function primary(key = `{${prefix}}`): Promise<RedisServer> {
      if (redis) return redis;
      if (sentinel) return sentinel.primary();
      const { primaries } = await redisCluster!.topology();
      return primaries[await primaryIndexOf(key)]!.server;
    }
    async function primaryIndexOf(key: string): Promise<number> {
      if (!redisCluster) throw new Error('primaryIndexOf(): not a Redis Cluster');
      const { primaries } = await redisCluster.topology();
      const slot = Number(await redisCommand(primaries[0]!.server.url, ['CLUSTER', 'KEYSLOT', key]));
      return primaries.findIndex((p) => p.slots.some(([from, to]) => slot >= from && slot <= to));
    }
    const frontendUrl = cluster.frontend?.url;
    if (frontendUrl === undefined) throw new Error('the frontend announced no url');

    return {
      topology: options.topology,
      prefix,
      redis,
      sentinel,
      redisCluster,
      frontendUrl,
      get ioNodes() {
        return cluster.ioNodes;
      },
      get appNodes() {
        return cluster.appNodes;
      },
      primary,
      primaryIndexOf,
      transport,
      async pendingOf(nodeId) {
        if (transport !== 'streams') return undefined;
        const { stream } = createKeys(prefix).ingressPartitions(1)[0]!;
        const summary = await redisCommand((await primary(stream)).url, ['XPENDING', stream, INGRESS_GROUP]);
        const holders = (Array.isArray(summary) ? summary[3] : null) as
          | readonly (readonly RespValue[])[]
          | null;
        const mine = holders?.find(([consumer]) => consumer === nodeId);
        return mine ? Number(mine[1]) : 0;
      },
      warnings: () =>
        Object.fromEntries(
          [...warnings]
            .filter(([, counted]) => counted.count > 0)
            .map(([label, counted]) => [label, { count: counted.count, first: [...counted.first] }]),
        ),
      startNode: (kind) => cluster.start(kind),
      async stopNode(node, signal) {
        if (signal === 'SIGKILL') await node.kill('SIGKILL');
        else await node.stop();
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
