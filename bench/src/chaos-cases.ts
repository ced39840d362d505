import { setTimeout as delay } from 'node:timers/promises';
import { createKeys } from '@iocluster/shared';
import type { ChaosCluster, ChaosTopology } from './chaos-cluster.js';

export type ChaosCaseName =
  | 'app-node-kill'
  | 'io-node-kill'
  | 'redis-freeze'
  | 'redis-restart'
  | 'sentinel-failover'
  | 'redis-cluster-failover'
  | 'rolling-restart';
export const CHAOS_CASE_NAMES: readonly ChaosCaseName[] = [
  'app-node-kill',
  'io-node-kill',
  'redis-freeze',
  'redis-restart',
  'sentinel-failover',
  'redis-cluster-failover',
  'rolling-restart',
];

/** One failure injected into a running cluster under load. */
export interface ChaosCase {
  readonly name: ChaosCaseName;
  /** What the table says it does. */
  readonly title: string;
  readonly topology: ChaosTopology;
  /** Environment of every node of the case's cluster. */
  readonly env?: Record<string, string>;
  /**
   * Injects the failure (and waits for the cluster to be whole again where the case restarts something);
   * resolves with the epoch ms of each injection, the last one being where "time to recover" starts.
   */
  inject(cluster: ChaosCluster, options: { redisRestarts: number }): Promise<number[]>;
}

/** Redis down between SHUTDOWN and its start again, as in the report this suite answers (issue 7). */
const REDIS_DOWN_MS = 1_000;
const REDIS_FREEZE_MS = 3_000;
/** Longest the app-node kill waits for its victim to hold ingress entries. */
const HOLDING_WAIT_MS = 2_000;
/** Between two Redis restarts: the cluster reconnects and the load runs normally for a while. */
const REDIS_RESTART_SPACING_MS = 3_000;

export const CHAOS_CASES: Record<ChaosCaseName, ChaosCase> = {
  'app-node-kill': {
    name: 'app-node-kill',
    title: 'SIGKILL an app-node holding jobs',
    topology: 'standalone',
    async inject(cluster) {
      // Under this load every app-node holds jobs nearly all the time (16 at once at most); with Streams
      // the kill waits (up to 2 s) for the victim's pending list to show some, so a claim always follows.
      const victim = cluster.appNodes[0]!;
      const until = Date.now() + HOLDING_WAIT_MS;
      let held = await cluster.pendingOf(victim.nodeId!);
      while (held === 0 && Date.now() < until) {
        await delay(2);
        held = await cluster.pendingOf(victim.nodeId!);
      }
      const at = Date.now();
      await cluster.stopNode(victim, 'SIGKILL');
      if (held !== undefined) {
        console.log(`  ${victim.nodeId} held ${held} ingress entr${held === 1 ? 'y' : 'ies'} when killed`);
      }
      return [at];
    },
  },
  'io-node-kill': {
    name: 'io-node-kill',
    title: 'SIGKILL an io-node (its clients move and recover)',
    topology: 'standalone',
    async inject(cluster) {
      const at = Date.now();
      await cluster.stopNode(cluster.ioNodes[0]!, 'SIGKILL');
      return [at];
    },
  },
  'redis-freeze': {
    name: 'redis-freeze',
    title: `freeze Redis ${REDIS_FREEZE_MS / 1000} s (SIGSTOP)`,
    topology: 'standalone',
    async inject(cluster) {
      const redis = await cluster.primary();
      const at = Date.now();
      redis.freeze();
      await delay(REDIS_FREEZE_MS);
      redis.thaw();
      return [at];
    },
  },
  'redis-restart': {
    name: 'redis-restart',
    title: 'restart Redis (SHUTDOWN, start again 1 s later; AOF on)',
    topology: 'standalone',
    async inject(cluster, { redisRestarts }) {
      const redis = await cluster.primary();
      const times: number[] = [];
      for (let i = 0; i < redisRestarts; i++) {
        if (i > 0) await delay(REDIS_RESTART_SPACING_MS);
        times.push(Date.now());
        // SIGTERM is Redis's SHUTDOWN: it writes and fsyncs the AOF before exiting.
        await redis.stop('SIGTERM');
        await delay(REDIS_DOWN_MS);
        await redis.start();
      }
      return times;
    },
  },
  'sentinel-failover': {
    name: 'sentinel-failover',
    title: 'Sentinel failover (SENTINEL FAILOVER; REDIS_WAIT_REPLICAS=1)',
    topology: 'sentinel',
    // Without WAIT, writes the old primary takes while the replica is being promoted are lost with it
    // (test/sentinel.test.ts measures it); with it, they are written again to the new primary.
    env: { REDIS_WAIT_REPLICAS: '1' },
    async inject(cluster) {
      const at = Date.now();
      await cluster.sentinel!.failover();
      return [at];
    },
  },
  'redis-cluster-failover': {
    name: 'redis-cluster-failover',
    title: 'Redis Cluster failover of the ingress’s primary (CLUSTER FAILOVER)',
    topology: 'cluster',
    // No REDIS_WAIT_REPLICAS: a Cluster connection sends WAIT to any primary. A manual CLUSTER FAILOVER
    // lets the replica catch up with the primary (which stops taking writes meanwhile) before it takes
    // over, so no acknowledged write is left behind.
    async inject(cluster) {
      // The primary of the slot every client event passes through: the ingress stream's (one partition),
      // which BullMQ's ingress queue shares (the prefix's hash tag).
      const stream = createKeys(cluster.prefix).ingressPartitions(1)[0]!.stream;
      const index = await cluster.primaryIndexOf(stream);
      const at = Date.now();
      await cluster.redisCluster!.failover(index);
      return [at];
    },
  },
  'rolling-restart': {
    name: 'rolling-restart',
    title: 'rolling restart: every io-node, then every app-node, SIGTERM and a new one',
    topology: 'standalone',
    async inject(cluster) {
      const times: number[] = [];
      for (const kind of ['io-node', 'app-node'] as const) {
        const nodes = kind === 'io-node' ? [...cluster.ioNodes] : [...cluster.appNodes];
        for (const node of nodes) {
          times.push(Date.now());
          await cluster.stopNode(node, 'SIGTERM');
          await cluster.startNode(kind);
        }
      }
      return times;
    },
  },
};
