import { PUBLISH_EVENT, SUBSCRIBE_EVENT, UNSUBSCRIBE_EVENT } from '@iocluster/shared/protocol';
import { ClientError } from './errors.js';

/** Receives a channel's messages: the data a publisher sent (or an authorizer rewrote). */
export type ChannelListener = (data: unknown) => void;

/** How the channel set sends its reserved events: the client's queued `emitWithAck`. */
export type AckedEmit = (event: string, ...args: unknown[]) => Promise<unknown>;

/**
 * The client's channel subscriptions (reserved events `$subscribe`, `$unsubscribe`, `$publish`, and
 * `$message` from the server). Subscriptions outlive node changes: `resubscribe` names them again on
 * every new connection, before queued emits go out.
 */
export class ClientChannels {
  private readonly subscribed = new Map<string, Set<ChannelListener>>();
  /** Channels the server accepted: these are named again on a new connection. */
  private readonly confirmed = new Set<string>();

  constructor(private readonly emit: AckedEmit) {}

  /** Channels the server accepted, to subscribe again on a new connection. */
  get accepted(): string[] {
    return [...this.confirmed];
  }

  async subscribe(channel: string, listener: ChannelListener): Promise<void> {
    const listeners = this.subscribed.get(channel) ?? new Set<ChannelListener>();
    const first = listeners.size === 0;
    listeners.add(listener);
    this.subscribed.set(channel, listeners);
    if (!first) return;
    try {
      refused(await this.emit(SUBSCRIBE_EVENT, channel), `subscribe to "${channel}"`);
      if (this.subscribed.has(channel)) this.confirmed.add(channel);
    } catch (err) {
      this.subscribed.delete(channel);
      throw err;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.subscribed.delete(channel)) return;
    this.confirmed.delete(channel);
    refused(await this.emit(UNSUBSCRIBE_EVENT, channel), `unsubscribe from "${channel}"`);
  }

  async publish(channel: string, data: unknown): Promise<void> {
    refused(await this.emit(PUBLISH_EVENT, channel, data), `publish on "${channel}"`);
  }

  /** Hands a `$message` to the channel's listeners; returns false for payloads that are not one. */
  deliver(payload: unknown): boolean {
    const message = payload as { channel?: unknown; data?: unknown } | null;
    if (typeof message?.channel !== 'string') return false;
    for (const listener of [...(this.subscribed.get(message.channel) ?? [])]) listener(message.data);
    return true;
  }
}

function refused(answer: unknown, what: string): void {
  const error = (answer as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!error) return;
  const code = typeof error.code === 'string' ? error.code : 'UNKNOWN';
  throw new ClientError('REFUSED', `${what} refused: ${code} ${String(error.message ?? '')}`.trim(), {
    serverCode: code,
  });
}
