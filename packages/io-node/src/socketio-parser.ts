import type { SocketIoParser } from '@iocluster/shared';
import type { ServerOptions } from 'socket.io';
import * as msgpackParser from 'socket.io-msgpack-parser';

/**
 * Socket.IO server options for a packet encoding. `msgpack` (socket.io-msgpack-parser) encodes each
 * packet as one MessagePack frame, binary included, instead of JSON text plus one frame per binary
 * attachment; clients must use the same parser, or their handshake cannot be read.
 */
export function parserOptions(parser: SocketIoParser): Partial<ServerOptions> {
  return parser === 'msgpack' ? { parser: msgpackParser } : {};
}
