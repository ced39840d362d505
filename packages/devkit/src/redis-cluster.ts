import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ClusterNodeView,
  clusterShape,
  parseClusterNodes,
  primariesBySlot,
} from './cluster-topology.js';
import { DevkitError } from './errors.js';
import { describeExit, exitOf, outputClosed } from './exit-status.js';
import { readLines } from './output-lines.js';
import { redisCommand } from './redis-probe.js';
import type { RedisProcess } from './redis-process.js';
import type { HostPort } from './redis-sentinel.js';
import { type RedisServer, startRedisServer } from './redis-server.js';
import { parseInfo } from './resp.js';
import { type Probe, waitUntil } from './wait-until.js';

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Primaries; the 16384 slots are split between them. @defaultValue 3 */
  primaries?: number;
  /** Replicas of each primary. @defaultValue 1 */
  replicasPerPrimary?: number;
  /** `cluster-node-timeout`: silence after which a node is deemed failing. @defaultValue 2000 */
  nodeTimeoutMs?: number;
  /** AOF on every node (see `RedisServerOptions.aof`). @defaultValue false */
  aof?: boolean;
  /** Receives every line of every node, with its label (`node-0`...). @defaultValue dropped */
  output?: (label: string, line: string) => void;
  /** How long the cluster may take to be healthy, and each failover to complete. @defaultValue 30000 */
  timeoutMs?: number;
}

/** A node of the cluster as seen now: its server handle, id, role and slots. */
export interface ClusterNode {
  readonly server: RedisServer;
  readonly id: string;
  readonly role: 'primary' | 'replica';
  /** For a replica, its primary's server. */
  readonly primary: RedisServer | undefined;
  readonly slots: readonly (readonly [number, number])[];
}

