export type { AppNode, AppNodeOptions, LifecycleHandlers } from './app-node.js';
export { createAppNode } from './app-node.js';
export { AppSocket } from './app-socket.js';
export { BroadcastOperator } from './broadcast.js';
export type { ChannelDefaults, PublishAuthorizer, SubscribeAuthorizer } from './channels.js';
export type { CommandPublisher } from './command-publisher.js';
export type { EventHandler, EventMiddleware } from './job-processor.js';
export { MessageBuilder } from './message-builder.js';
