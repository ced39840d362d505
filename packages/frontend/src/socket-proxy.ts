import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { IoNodeRecord, Logger } from '@iocluster/shared';
import { createProxyServer } from 'http-proxy-3';

export interface SocketProxyOptions {
  /** Socket.IO path forwarded (starts and ends with `/`), e.g. `/socket.io/`. */
  path: string;
  /** Chooses the node for a new session, avoiding the given node ids when it can. */
  pick(avoid: ReadonlySet<string>): IoNodeRecord | undefined;
  /** The live record of a node, or undefined once it left the registry. */
  live(nodeId: string): IoNodeRecord | undefined;
  /** A session with no request for this long is forgotten. */
  sessionIdleMs: number;
  logger: Logger;
}

/**
 * Reverse proxy for Socket.IO traffic: clients connect to the frontend's own address and each engine.io
 * session is forwarded to one io-node, over http-proxy-3.
 *
 * Long-polling is many HTTP requests per session, and only the node that issued a session id (`sid`)
 * knows it. The sid is random, so hashing it cannot say which node issued it; the proxy therefore reads
 * the sid from the handshake response it forwards (`0{"sid":"..."}`, under 200 bytes) and remembers
 * sid → node. Requests that carry a sid (polls, posts and the WebSocket upgrade) go to that node.
 * The table is in memory, so with several frontends the load balancer in front of them must keep a
 * client on one frontend (as Socket.IO requires of any load balancer), and a restarted frontend makes
 * polling clients reconnect. Entries go when idle for `sessionIdleMs` (engine.io pings every 25 s) or
 * when their node leaves the registry.
 *
 * A node that refuses a connection is avoided for new sessions for a while; a handshake (a GET without
 * body) that fails that way is retried on another node; requests for a session of a dead node get
 * engine.io's "Session ID unknown" answer, upon which the client makes a new handshake elsewhere.
 */