/** A Redis Cluster on 127.0.0.1, each node in its own dir under one private temp dir. */
export interface RedisClusterSetup {
  /** Every node, in start order (roles change with failovers: ask {@link RedisClusterSetup.topology}). */
  readonly nodes: readonly RedisServer[];
  /** What a user sets: `REDIS_CLUSTER_NODES` (`127.0.0.1:p1,127.0.0.1:p2,...`, every node). */
  readonly env: { readonly REDIS_CLUSTER_NODES: string };
  /** The same as a `RedisTarget` of packages/shared (`createRedis(target, role)`). */
  readonly target: { readonly kind: 'cluster'; readonly nodes: readonly HostPort[] };
  /** The topology as a live node sees it: primaries in slot order (index 0 serves slot 0), then replicas. */
  topology(): Promise<{ primaries: ClusterNode[]; replicas: ClusterNode[] }>;
  /**
   * Fails primary `primaryIndex` (slot order) over to a live replica of it with CLUSTER FAILOVER (FORCE
   * when the primary is not live) and resolves once every live node sees the replica serve those slots
   * and the cluster is healthy again; `previous` is the old primary.
   */
  failover(
    primaryIndex: number,
    timeoutMs?: number,
  ): Promise<{ previous: RedisServer; primary: RedisServer }>;
  /**
   * Resolves once every live (running, not frozen) node reports `cluster_state:ok` with all 16384 slots
   * served by live nodes, all agree who serves them, and every live replica of a live primary is linked
   * to it. After a primary is killed or frozen, that is once a replica took its slots over.
   */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node it started (by PID) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const SLOTS = 16_384;
const isLive = (p: RedisProcess) => p.child.exitCode === null && p.child.signalCode === null && !p.frozen;

/** `redis-cli --cluster create`: joins the nodes, assigns slots and replicas. */
async function createCluster(ports: readonly number[], replicas: number, timeoutMs: number): Promise<void> {
  const args = ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`)];
  const child = spawn('redis-cli', [...args, '--cluster-replicas', String(replicas), '--cluster-yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = readLines([child.stdout, child.stderr], 20);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const spawnError = new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
  const status = await exitOf(child);
  clearTimeout(timer);
  await outputClosed(child);
  if (child.pid === undefined) {
    const err = await spawnError;
    throw new DevkitError(
      err.code === 'ENOENT' ? 'REDIS_CLI_NOT_FOUND' : 'SPAWN_FAILED',
      `cannot run redis-cli: ${err.message} (Debian/Ubuntu: apt-get install redis-tools)`,
      { cause: err },
    );
  }
  if (status.code !== 0) {
    throw new DevkitError(
      'CLUSTER_CREATE_FAILED',
      `redis-cli --cluster create exited (${describeExit(status)}):\n${tail.text()}`,
    );
  }
}

/**
 * Starts a Redis Cluster for tests: `primaries` primaries and `replicasPerPrimary` replicas each
 * (`cluster-enabled`, `nodes.conf` in each node's dir, a short node timeout, and replicas that fail over
 * however long they were cut off: `cluster-replica-validity-factor 0`), created with `redis-cli
 * --cluster create`, and resolves once it is healthy. On failure, whatever it started is stopped again.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterSetup> {
  const primaryCount = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 1;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!(Number.isInteger(primaryCount) && primaryCount >= 3)) {
    throw new RangeError(
      `startRedisCluster(): primaries must be 3 or more (redis-cli's minimum), got ${primaryCount}`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'devkit-cluster-'));
  const nodes: RedisServer[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled(nodes.map((node) => node.stop('SIGKILL')));
    await rm(root, { recursive: true, force: true });
  };

  /** CLUSTER NODES from `node`, as views. */
  const viewsOf = async (node: RedisServer) =>
    parseClusterNodes(String(await redisCommand(node.url, ['CLUSTER', 'NODES'], 1_000)));
  const nodeAt = (port: number) => nodes.find((node) => node.port === port);

  async function healthy(): Promise<Probe<void>> {
    const live = nodes.filter(isLive);
    let shape: string | undefined;
    let views: ClusterNodeView[] = [];
    for (const node of live) {
      const info = parseInfo(await redisCommand(node.url, ['CLUSTER', 'INFO'], 1_000));
      if (info.get('cluster_state') !== 'ok')
        return { done: false, why: `${node.port}: cluster_state not ok` };
      if (info.get('cluster_slots_ok') !== String(SLOTS)) {
        return { done: false, why: `${node.port}: ${info.get('cluster_slots_ok')} slots ok` };
      }
      if (info.get('cluster_known_nodes') !== String(nodes.length)) {
        return { done: false, why: `${node.port} knows ${info.get('cluster_known_nodes')} nodes` };
      }
      views = await viewsOf(node);
      // Right after `--cluster create` the replicas-to-be are still primaries without slots.
      const idle = views.find((v) => v.role === 'primary' && v.slots.length === 0 && !v.failing);
      if (idle) return { done: false, why: `${node.port} sees ${idle.port} as a primary without slots` };
      const mine = clusterShape(views);
      if (shape !== undefined && mine !== shape) return { done: false, why: 'nodes disagree on the shape' };
      shape = mine;
    }
    const gone = primariesBySlot(views).find((v) => {
      const owner = nodeAt(v.port);
      return owner === undefined || !isLive(owner);
    });
    if (gone) return { done: false, why: `slots of ${gone.port} are served by a node that is down` };
    const byId = new Map(views.map((view) => [view.id, view]));
    for (const view of views.filter((v) => v.role === 'replica')) {
      const replica = nodeAt(view.port);
      const primary = nodeAt(byId.get(view.primaryId ?? '')?.port ?? 0);
      if (!replica || !primary || !isLive(replica) || !isLive(primary)) continue;
      const info = parseInfo(await redisCommand(replica.url, ['INFO', 'replication'], 1_000));
      if (info.get('master_port') !== String(primary.port) || info.get('master_link_status') !== 'up') {
        return { done: false, why: `${replica.port} not linked to ${primary.port} yet` };
      }
    }
    return { done: true, value: undefined };
  }

  async function topology() {
    const viewer = nodes.find(isLive);
    if (!viewer) throw new RangeError('topology(): no live node');
    const views = await viewsOf(viewer);
    const byId = new Map(views.map((view) => [view.id, view]));
    const toNode = (view: ClusterNodeView): ClusterNode => ({
      server: nodeAt(view.port)!,
      id: view.id,
      role: view.role,
      primary: view.primaryId === undefined ? undefined : nodeAt(byId.get(view.primaryId)?.port ?? 0),
      slots: view.slots,
    });
    return {
      primaries: primariesBySlot(views).map(toNode),
      replicas: views.filter((view) => view.role === 'replica').map(toNode),
    };
  }

  try {
    const count = primaryCount * (1 + replicasPerPrimary);
    for (let i = 0; i < count; i++) {
      const dir = join(root, `node-${i}`);
      await mkdir(dir);
      const label = `node-${i}`;
      nodes.push(
        await startRedisServer({
          dir,
          aof: options.aof ?? false,
          args: [
            ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
            ...['--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2_000)],
            ...['--cluster-replica-validity-factor', '0'],
          ],
          ...(options.output ? { output: (line: string) => options.output?.(label, line) } : {}),
        }),
      );
    }
    await createCluster(
      nodes.map((node) => node.port),
      replicasPerPrimary,
      timeoutMs,
    );
    await waitUntil('redis cluster healthy', healthy, timeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }

  const addresses = nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  return {
    nodes,
    env: { REDIS_CLUSTER_NODES: addresses.map((a) => `${a.host}:${a.port}`).join(',') },
    target: { kind: 'cluster', nodes: addresses },
    topology,
    waitUntilHealthy: (ms = timeoutMs) => waitUntil('redis cluster healthy', healthy, ms),
    async failover(primaryIndex, ms = timeoutMs) {
      const { primaries, replicas } = await topology();
      const old = primaries[primaryIndex];
      if (!old)
        throw new RangeError(`failover(): no primary ${primaryIndex} (there are ${primaries.length})`);
      const replica = replicas.find((r) => r.primary === old.server && isLive(r.server));
      if (!replica) throw new RangeError(`failover(): primary ${primaryIndex} has no live replica`);
      const force = isLive(old.server) ? [] : ['FORCE'];
      await redisCommand(replica.server.url, ['CLUSTER', 'FAILOVER', ...force]);
      const wanted = old.slots.map(([a, b]) => `${a}-${b}`).join(',');
      await waitUntil(
        `slots ${wanted} served by ${replica.server.port}`,
        async () => {
          for (const node of nodes.filter(isLive)) {
            const owner = primariesBySlot(await viewsOf(node)).find(
              (view) => view.slots.map(([a, b]) => `${a}-${b}`).join(',') === wanted,
            );
            if (owner?.port !== replica.server.port) return { done: false, why: `${node.port} disagrees` };
          }
          return { done: true, value: undefined };
        },
        ms,
      );
      await waitUntil('redis cluster healthy', healthy, ms);
      return { previous: old.server, primary: replica.server };
    },
    stop,
  };
}
