/**
 * Development tooling for running iocluster locally: a private redis-server (and Sentinel and Cluster
 * setups with chaos controls: crash, restart on the same port, freeze, failover), free ports, forking the
 * packages' processes and waiting until they are ready, and {@link launchCluster}: io-nodes, app-nodes
 * and a frontend as processes through their entry points, with stop in drain order and kill/freeze
 * controls. Used by the tests, the example's launcher, the benchmark and the chaos suite; nothing in
 * production imports it.
 *
 * @example
 * ```ts
 * const redis = await startRedisServer();
 * const cluster = await launchCluster({
 *   entryPoints: workspaceEntryPoints(root),          // packages/<tier>/dist/main.js
 *   appModule: `${root}example/dist/chat-app.js`,     // the handlers app-nodes run
 *   env: { REDIS_URL: redis.url, IOCLUSTER_PREFIX: 'dev' },
 *   ioNodes: 2,
 *   appNodes: 2,
 *   frontend: true,
 *   output: (label, line) => process.stdout.write(`${label} | ${line}\n`),
 * });
 * const urls = [cluster.frontend?.url, ...cluster.ioNodes.map((node) => node.url)];
 * await cluster.ioNodes[0]?.kill('SIGKILL');           // a crash; `freeze()` stalls one instead
 * await cluster.start('io-node');                      // a replacement
 * await cluster.stop();                                // frontend, io-nodes, app-nodes: SIGTERM, then SIGKILL
 * ```
 */

export type { DevkitErrorCode } from './errors.js';
export { DevkitError } from './errors.js';
export type { ExitStatus } from './exit-status.js';
export type { ForkedProcess, ForkProcessOptions, ReadyMessage } from './fork-process.js';
export { forkProcess } from './fork-process.js';
export { freePort, freePortRange } from './free-port.js';
export type {
  EntryPoints,
  LaunchClusterOptions,
  LaunchedCluster,
  NodeKind,
  NodeOutput,
  NodeProcess,
  NodeSpec,
} from './launch-cluster.js';
export { launchCluster, SOURCE_EXEC_ARGV, workspaceEntryPoints } from './launch-cluster.js';
export type { ClusterNode, RedisClusterOptions, RedisClusterSetup } from './redis-cluster.js';
export { startRedisCluster } from './redis-cluster.js';
export { redisCommand, redisReachable } from './redis-probe.js';
export type { RedisProcess } from './redis-process.js';
export type { HostPort, RedisSentinelOptions, RedisSentinelSetup } from './redis-sentinel.js';
export { startRedisSentinel } from './redis-sentinel.js';
export type { RedisServer, RedisServerOptions } from './redis-server.js';
export { startRedisServer } from './redis-server.js';
export type { RespValue } from './resp.js';
export { parseInfo } from './resp.js';
export type { TcpProxy } from './tcp-proxy.js';
export { startTcpProxy } from './tcp-proxy.js';
