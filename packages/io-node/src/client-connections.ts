import {
  type ClientInfo,
  LIMITS_EVENT,
  type Logger,
  SERVER_ERROR_EVENT,
  userIdOf,
  userRoom,
} from '@iocluster/shared';
import type { Server, Socket } from 'socket.io';
import { createAdmission } from './admission.js';
import { attachGateway } from './client-gateway.js';
import { attachClientLimits } from './client-limits.js';
import type { EventSequencer } from './event-sequencer.js';
import { createHandshakeMiddleware } from './handshake.js';
import type { ResolvedIoNodeOptions } from './io-node-options.js';
import { createJwtVerifier, type VerifiedToken } from './jwt-auth.js';
import type { IoNodeMetrics } from './metrics.js';
import { createQueueGuard } from './queue-guard.js';
import type { ClientRecovery } from './recovery.js';
import { CLIENT_ROOM, listedRoom } from './room-delivery.js';
import { createTokenSessions } from './token-sessions.js';
import type { UserConnections } from './user-connections.js';

interface SocketState {
  user: unknown;
  handshake: ClientInfo['handshake'];
  release: () => void;
  /** The verified handshake token, watched for expiry once connected. */
  token: VerifiedToken | undefined;
  /** Why the node disconnected the client (TOKEN_EXPIRED...): the disconnect reason app-nodes see. */
  kickedFor?: string;
}

/** What the connection handling needs from the node. */
export interface ClientConnectionDeps {
  nodeId: string;
  options: ResolvedIoNodeOptions;
  metrics: IoNodeMetrics;
  logger: Logger;
  /** True while the node takes no clients (starting or closing): handshakes are refused NODE_CLOSING. */
  closing: () => boolean;
  sequencer: EventSequencer;
  recovery: ClientRecovery;
  /** Ingress jobs waiting now (for QUEUE_MAX_WAITING). */
  queueWaiting: () => Promise<number>;
  /** What app-nodes see of a socket changed outside a command (its user, after a token refresh). */
  stateChanged: (socket: Socket) => void;
  /** The cluster-wide count of each user's connections, when `maxConnectionsPerUser` is set. */
  users: UserConnections | undefined;
}

/** A handshake admitted whose connection never opened (the client went away meanwhile) gives its places back. */
const UNCONNECTED_RELEASE_MS = 30_000;

/** The io-node's client side: every handshake, every connection, and the limits they are held to. */
export interface ClientConnections {
  /** A client as app-nodes see it. */
  describe(socket: Socket): ClientInfo;
  /** What the handshake authenticated a socket as (null: anonymous). */
  userOf(socket: Socket): unknown;
  /** Tells the client why (`$error` with `code`), then disconnects it; app-nodes see `code` as the reason. */
  kick(socket: Socket, code: string, message: string): void;
  /** Starts reading the queue depth. */
  start(): void;
  /** Stops the limits' timers and the token watch. */
  close(): void;
}

/**
 * Wires Socket.IO's handshake and connection handling: admission (SERVER_FULL, per-address rate, bans),
 * JWT and the `authenticate` hook, recovery of a returning client, per-client limits, the event gateway
 * into the sequencer, and the disconnect that ends it all.
 */
