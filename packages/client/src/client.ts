import {
  CHANNEL_MESSAGE_EVENT,
  LIMITS_EVENT,
  SERVER_ERROR_EVENT,
  SUBSCRIBE_EVENT,
  TOKEN_EXPIRING_EVENT,
} from '@iocluster/shared/protocol';
import type { Socket } from 'socket.io-client';
import { retryDelayMs, sleep } from './backoff.js';
import { type ChannelListener, ClientChannels } from './client-channels.js';
import { type ClientOptions, type ResolvedOptions, resolveClientOptions } from './client-options.js';
import { discoverNode } from './discovery.js';
import { authRefusal, ClientError } from './errors.js';
import {
  type AckResult,
  type ClientLifecycleEvents,
  type DefaultEventsMap,
  type EventNames,
  type EventParams,
  LIFECYCLE_EVENTS,
  type Listener,
  type NodeTarget,
  type ParamsBeforeAck,
  type ReconnectReason,
} from './events.js';
import { openSocket } from './open-socket.js';
import { createPendingAck, Outbox, type Outgoing } from './outbox.js';
import { Pacer } from './pacer.js';
import { RecoveryState } from './recovery-state.js';
import { freshToken, handshakeAuth, TokenRefresher } from './token-refresh.js';

/** Where the client is in its life. */
export type ClientState = 'idle' | 'connecting' | 'connected' | 'closed';

type AnyHandler = (...args: never[]) => unknown;

/** The `nodeId` a client reports when it connects through the frontend's proxy. */
export const PROXY_NODE_ID = 'frontend-proxy';

/**
 * A Socket.IO client for an iocluster: asks the frontend for an io-node, connects, and when that node goes
 * away (a disconnect it did not ask for, or a refused connection) asks again and connects to another live
 * node, with backoff and a bounded number of attempts per cycle. Emits made while (re)connecting are
 * queued and sent in order once connected. Listeners registered with `on` survive node changes.
 *
 * It restores no server-side state by itself (rooms, nicknames): the application does, e.g. in a
 * `connected` listener (emits made there are sent before the queued ones) or in the server's
 * `connection` handler from the handshake `auth`. With `recovery` (the default) the cluster does it: after
 * a reconnection within its recovery window, to any io-node, rooms, data and missed room messages come
 * back and unanswered events are sent again (see `recovered` and docs/recovery.md).
 *
 * @typeParam ServerEvents - events the server sends (name → listener signature)
 * @typeParam ClientEvents - events the client sends; for acknowledged ones the last parameter is the ack
 */
export class IoclusterClient<
  ServerEvents extends object = DefaultEventsMap,
  ClientEvents extends object = DefaultEventsMap,
