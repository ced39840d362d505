export type {
  HistoryMessage,
  HistoryOptions,
  HistoryPage,
  HistoryPosition,
  HistoryReadOptions,
  PresenceConnection,
  PresenceMember,
} from '@iocluster/shared';
export type { EmitResult, RecordedMessage } from './emit-operator.js';
export { EmitOperator } from './emit-operator.js';
export type {
  BroadcastResult,
  Emitter,
  PresenceRoom,
  PresenceStats,
  PublishOptions,
  PublishResult,
} from './emitter.js';
export { createEmitter } from './emitter.js';
export type { EmitterOptions } from './emitter-options.js';
