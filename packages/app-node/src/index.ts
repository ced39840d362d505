export type {
  BroadcastAcks,
  CommandPublisher,
  CommandTransport,
  HistoryMessage,
  HistoryOptions,
  HistoryPage,
  IngressBacklog,
  IngressConsumer,
  IngressDelivery,
  IngressHandler,
  IngressHooks,
  IngressPartitionBacklog,
  KeptAnswer,
  RedisCommandTransportOptions,
  RoutedCommand,
  SelectionChange,
} from '@iocluster/shared';
export { createRedisCommandTransport } from '@iocluster/shared';
export type { AppNode } from './app-node.js';
export { createAppNode } from './app-node.js';
export type { AppNodeOptions } from './app-node-options.js';
export type { AckEmitter, JoinOptions, VolatileSocket } from './app-socket.js';
export { AppSocket } from './app-socket.js';
export { BroadcastOperator } from './broadcast.js';
export type { BullmqIngressConsumer, BullmqIngressOptions } from './bullmq-ingress-consumer.js';
export { createBullmqIngressConsumer } from './bullmq-ingress-consumer.js';
export type { ChannelDefaults, PublishAuthorizer, SubscribeAuthorizer } from './channels.js';
export type { DeadLetterData, DeadLetters } from './dead-letters.js';
export { createDeadLetters } from './dead-letters.js';
export type { EventHandler, EventMiddleware } from './job-processor.js';
export { MessageBuilder } from './message-builder.js';
export type { OccupancyHook } from './occupancy.js';
export type {
  PresenceAuthorizer,
  PresenceFormatter,
  PresenceHook,
  PresenceMemberView,
  PresenceRoster,
} from './presence.js';
export { defaultPresencePayload } from './presence.js';
export { RemoteSocket } from './remote-socket.js';
export type { RewindOption } from './rewind-option.js';
export type { HistoryAuthorizer } from './room-history.js';
export type {
  DeadLetter,
  DeadLetterSink,
  StreamIngressConsumer,
  StreamIngressOptions,
} from './stream-ingress-consumer.js';
export { createStreamIngressConsumer } from './stream-ingress-consumer.js';
export type {
  ClientEventHandler,
  LifecycleEventName,
  LifecycleHandlers,
  LifecycleOn,
  LooseOn,
  OnMethod,
  TypedOn,
} from './typed-handlers.js';
export type { WebhookBody, WebhookEvent, WebhookEventName } from './webhooks.js';
export {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
  verifyWebhook,
} from './webhooks.js';
