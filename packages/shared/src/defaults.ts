/**
 * Every default setting, in one place: the environment parser (`config.ts`) and the options resolvers of
 * io-nodes, app-nodes and the frontend read them from here, so a process started from the environment and
 * one built in code behave alike. The options interfaces repeat each value in their `@defaultValue`.
 * Read it, never change it: resolvers copy what they take.
 */
export const DEFAULTS = {
  /** Shared by every tier. */
  cluster: {
    prefix: 'iocluster',
    ingressPartitions: 1,
    heartbeatIntervalMs: 2_000,
    heartbeatTtlMs: 6_000,
    recoveryWindowMs: 120_000,
    inboxRetentionMs: 120_000,
    replicaWait: { replicas: 0, timeoutMs: 1_000 },
  },
  ioNode: {
    host: '0.0.0.0',
    port: 3001,
    eventTimeoutMs: 30_000,
    ordering: true,
    batchMaxEvents: 256,
    maxJobsInFlight: 32,
    maxPendingEvents: 100_000,
  },
  /** What one client, and one io-node, may do (docs/security.md). */
  limits: {
    clientEventRate: 200,
    clientEventBurst: 100,
    clientRateDisconnectAfter: 1_000,
    abuseBanMs: 10_000,
    maxPayloadBytes: 65_536,
    maxConnections: 50_000,
    connectionsPerSecondPerIp: 0,
    queueMaxWaiting: 10_000,
    queueCheckIntervalMs: 500,
  },
  appNode: {
    concurrency: 16,
    lockDurationMs: 5_000,
    stalledIntervalMs: 2_500,
    maxStalledCount: 3,
    commandAppendScript: true,
    metricsHost: '0.0.0.0',
  },
  frontend: {
    host: '0.0.0.0',
    port: 3000,
    strategy: 'fewest-connections' as const,
    // On: a plain `io(frontendUrl)` works. Off only when clients connect to io-nodes themselves.
    proxy: true,
    proxyPath: '/socket.io/',
    registryRefreshMs: 500,
  },
};
