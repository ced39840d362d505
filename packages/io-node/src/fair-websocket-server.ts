import { WebSocketServer } from 'ws';

/**
 * The WebSocket server under Engine.IO, with `allowSynchronousEvents: false`: ws then hands over one
 * message of a connection per turn of the event loop instead of every message a TCP read brought. A
 * client that floods sends ~800 events per 64 KB read; handled in one go they stalled every other client
 * of the node for up to ~100 ms (the p99 of 100 chatters went from 10 to 60-100 ms). One turn each, they
 * take turns with everyone else's I/O. Cost: one `setImmediate` per message received, about 3 % of an
 * io-node's CPU per message at 8,000 msgs/s in the bench (README, Performance).
 */
export class FairWebSocketServer extends WebSocketServer {
  constructor(options: ConstructorParameters<typeof WebSocketServer>[0]) {
    super({ ...options, allowSynchronousEvents: false });
  }
}
