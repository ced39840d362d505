export { createClientStateStore } from './client-state-store.js';
export type { ClusterMembership, JoinClusterOptions } from './cluster-id.js';
export { CLUSTER_ID_TTL_MS, joinCluster } from './cluster-id.js';
export type { ClusterJoin, JoinWhenReachableOptions } from './cluster-join.js';
export { joinWhenReachable } from './cluster-join.js';
export type { CommandPublisher, CommandPublisherOptions } from './command-publisher.js';
export { createCommandPublisher } from './command-publisher.js';
export { type CommandSender, createCommandSender } from './command-sender.js';
export type {
  HistorySettings,
  JwtAuthConfig,
  Settings,
  TierValues,
} from './config.js';
export { checkSettings, loadSettings, PORT_PLACEHOLDER, settingsOf } from './config.js';
export { renderConfigurationDoc } from './config-doc.js';
export type { Env, Kind } from './config-env.js';
export type { UnknownSetting } from './config-names.js';
export { unknownSettings, warnUnknownSettings } from './config-names.js';
export type { SettingDefaults } from './config-options.js';
export { checkOptions, settingDefaults } from './config-options.js';
export type { BalanceStrategy, JwtAlgorithm, Setting, SocketIoParser, Tier } from './config-table.js';
export { BALANCE_STRATEGIES, JWT_ALGORITHMS, SETTINGS, SOCKETIO_PARSERS, TIERS } from './config-table.js';
export type { AckError, ErrorCode } from './errors.js';
export {
  ConfigError,
  IoclusterError,
  isTransientRedisError,
  refusal,
  toAckError,
  WireError,
} from './errors.js';
export type {
  AckResult,
  DefaultEventsMap,
  EventNames,
  EventParams,
  HandlerArgs,
  HandlerResult,
  HasAck,
  IsTypedMap,
  ParamsBeforeAck,
} from './event-maps.js';
export type { HistoryEntry, HistoryLimits, HistoryRead, RoomHistory } from './history.js';
export { createRoomHistory, matchRooms } from './history.js';
export type {
  HistoryMessage,
  HistoryOptions,
  HistoryPage,
  HistoryReadOptions,
  HistoryRules,
} from './history-rules.js';
export { createHistoryRules, HISTORY_READ_MAX } from './history-rules.js';
export type { IngressPartition, Keys } from './keys.js';
export { createKeys, INGRESS_GROUP, ingressPartitionOf } from './keys.js';
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
export type { LivenessEntry, LivenessSettings, LivenessVerdict, LivenessView } from './liveness.js';
export { judgeLiveness, NO_LIVENESS_VIEW } from './liveness.js';
export type { LivenessKind, LivenessRead, LivenessWrite } from './liveness-store.js';
export {
  appNodeLiveness,
  claimExpired,
  ioNodeLiveness,
  readListed,
  readLiveness,
  removeLiveness,
  writeLiveness,
} from './liveness-store.js';
export type { DestinationStream, Logger, LoggerOptions, LogLevel } from './logger.js';
export { createLogger, REDACTED_PATHS, silentLogger } from './logger.js';
export type { LuaScript } from './lua-script.js';
export { LuaHeaderError, loadLuaScript, luaScript, parseLuaHeader } from './lua-script.js';
export type { ProcessMetrics, QueueState } from './metrics.js';
export { cachedReader, createProcessMetrics, QUEUE_STATES, queueJobsGauge } from './metrics.js';
export type { OccupancyStore, OccupancyTransition } from './occupancy.js';
export { createOccupancyStore } from './occupancy.js';
export { assertHeartbeat, assertInteger, assertPort, withDefaults } from './options.js';
export type {
  PresenceConnection,
  PresenceMember,
  PresenceRemoval,
  PresenceRoomSummary,
  PresenceStore,
} from './presence.js';
export { createPresenceStore, rosterOf } from './presence.js';
export type { RunUntilSignalOptions } from './process.js';
export { announceReady, packageVersionAt, runUntilSignal, SHUTDOWN_BOUND_MS } from './process.js';
export type {
  ChannelMessage,
  ClientLimits,
  RecoveryHandshake,
  RecoveryReport,
  ServerError,
  TokenExpiring,
  TokenRefreshAnswer,
} from './protocol.js';
export {
  BINARY_TAG,
  CHANNEL_MESSAGE_EVENT,
  CHANNEL_ROOM_PREFIX,
  HISTORY_EVENT,
  IDENTIFIED_EVENT,
  LIMITS_EVENT,
  POSITION_EVENT,
  POSITIONED_EVENT,
  PRESENCE_REQUEST_EVENT,
  PUBLISH_EVENT,
  RECOVERED_EVENT,
  RESERVED_PREFIX,
  SERVER_ERROR_EVENT,
  SESSION_EVENT,
  SUBSCRIBE_EVENT,
  TOKEN_EXPIRING_EVENT,
  TOKEN_REFRESH_EVENT,
  UNSUBSCRIBE_EVENT,
  USER_ROOM_PREFIX,
  userRoom,
} from './protocol.js';
export type { RateMeter } from './rate-meter.js';
export { createRateMeter } from './rate-meter.js';
export type { RedisConnection, RedisRole, RedisTarget } from './redis.js';
export { createRedis, openRedis, readSlots } from './redis.js';
export type { RedisCommandTransportOptions } from './redis-command-transport.js';
export { createRedisCommandTransport } from './redis-command-transport.js';
export type { RedisWait, WaitForRedisOptions } from './redis-wait.js';
export { describeRedisTarget, waitForRedis } from './redis-wait.js';
export type { RegistryEvents, RegistryWatcher, RegistryWatcherOptions } from './registry.js';
export { isNodeLive, readLiveAppNodes, readLiveNodes, watchRegistry } from './registry.js';
export type { ReplicaWait } from './replica-wait.js';
export { connectionGeneration, waitForReplicas, waitsForReplicas } from './replica-wait.js';
export type { PendingRequest, Requester, RequestOutcome } from './requests.js';
export { createRequester, replyAddress } from './requests.js';
export type { RoutingTable } from './routing.js';
export { createRoutingTable } from './routing.js';
export type { BroadcastAcks, OperatorTarget, SelectionChange } from './selection.js';
export {
  ACK_REPLY_MARGIN_MS,
  broadcastWithAck,
  changeSelection,
  checkTimeout,
  DEFAULT_ACK_TIMEOUT_MS,
  fetchDescriptions,
  SELECTION_TIMEOUT_MS,
  socketEmitWithAck,
  TargetOperator,
} from './selection.js';
export type { PortVariables, StartFailure, StartOrExitOptions } from './start-failure.js';
export {
  describeStartFailure,
  exitAfterStartFailure,
  loadSettingsOrExit,
  startOrExit,
} from './start-failure.js';
export type {
  ClientStateStore,
  CommandSubscriber,
  CommandTransport,
  IngressAcknowledgement,
  IngressBacklog,
  IngressConsumer,
  IngressDelivery,
  IngressHandler,
  IngressHooks,
  IngressPartitionBacklog,
  IngressProducer,
  KeptAnswer,
  MemoryClientStates,
  MemoryCommandPath,
  MemoryIngress,
  MemoryIngressConsumer,
  MemoryIngressOptions,
  ReplyInbox,
  ReplySender,
  RoutedCommand,
  StoredClientState,
  StreamGroupInfo,
} from './transport/index.js';
export {
  createMemoryClientStates,
  createMemoryCommandPath,
  createMemoryIngress,
  createMemoryRoomHistory,
  createRedisReplyInbox,
  createRedisReplySender,
  ensureStreamGroup,
  eventsIn,
  INGRESS_MAX_RUNS,
  readStreamGroup,
  splitByPartition,
} from './transport/index.js';
export type {
  AckAnswer,
  AppNodeRecord,
  ChannelRequest,
  ClientBatch,
  ClientInfo,
  ClientRef,
  Command,
  CommandEnvelope,
  CommandType,
  CustomCommand,
  DecodedEnvelope,
  DisconnectCommand,
  EmitAckCommand,
  EmitCommand,
  FetchSocketsCommand,
  HandshakeInfo,
  HistoryPosition,
  IngressEvent,
  IngressJob,
  IoNodeRecord,
  JoinCommand,
  LeaveCommand,
  NodeReply,
  OccupancyChange,
  OccupancyReason,
  PresenceChange,
  PresenceMeta,
  PresenceReason,
  ReplyCommand,
  ReplyResult,
  RequestRef,
  RewindSpec,
  Selection,
  SelectionCommand,
  SetDataCommand,
  SocketDescription,
  SocketsDisconnectCommand,
  SocketsJoinCommand,
  SocketsLeaveCommand,
} from './wire/index.js';
export {
  CHANNEL_EVENTS,
  CLIENT_REQUEST_EVENTS,
  COMMAND_VERSION,
  channelRoom,
  checkPresenceMeta,
  deadlineMarginMs,
  decodeAppNodeRecord,
  decodeArgs,
  decodeBatchClient,
  decodeBinary,
  decodeChannelRequest,
  decodeClientInfo,
  decodeCommandEnvelope,
  decodeIngressJob,
  decodeIoNodeRecord,
  decodeNodeReply,
  decodeOccupancyChange,
  decodePresenceChange,
  encodeAppNodeRecord,
  encodeArgs,
  encodeBinary,
  encodeCommandEnvelope,
  encodeIoNodeRecord,
  encodeNodeReply,
  hasBinary,
  INGRESS_VERSION,
  isClientRef,
  MAX_ACK_TIMEOUT_MS,
  MAX_CHANNEL_LENGTH,
  MAX_REWIND,
  OCCUPIED_EVENT,
  PRESENCE_EVENT,
  PRESENCE_META_MAX_BYTES,
  presenceMemberId,
  REPLY_VERSION,
  RESERVED_EVENTS,
  requestOf,
  selectionOf,
  userIdOf,
  VACATED_EVENT,
} from './wire/index.js';
export { appNodeWorkerEnv, ioNodeWorkerEnv, workerNodeId, workerPublicUrl } from './worker-env.js';
export type { WorkerInfo, WorkerSupervisor, WorkerSupervisorOptions } from './worker-supervisor.js';
export { createWorkerSupervisor, exitWithSupervisor, runWorkers } from './worker-supervisor.js';
