export type { ClusterMembership, JoinClusterOptions } from './cluster-id.js';
export { CLUSTER_ID_TTL_MS, joinCluster } from './cluster-id.js';
export type {
  BalanceStrategy,
  Config,
  JwtAlgorithm,
  JwtAuthConfig,
  LimitsConfig,
  SocketIoParser,
} from './config.js';
export {
  BALANCE_STRATEGIES,
  JWT_ALGORITHMS,
  loadConfig,
  PORT_PLACEHOLDER,
  SOCKETIO_PARSERS,
} from './config.js';
export { DEFAULTS } from './defaults.js';
export type { AckError, ErrorCode } from './errors.js';
export {
  ConfigError,
  IoclusterError,
  isTransientRedisError,
  refusal,
  toAckError,
  WireError,
} from './errors.js';
export type { HistoryEntry, HistoryLimits, HistoryRead, RoomHistory } from './history.js';
export { createRoomHistory, matchRooms } from './history.js';
export type { IngressPartition, Keys } from './keys.js';
export { createKeys, ingressPartitionOf } from './keys.js';
export type { CloseStep, Deferred, Repeating } from './lifecycle.js';
export {
  closeRedis,
  closeStepsRunning,
  deferred,
  listen,
  repeat,
  runCloseSteps,
  settleWithin,
} from './lifecycle.js';
export type { Listeners } from './listeners.js';
export { createListeners } from './listeners.js';
export type { DestinationStream, Logger, LoggerOptions, LogLevel } from './logger.js';
export { createLogger, REDACTED_PATHS, silentLogger } from './logger.js';
export type { LuaScript } from './lua-script.js';
export { luaScript } from './lua-script.js';
export type { ProcessMetrics, QueueState } from './metrics.js';
export { cachedReader, createProcessMetrics, QUEUE_STATES, queueJobsGauge } from './metrics.js';
export { assertHeartbeat, assertInteger, assertPort, withDefaults } from './options.js';
export type { PresenceConnection, PresenceMember, PresenceRemoval, PresenceStore } from './presence.js';
export { createPresenceStore } from './presence.js';
export type { RunUntilSignalOptions } from './process.js';
export { announceReady, packageVersionAt, runUntilSignal, SHUTDOWN_BOUND_MS } from './process.js';
export type { RateMeter } from './rate-meter.js';
export { createRateMeter } from './rate-meter.js';
export type { RedisConnection, RedisRole, RedisTarget } from './redis.js';
export { createRedis } from './redis.js';
export type { RedisWait, WaitForRedisOptions } from './redis-wait.js';
export { describeRedisTarget, waitForRedis } from './redis-wait.js';
export type { RegistryEvents, RegistryWatcher, RegistryWatcherOptions } from './registry.js';
export {
  isNodeLive,
  readLiveAppNodes,
  readLiveNodes,
  removeAppNodeRecord,
  watchRegistry,
  writeAppNodeRecord,
} from './registry.js';
export type { ReplicaWait } from './replica-wait.js';
export { waitForReplicas } from './replica-wait.js';
export type { RoutingTable } from './routing.js';
export { createRoutingTable } from './routing.js';
export type { PortVariables, StartFailure, StartOrExitOptions } from './start-failure.js';
export {
  describeStartFailure,
  exitAfterStartFailure,
  loadConfigOrExit,
  startOrExit,
} from './start-failure.js';
export type {
  AppNodeRecord,
  ChannelRequest,
  ClientBatch,
  ClientInfo,
  Command,
  CommandEnvelope,
  CommandType,
  CustomCommand,
  DecodedEnvelope,
  DisconnectCommand,
  EmitCommand,
  HandshakeInfo,
  HistoryPosition,
  IngressEvent,
  IngressJob,
  IoNodeRecord,
  JoinCommand,
  LeaveCommand,
  PresenceChange,
  PresenceMeta,
  PresenceReason,
  ReplyCommand,
  SetDataCommand,
} from './wire/index.js';
export {
  CHANNEL_EVENTS,
  CHANNEL_MESSAGE_EVENT,
  CHANNEL_ROOM_PREFIX,
  CLIENT_REQUEST_EVENTS,
  COMMAND_VERSION,
  channelRoom,
  checkPresenceMeta,
  decodeAppNodeRecord,
  decodeArgs,
  decodeBinary,
  decodeChannelRequest,
  decodeClientInfo,
  decodeCommandEnvelope,
  decodeIngressJob,
  decodeIoNodeRecord,
  decodePresenceChange,
  encodeAppNodeRecord,
  encodeArgs,
  encodeBinary,
  encodeCommandEnvelope,
  encodeIoNodeRecord,
  HISTORY_EVENT,
  hasBinary,
  IDENTIFIED_EVENT,
  INGRESS_VERSION,
  LIMITS_EVENT,
  MAX_CHANNEL_LENGTH,
  PRESENCE_EVENT,
  PRESENCE_META_MAX_BYTES,
  PRESENCE_REQUEST_EVENT,
  PUBLISH_EVENT,
  presenceMemberId,
  RESERVED_EVENTS,
  RESERVED_PREFIX,
  SERVER_ERROR_EVENT,
  SUBSCRIBE_EVENT,
  TOKEN_EXPIRING_EVENT,
  TOKEN_REFRESH_EVENT,
  UNSUBSCRIBE_EVENT,
  userIdOf,
} from './wire/index.js';
export { appNodeWorkerEnv, ioNodeWorkerEnv, workerNodeId, workerPublicUrl } from './worker-env.js';
export type { WorkerInfo, WorkerSupervisor, WorkerSupervisorOptions } from './worker-supervisor.js';
export { createWorkerSupervisor, exitWithSupervisor, runWorkers } from './worker-supervisor.js';