export interface SocketProxy {
  /** True for requests under the proxied path. */
  matches(req: IncomingMessage): boolean;
  web(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
  /** Forgets the sessions of a node that left. */
  nodeLeft(nodeId: string): void;
  /** Sessions remembered (polling sessions, and upgraded ones until they idle out). */
  readonly sessions: number;
  /** Destroys proxied WebSockets and stops the sweeper. */
  close(): void;
}

interface Session {
  nodeId: string;
  lastUsed: number;
}

/** engine.io's own answer for an unknown sid (`Server.errors.UNKNOWN_SID`). */
const UNKNOWN_SID = JSON.stringify({ code: 1, message: 'Session ID unknown' });
/** A node that refused a connection gets no new sessions for this long (unless no other node is left). */
const AVOID_MS = 10_000;
/** Extra nodes a failed handshake is tried on. */
const HANDSHAKE_RETRIES = 2;
/** The sid is in the first bytes of the handshake response; stop looking after this many. */
const HANDSHAKE_SCAN_BYTES = 4_096;

/** Creates the proxy; the caller routes matching requests and upgrades to it. */
export function createSocketProxy(options: SocketProxyOptions): SocketProxy {
  const { path, logger } = options;
  const proxy = createProxyServer({ xfwd: true });
  const sessions = new Map<string, Session>();
  const avoided = new Map<string, number>();
  const handshakes = new WeakMap<IncomingMessage, IoNodeRecord>();
  const upgraded = new Set<Socket>();

  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const [sid, session] of sessions) {
        if (now - session.lastUsed > options.sessionIdleMs) sessions.delete(sid);
      }
      for (const [nodeId, until] of avoided) if (until <= now) avoided.delete(nodeId);
    },
    Math.min(options.sessionIdleMs, 30_000),
  );
  sweeper.unref();

  // A stray error with no callback to take it must not crash the process.
  proxy.on('error', (err) => logger.warn({ err }, 'proxy error'));

  proxy.on('proxyRes', (proxyRes, req) => {
    const node = handshakes.get(req);
    if (!node) return;
    handshakes.delete(req);
    if (proxyRes.statusCode !== 200 || proxyRes.headers['content-encoding']) return;
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const sid = /"sid":"([^"]+)"/.exec(text)?.[1];
      if (sid) sessions.set(sid, { nodeId: node.nodeId, lastUsed: Date.now() });
      if (sid || text.length > HANDSHAKE_SCAN_BYTES) proxyRes.off('data', onData);
    };
    // Runs beside the pipe to the client, before the client can see the sid and send it back.
    proxyRes.on('data', onData);
  });

  function sidOf(req: IncomingMessage): string | null {
    return new URL(req.url ?? '/', 'http://frontend.invalid').searchParams.get('sid');
  }

  function avoid(node: IoNodeRecord, err: Error): void {
    logger.warn({ err, nodeId: node.nodeId, url: node.url }, 'io-node unreachable through the proxy');
    avoided.set(node.nodeId, Date.now() + AVOID_MS);
    for (const [sid, session] of sessions) if (session.nodeId === node.nodeId) sessions.delete(sid);
  }

  function avoidSet(extra: Iterable<string> = []): Set<string> {
    const now = Date.now();
    const out = new Set(extra);
    for (const [nodeId, until] of avoided) if (until > now) out.add(nodeId);
    return out;
  }

  function sendJson(res: ServerResponse, status: number, body: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body);
  }

  function sessionNode(sid: string): IoNodeRecord | undefined {
    const session = sessions.get(sid);
    const node = session && options.live(session.nodeId);
    if (!session || !node) {
      sessions.delete(sid);
      return undefined;
    }
    session.lastUsed = Date.now();
    return node;
  }

  function handshake(req: IncomingMessage, res: ServerResponse, tried: Set<string>): void {
    const node = options.pick(avoidSet(tried));
    if (!node) {
      sendJson(
        res,
        503,
        JSON.stringify({ error: { code: 'NO_IO_NODES', message: 'no live io-node; try again shortly' } }),
      );
      return;
    }
    handshakes.set(req, node);
    // A retried request was already read into the first attempt; a handshake is a GET with no body.
    const retry = tried.size > 0 ? { buffer: Readable.from([]) } : {};
    proxy.web(req, res, { target: node.url, ...retry }, (err) => {
      avoid(node, err);
      tried.add(node.nodeId);
      if (!res.headersSent && req.method === 'GET' && tried.size <= HANDSHAKE_RETRIES) {
        handshake(req, res, tried);
      } else {
        sendJson(res, 502, JSON.stringify({ error: { code: 'IO_NODE_UNREACHABLE', message: err.message } }));
      }
    });
  }

  return {
    matches(req) {
      const url = req.url ?? '/';
      return url.startsWith(path) || url.split('?')[0] === path.slice(0, -1);
    },
    web(req, res) {
      const sid = sidOf(req);
      if (sid === null) {
        handshake(req, res, new Set());
        return;
      }
      const node = sessionNode(sid);
      if (!node) {
        sendJson(res, 400, UNKNOWN_SID);
        return;
      }
      proxy.web(req, res, { target: node.url }, (err) => {
        avoid(node, err);
        sendJson(res, 502, JSON.stringify({ error: { code: 'IO_NODE_UNREACHABLE', message: err.message } }));
      });
    },
    upgrade(req, socket, head) {
      socket.on('error', (err) => logger.debug({ err }, 'proxied websocket error'));
      const sid = sidOf(req);
      const node = sid === null ? options.pick(avoidSet()) : sessionNode(sid);
      if (!node) {
        socket.end(
          sid === null ? 'HTTP/1.1 503 Service Unavailable\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\n\r\n',
        );
        return;
      }
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      proxy.ws(req, socket, head, { target: node.url }, (err) => avoid(node, err));
    },
    nodeLeft(nodeId) {
      for (const [sid, session] of sessions) if (session.nodeId === nodeId) sessions.delete(sid);
      avoided.delete(nodeId);
    },
    get sessions() {
      return sessions.size;
    },
    close() {
      clearInterval(sweeper);
      for (const socket of upgraded) socket.destroy();
      upgraded.clear();
      sessions.clear();
    },
  };
}
