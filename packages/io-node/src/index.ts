export type { CustomCommandContext, CustomCommandHandler } from './command-applier.js';
export type { CommandSubscriber } from './command-bus.js';
export type { Handshake, IoNode, IoNodeEvents, IoNodeOptions } from './io-node.js';
export { createIoNode } from './io-node.js';
export type { PeerEvents } from './node-registry.js';
