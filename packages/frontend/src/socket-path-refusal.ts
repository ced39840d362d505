import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@iocluster/shared';

/** What a frontend without its proxy answers under the Socket.IO path, instead of a bare 404. */
export interface SocketPathRefusal {
  matches(req: IncomingMessage): boolean;
  web(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Socket): void;
}

/** The sentence a Socket.IO client that asked a frontend without its proxy gets (and the frontend logs). */
export const NO_PROXY_MESSAGE =
  'this frontend does not carry Socket.IO (FRONTEND_PROXY=off): ask GET /api/connect for an io-node and ' +
  'connect to the url it answers, use @iocluster/client (it does both), or start the frontend with FRONTEND_PROXY=on';

/**
 * Answers Socket.IO requests (`path`, e.g. `/socket.io/`) on a frontend that does not proxy them: 404 with
 * `{ error: { code: 'NO_PROXY', message } }` saying what to do, for polling and WebSocket alike. The first
 * such request is logged at warn (someone points plain clients at the frontend), the others at debug.
 */
export function createSocketPathRefusal(path: string, logger: Logger): SocketPathRefusal {
  let told = false;
  const note = (req: IncomingMessage) => {
    const fields = { url: req.url, address: req.socket.remoteAddress };
    if (told) logger.debug(fields, NO_PROXY_MESSAGE);
    else logger.warn(fields, `a Socket.IO client asked here, but ${NO_PROXY_MESSAGE}`);
    told = true;
  };
  const body = JSON.stringify({ error: { code: 'NO_PROXY', message: NO_PROXY_MESSAGE } });
  return {
    matches(req) {
      const url = req.url ?? '/';
      return url.startsWith(path) || url.split('?')[0] === path.slice(0, -1);
    },
    web(req, res) {
      note(req);
      // Any origin may read it: a page on another origin gets the sentence, not a CORS error.
      res.writeHead(404, {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        'cache-control': 'no-store',
      });
      res.end(body);
    },
    upgrade(req, socket) {
      note(req);
      socket.end(
        `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
  };
}
