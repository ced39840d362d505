/**
 * Development tooling for running iocluster locally: a private redis-server (and Sentinel and Cluster
 * setups with chaos controls: crash, restart on the same port, freeze, failover), free ports, forking the
 * packages' processes and waiting until they are ready. Used by the tests, the example's launcher and
 * the benchmark; nothing in production imports it.
 */

export type { DevkitErrorCode } from './errors.js';
export { DevkitError } from './errors.js';
export type { ExitStatus } from './exit-status.js';
export type { ForkedProcess, ForkProcessOptions, ReadyMessage } from './fork-process.js';
export { forkProcess } from './fork-process.js';
export { freePort } from './free-port.js';
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
