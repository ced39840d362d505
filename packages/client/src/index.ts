export type { RecoveryReport } from '@iocluster/shared/protocol';
export type { ClientState } from './client.js';
export { createClient, IoclusterClient, PROXY_NODE_ID } from './client.js';
export type { ClientOptions } from './client-options.js';
export type { ClientErrorCode } from './errors.js';
export { ClientError } from './errors.js';
export type {
  AckResult,
  ClientLifecycleEvents,
  DefaultEventsMap,
  EventNames,
  EventParams,
  Listener,
  NodeTarget,
  ParamsBeforeAck,
  ReconnectReason,
} from './events.js';
export { LIFECYCLE_EVENTS } from './events.js';
