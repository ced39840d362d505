export type { CustomCommandContext, CustomCommandHandler } from './command-applier.js';
export type { CommandSubscriber } from './command-bus.js';
export type { AuthenticateHook, Handshake } from './handshake.js';
export type { IoNode, IoNodeEvents } from './io-node.js';
export { createIoNode } from './io-node.js';
export type { IoNodeOptions } from './io-node-options.js';
export type { JwtAuthOptions } from './jwt-auth.js';
export type { PeerEvents } from './node-registry.js';