> {
  private readonly opts: ResolvedOptions;
  private readonly lifecycle = new Map<string, Set<AnyHandler>>();
  private readonly listeners = new Map<string, Set<AnyHandler>>();
  private readonly outbox: Outbox;
  /** The node's per-client rate limit (`$limits`), which emits wait for. */
  private readonly pacer = new Pacer();
  private readonly recovery: RecoveryState | undefined;
  /** Nodes that failed us since the last good connection: discovery steers away from them. */
  private readonly avoid = new Set<string>();
  private current: Socket | undefined;
  private target: NodeTarget | undefined;
  private previousNodeId: string | undefined;
  private attempt = 0;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private cycle: AbortController | undefined;
  private status: ClientState = 'idle';
  /** The code of the server's last `$error` (why it is about to disconnect us). */
  private kickedFor: string | undefined;
  /** Answers the server's `$token:expiring`, one refresh at a time. */
  private readonly refresher: TokenRefresher | undefined;
  private readonly channels = new ClientChannels((event, ...args) =>
    (this.emitWithAck as (e: string, ...a: unknown[]) => Promise<unknown>)(event, ...args),
  );

  constructor(options: ClientOptions) {
    this.opts = resolveClientOptions(options);
    this.recovery = this.opts.recovery ? new RecoveryState() : undefined;
    const recovery = this.recovery;
    this.outbox = new Outbox(this.opts.maxQueued, recovery && { next: () => recovery.eid() }, this.pacer);
    this.refresher = this.opts.getToken ? new TokenRefresher(this.opts.getToken) : undefined;
    if (this.opts.autoConnect) this.connect();
  }

  /** `connected` once a node accepted the client; `connecting` while looking for one. */
  get state(): ClientState {
    return this.status;
  }

  /** Whether events are sent now rather than queued. */
  get connected(): boolean {
    return this.status === 'connected';
  }

  /** Id of the io-node the client is (or was last) connected to. */
  get nodeId(): string | undefined {
    return this.target?.nodeId;
  }

  /** URL of the io-node the client is (or was last) connected to. */
  get url(): string | undefined {
    return this.target?.url;
  }

  /** Socket id of the current connection (a new one after every reconnection). */
  get id(): string | undefined {
    return this.current?.id;
  }

  /** The underlying socket.io-client socket while connected; it is replaced on every node change. */
  get socket(): Socket | undefined {
    return this.current;
  }

  /** Emits waiting for a connection. */
  get queued(): number {
    return this.outbox.queued;
  }

  /**
   * The last position received in a room that keeps history (with `recovery`): where a recovery, or an
   * application's own `$history` request, goes on from.
   */
  position(room: string): { epoch: string; offset: number } | undefined {
    return this.recovery?.position(room);
  }

  /** Starts connecting, if not connected or connecting already (after `autoConnect: false` or `unavailable`). */
  connect(): this {
    if (this.status === 'closed') throw new ClientError('CLOSED', 'the client is closed');
    if (this.status === 'idle') void this.run(undefined);
    return this;
  }

  /** Listens to a client lifecycle event. Returns a function that removes the listener. */
  on<E extends keyof ClientLifecycleEvents>(event: E, handler: ClientLifecycleEvents[E]): () => void;
  /** Listens to a server event, on whichever node the client is connected to. Returns a remover. */
  on<E extends EventNames<ServerEvents>>(event: E, handler: Listener<ServerEvents, E>): () => void;
  on(event: string, handler: AnyHandler): () => void {
    if (typeof handler !== 'function')
      throw new TypeError(`client.on("${event}"): handler must be a function`);
    const table = LIFECYCLE_EVENTS.has(event) ? this.lifecycle : this.listeners;
    const set = table.get(event) ?? new Set<AnyHandler>();
    table.set(event, set);
    set.add(handler);
    return () => this.off(event as EventNames<ServerEvents>, handler as Listener<ServerEvents, never>);
  }

  /** Removes a listener added with `on` (lifecycle or server event). */
  off<E extends keyof ClientLifecycleEvents>(event: E, handler: ClientLifecycleEvents[E]): void;
  off<E extends EventNames<ServerEvents>>(event: E, handler: Listener<ServerEvents, E>): void;
  off(event: string, handler: AnyHandler): void {
    const table = LIFECYCLE_EVENTS.has(event) ? this.lifecycle : this.listeners;
    table.get(event)?.delete(handler);
  }

  /**
   * Sends an event; queued while (re)connecting or while earlier emits wait for the node's rate limit
   * (`$limits`). A trailing function is a plain Socket.IO ack callback:
   * it is not called if the connection drops first (use `emitWithAck` to learn about that).
   * @throws {@link ClientError} `QUEUE_FULL` when `maxQueued` emits already wait, `CLOSED` after `close()`
   */
  emit<E extends EventNames<ClientEvents>>(event: E, ...args: EventParams<ClientEvents, E>): this {
    this.assertOpen();
    const list = [...(args as unknown[])];
    const callback =
      typeof list[list.length - 1] === 'function'
        ? (list.pop() as (...results: unknown[]) => void)
        : undefined;
    this.push(callback ? { event, args: list, callback } : { event, args: list });
    return this;
  }

  /**
   * Sends an event and resolves with the server's answer (an iocluster handler's return value, or its
   * `{ error: { code, message } }`). Queued while (re)connecting or while earlier emits wait for the
   * node's rate limit.
   * Rejects with a {@link ClientError}: `DISCONNECTED` if the connection dropped after it was sent (the
   * server may or may not have handled it), `TIMEOUT` after `ackTimeoutMs`, `QUEUE_FULL`, `CLOSED`.
   */
  emitWithAck<E extends EventNames<ClientEvents>>(
    event: E,
    ...args: ParamsBeforeAck<EventParams<ClientEvents, E>>
  ): Promise<AckResult<EventParams<ClientEvents, E>>> {
    try {
      this.assertOpen();
      // Queued: while (re)connecting, or behind emits waiting for the node's rate limit.
      if (this.status !== 'connected' || this.outbox.queued > 0) this.outbox.assertRoom();
    } catch (err) {
      return Promise.reject(err);
    }
    const { pending, promise } = createPendingAck(event, this.opts.ackTimeoutMs, (settled) =>
      this.outbox.settled(settled),
    );
    this.push({ event, args: [...(args as unknown[])], pending });
    return promise as Promise<AckResult<EventParams<ClientEvents, E>>>;
  }

  /**
   * Subscribes to a client channel (`$subscribe`); resolves once the server's authorizers allowed it,
   * rejects with `REFUSED` (`serverCode` FORBIDDEN...) otherwise. Messages published on it reach
   * `listener`; the subscription is renewed on every new connection. Queued while (re)connecting.
   */
  subscribe(channel: string, listener: ChannelListener): Promise<void> {
    return this.channels.subscribe(channel, listener);
  }

  /**
   * Sends a fresh token from `getToken` now (`$token:refresh`) instead of waiting for the server's
   * notice: after a login change, say. Joins the refresh under way, if there is one. Rejects with
   * `REFUSED` (`serverCode`) when the server refuses it.
   */
  refreshToken(): Promise<void> {
    const socket = this.current;
    if (!this.refresher) return Promise.reject(new TypeError('refreshToken() needs the getToken option'));
    if (!socket)
      return Promise.reject(
        new ClientError('DISCONNECTED', 'not connected; the next connection sends a fresh token'),
      );
    return this.refresher.refresh(socket);
  }

  /** Leaves a channel; its listeners are removed at once. */
  unsubscribe(channel: string): Promise<void> {
    return this.channels.unsubscribe(channel);
  }

  /** Publishes on a channel (`$publish`); rejects with `REFUSED` when the server's authorizers refuse it. */
  publish(channel: string, data: unknown): Promise<void> {
    return this.channels.publish(channel, data);
  }

  /**
   * Disconnects and stops reconnecting; queued and unanswered `emitWithAck`s reject with `CLOSED`.
   * Idempotent.
   */
  close(): Promise<void> {
    if (this.status === 'closed') return Promise.resolve();
    this.status = 'closed';
    this.cycle?.abort();
    this.cycle = undefined;
    clearTimeout(this.stableTimer);
    const socket = this.current;
    this.current = undefined;
    if (socket) {
      socket.off('disconnect');
      socket.disconnect();
    }
    this.outbox.rejectAll(new ClientError('CLOSED', 'the client was closed'), true);
    return Promise.resolve();
  }

  private assertOpen(): void {
    if (this.status === 'closed') throw new ClientError('CLOSED', 'the client is closed');
  }

  private push(item: Outgoing): void {
    this.outbox.push(this.status === 'connected' ? this.current : undefined, item);
  }

  /** One connection cycle: discover, connect, retry with backoff; returns once connected or stopped. */
  private async run(reason: ReconnectReason | undefined): Promise<void> {
    this.cycle?.abort();
    const cycle = new AbortController();
    this.cycle = cycle;
    const { signal } = cycle;
    this.status = 'connecting';
    let why = reason;
    let lastError: unknown;
    /** A token `getToken` gave after a refusal, for the next handshake. */
    let token: string | undefined;
    while (!signal.aborted) {
      if (this.attempt >= this.opts.maxAttempts) {
        const error = new ClientError(
          'UNAVAILABLE',
          `no io-node reached after ${this.attempt} attempts: ${errorMessage(lastError)}`,
          { cause: lastError },
        );
        this.attempt = 0;
        this.avoid.clear();
        this.fire('unavailable', error);
        if (!this.opts.retryForever) {
          this.outbox.rejectAll(error, false);
          return this.stop();
        }
        await sleep(this.opts.cyclePauseMs, signal);
        continue;
      }
      this.attempt++;
      if (why !== undefined) {
        const delayMs = retryDelayMs(this.attempt, this.opts.backoffMinMs, this.opts.backoffMaxMs);
        this.fire('reconnecting', this.attempt, why, delayMs);
        await sleep(delayMs, signal);
        if (signal.aborted) return;
      }
      let target: NodeTarget | undefined;
      let sentToken: unknown;
      try {
        target = this.opts.proxy
          ? { nodeId: PROXY_NODE_ID, url: this.opts.frontendUrl }
          : await discoverNode(
              {
                frontendUrl: this.opts.frontendUrl,
                strategy: this.opts.strategy,
                timeoutMs: this.opts.connectTimeoutMs,
                fetch: this.opts.fetch,
              },
              this.avoid,
              signal,
            );
        if (signal.aborted) return;
        const base = await handshakeAuth(this.opts.socketOptions.auth, this.opts.getToken, token);
        token = undefined;
        sentToken = base?.token;
        const auth = this.recovery ? { ...base, iocluster: this.recovery.handshake() } : base;
        if (signal.aborted) return;
        await this.open(target, signal, auth);
        return;
      } catch (err) {
        if (signal.aborted) return;
        lastError = err;
        const refusal = authRefusal(err);
        if (refusal) {
          // Retrying with the refused credentials cannot help: only with a different token, if any.
          lastError = refusal;
          token = await this.refused(refusal, sentToken);
          if (signal.aborted) return;
          if (token === undefined) return this.stop();
          why = 'unauthorized';
          continue;
        }
        const connectFailed = err instanceof ClientError && err.code === 'CONNECT_FAILED';
        if (connectFailed && target && !this.opts.proxy) this.avoid.add(target.nodeId);
        why = connectFailed ? 'connect_error' : 'discovery';
      }
    }
  }

  /** Ends the connection cycle without a connection: `idle` until `connect()`. */
  private stop(): void {
    this.status = 'idle';
    this.cycle = undefined;
    this.attempt = 0;
  }

  /**
   * The io-node refused the handshake's credentials: everything waiting rejects with the refusal, and a
   * different token from `getToken` is asked for. Returns it, or undefined: the client then stops.
   */
  private async refused(error: ClientError, sent: unknown): Promise<string | undefined> {
    this.outbox.rejectAll(error, true);
    const token = await freshToken(this.opts.getToken, sent);
    this.fire('unauthorized', error, token !== undefined);
    return token;
  }

  /** Connects to one node and adopts the socket; rejects on refusal. */
  private async open(
    target: NodeTarget,
    signal: AbortSignal,
    auth: Record<string, unknown> | undefined,
  ): Promise<void> {
    const socket = await openSocket({
      target,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      socketOptions: this.opts.socketOptions,
      auth,
      signal,
      onEvent: (from, event, args) => this.onServerEvent(from, event, args),
    });
    this.adopt(socket, target);
  }

  /** Reserved events (`$message`, `$token:expiring`, `$error`) are the client's; the rest go to listeners. */
  private onServerEvent(socket: Socket, raw: string, rawArgs: unknown[]): void {
    let event = raw;
    let args = rawArgs;
    if (this.recovery) {
      const incoming = this.recovery.receive(raw, rawArgs);
      if (incoming.kind === 'internal') return;
      if (incoming.kind === 'recovered') {
        this.fire('recovered', incoming.report);
        return;
      }
      ({ event, args } = incoming);
    }
    if (event === CHANNEL_MESSAGE_EVENT && this.channels.deliver(args[0])) return;
    if (event === LIMITS_EVENT) {
      this.pacer.set(args[0]);
      return;
    }
    if (event === TOKEN_EXPIRING_EVENT && this.refresher) {
      this.refresher.refresh(socket).catch((err: Error) => this.fire('token-refresh-failed', err));
      return;
    }
    if (event === SERVER_ERROR_EVENT) {
      const code = (args[0] as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && socket === this.current) this.kickedFor = code;
      return;
    }
    this.dispatch(this.listeners, event, args);
  }

  private adopt(socket: Socket, target: NodeTarget): void {
    this.current = socket;
    this.target = target;
    this.status = 'connected';
    this.cycle = undefined;
    this.avoid.clear();
    const previous = this.previousNodeId;
    this.previousNodeId = target.nodeId;
    clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.attempt = 0;
    }, this.opts.stableAfterMs);
    socket.on('disconnect', (reason: string) => this.lost(socket, reason));
    // Listeners of these events run first, so what they emit (re-joining rooms, say) precedes the queue.
    this.fire('connected', target.nodeId, target.url);
    if (previous !== undefined && previous !== target.nodeId)
      this.fire('node-changed', previous, target.nodeId);
    if (this.current !== socket) return;
    // Accepted subscriptions are named again first (a new node knows none); a refusal now goes unheard.
    for (const channel of this.channels.accepted)
      this.outbox.push(socket, { event: SUBSCRIBE_EVENT, args: [channel] });
    this.outbox.flush(socket);
  }

  private lost(socket: Socket, reason: string): void {
    if (socket !== this.current) return;
    this.current = undefined;
    clearTimeout(this.stableTimer);
    this.outbox.dropped(
      new ClientError('DISCONNECTED', `connection to ${this.target?.nodeId} lost (${reason})`),
    );
    if (this.target && !this.opts.proxy) this.avoid.add(this.target.nodeId);
    this.status = 'connecting';
    const code = this.kickedFor;
    this.kickedFor = undefined;
    if (code === undefined) this.fire('disconnected', reason);
    else this.fire('disconnected', reason, code);
    if (this.status === 'connecting' && !this.cycle) void this.run('disconnect');
  }

  private fire<E extends keyof ClientLifecycleEvents>(
    event: E,
    ...args: Parameters<ClientLifecycleEvents[E]>
  ): void {
    this.dispatch(this.lifecycle, event, args);
  }

  private dispatch(table: Map<string, Set<AnyHandler>>, event: string, args: unknown[]): void {
    const set = table.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as (...a: unknown[]) => unknown)(...args);
      } catch (err) {
        // A listener's bug must not break reconnection; report it as the uncaught error it is.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/**
 * Creates a client and (unless `autoConnect: false`) starts connecting through the frontend.
 *
 * ```ts
 * const client = createClient<ServerEvents, ClientEvents>({ frontendUrl: location.origin });
 * client.on('connected', (nodeId) => show(nodeId));
 * client.on('chat message', (msg) => render(msg));
 * const { history } = await client.emitWithAck('join', 'lobby');
 * ```
 */
export function createClient<
  ServerEvents extends object = DefaultEventsMap,
  ClientEvents extends object = DefaultEventsMap,
>(options: ClientOptions): IoclusterClient<ServerEvents, ClientEvents> {
  return new IoclusterClient<ServerEvents, ClientEvents>(options);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
