export type { BalanceStrategy, Config, JwtAlgorithm, JwtAuthConfig, LimitsConfig } from './config.js';
export { BALANCE_STRATEGIES, JWT_ALGORITHMS, loadConfig } from './config.js';
export type { AckError, ErrorCode } from './errors.js';
export {
  ConfigError,
  IoclusterError,
  isTransientRedisError,
  refusal,
  toAckError,
  WireError,
} from './errors.js';
export type { Keys } from './keys.js';
export { createKeys } from './keys.js';
export type { CloseStep, Deferred } from './lifecycle.js';
export { closeRedis, deferred, listen, runCloseSteps, settleWithin } from './lifecycle.js';
export type { Listeners } from './listeners.js';
export { createListeners } from './listeners.js';
export type { DestinationStream, Logger, LoggerOptions, LogLevel } from './logger.js';
export { createLogger, REDACTED_PATHS, silentLogger } from './logger.js';
export { assertInteger, assertPort, withDefaults } from './options.js';
export { announceReady, runUntilSignal } from './process.js';
export type { RedisConnection, RedisRole, RedisTarget } from './redis.js';
export { createRedis } from './redis.js';
export type { RegistryEvents, RegistryWatcher, RegistryWatcherOptions } from './registry.js';
export {
  isNodeLive,
  readLiveNodes,
  watchRegistry,
} from './registry.js';
export type {
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
  IngressEvent,
  IngressJob,
  IoNodeRecord,
  JoinCommand,
  LeaveCommand,
  ReplyCommand,
  SetDataCommand,
} from './wire/index.js';
export {
  CHANNEL_EVENTS,
  CHANNEL_MESSAGE_EVENT,
  CHANNEL_ROOM_PREFIX,
  COMMAND_VERSION,
  channelRoom,
  decodeArgs,
  decodeBinary,
  decodeChannelRequest,
  decodeClientInfo,
  decodeCommandEnvelope,
  decodeIngressJob,
  decodeIoNodeRecord,
  encodeArgs,
  encodeBinary,
  encodeCommandEnvelope,
  encodeIoNodeRecord,
  hasBinary,
  INGRESS_VERSION,
  MAX_CHANNEL_LENGTH,
  PUBLISH_EVENT,
  RESERVED_EVENTS,
  RESERVED_PREFIX,
  SERVER_ERROR_EVENT,
  SUBSCRIBE_EVENT,
  TOKEN_EXPIRING_EVENT,
  TOKEN_REFRESH_EVENT,
  UNSUBSCRIBE_EVENT,
} from './wire/index.js';