export function attachClientConnections(io: Server, deps: ClientConnectionDeps): ClientConnections {
  const { nodeId, options: opts, metrics, logger, sequencer: seq, recovery: rec } = deps;
  const states = new WeakMap<Socket, SocketState>();
  const admission = createAdmission(opts);
  const verifier = opts.jwt ? createJwtVerifier(opts.jwt) : undefined;
  const tokens = verifier
    ? createTokenSessions({
        verifier,
        expiryNoticeMs: opts.jwt?.expiryNoticeMs ?? 30_000,
        logger,
        onRefreshed: (socket, claims) => {
          const state = states.get(socket);
          if (state && !opts.authenticate) {
            state.user = claims;
            deps.stateChanged(socket);
          }
        },
        onExpired: (socket) => kick(socket, 'TOKEN_EXPIRED', 'token expired and was not refreshed'),
      })
    : undefined;
  const queueGuard = createQueueGuard({
    waiting: () => deps.queueWaiting(),
    maxWaiting: opts.queueMaxWaiting,
    intervalMs: opts.queueCheckIntervalMs,
    logger,
  });

  function describe(socket: Socket): ClientInfo {
    const state = states.get(socket)!;
    const rooms: string[] = [];
    for (const room of socket.rooms) {
      if (listedRoom(room, socket.id)) rooms.push(room);
    }
    const info: ClientInfo = {
      id: socket.id,
      nodeId,
      data: socket.data,
      rooms,
      handshake: state.handshake,
      user: state.user,
    };
    const session = rec.sessionOf(socket);
    if (session) info.session = session;
    const origin = rec.originOf(socket);
    if (origin) info.origin = origin;
    return info;
  }

  /** Tells the client why (`$error`), then disconnects it; app-nodes see `code` as the reason. */
  function kick(socket: Socket, code: string, message: string): void {
    const state = states.get(socket);
    if (state) state.kickedFor = code;
    socket.emit(SERVER_ERROR_EVENT, { code, message });
    socket.disconnect(true);
  }

  const decide = createHandshakeMiddleware(
    { admission, verifier, authenticate: opts.authenticate, closing: deps.closing, logger },
    async (socket, client) => {
      const userId = userIdOf(client.user);
      // A place taken here goes back if the recovery step below throws, else with `release` when the
      // connection ends (or never opens: the timer below).
      if (userId !== undefined) await deps.users?.admit(socket.id, userId);
      const release = () => {
        client.release();
        deps.users?.release(socket.id);
      };
      states.set(socket, { user: client.user, handshake: client.handshake, release, token: client.token });
      socket.data = {};
      try {
        await rec.handshake(socket, client.user);
      } catch (err) {
        deps.users?.release(socket.id);
        throw err;
      }
      setTimeout(() => {
        if (!socket.connected) release();
      }, UNCONNECTED_RELEASE_MS).unref();
    },
  );
  // Every refusal is counted by its code (what `connect_error` carries as `data.code`).
  io.use((socket, next) =>
    decide(socket, (err) => {
      if (err) metrics.handshakeRefused((err as { data?: { code?: unknown } }).data?.code);
      next(err);
    }),
  );

  io.on('connection', (socket) => {
    const recovered = rec.connected(socket);
    // Every connection of a user is in its user's room (a recovered one too: its rooms were just restored).
    const userId = userIdOf(states.get(socket)?.user);
    if (userId !== undefined) void socket.join(userRoom(userId));
    // Clients of @iocluster/client pace their emits to it: a queue sent after a reconnect, above all.
    if (socket.rooms.has(CLIENT_ROOM) && opts.clientEventRate > 0) {
      socket.emit(LIMITS_EVENT, { eventRate: opts.clientEventRate, eventBurst: opts.clientEventBurst });
    }
    seq.open(socket.id, () => describe(socket), recovered);
    metrics.event('connect');
    void rec.replay(socket);
    const guard = attachClientLimits(socket, {
      eventRate: opts.clientEventRate,
      eventBurst: opts.clientEventBurst,
      disconnectAfter: opts.clientRateDisconnectAfter,
      maxPayloadBytes: opts.maxPayloadBytes,
      onAbuse: (abuser) => {
        const subject = states.get(abuser)?.token?.claims.sub;
        const { address } = abuser.handshake;
        logger.warn({ clientId: abuser.id, address, subject }, 'client kept flooding; disconnected');
        // Coming straight back must not buy a fresh burst.
        admission.ban(subject !== undefined ? `sub:${subject}` : `ip:${address}`);
        kick(abuser, 'RATE_LIMITED', 'too many events refused for rate; disconnected');
      },
    });
    attachGateway(socket, {
      sequencer: seq,
      guard,
      queue: queueGuard,
      tokens,
      unwrap: rec.unwrap,
      accepted: () => metrics.event('event'),
      refused: (code) => metrics.eventRefused(code),
    });
    const token = states.get(socket)?.token;
    if (token) tokens?.track(socket, token);
    socket.on('disconnecting', (reason) => {
      const state = states.get(socket);
      state?.release();
      tokens?.untrack(socket);
      seq.end(socket.id, state?.kickedFor ?? reason, describe(socket));
      metrics.event('disconnect');
    });
    socket.on('disconnect', (reason) => rec.disconnected(socket, reason));
  });

  return {
    describe,
    userOf: (socket) => states.get(socket)?.user ?? null,
    kick,
    start: () => queueGuard.start(),
    close() {
      admission.close();
      queueGuard.close();
      tokens?.close();
    },
  };
}
