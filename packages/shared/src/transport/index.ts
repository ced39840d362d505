export type { ClientStateStore, MemoryClientStates, StoredClientState } from './client-states.js';
export { createMemoryClientStates } from './client-states.js';
export type {
  CommandSubscriber,
  CommandTransport,
  KeptAnswer,
  RoutedCommand,
} from './commands.js';
export type {
  IngressAcknowledgement,
  IngressBacklog,
  IngressConsumer,
  IngressDelivery,
  IngressHandler,
  IngressHooks,
  IngressPartitionBacklog,
  IngressProducer,
} from './ingress.js';
export { INGRESS_MAX_RUNS } from './ingress.js';
export type { MemoryCommandPath } from './memory-commands.js';
export { createMemoryCommandPath } from './memory-commands.js';
export { createMemoryRoomHistory } from './memory-history.js';
export type { MemoryIngress, MemoryIngressConsumer, MemoryIngressOptions } from './memory-ingress.js';
export { createMemoryIngress } from './memory-ingress.js';
export { eventsIn, splitByPartition } from './partitions.js';
export { createRedisReplyInbox, createRedisReplySender } from './redis-replies.js';
export type { ReplyInbox, ReplySender } from './replies.js';
export type { StreamGroupInfo } from './stream-info.js';
export { ensureStreamGroup, readStreamGroup } from './stream-info.js';
