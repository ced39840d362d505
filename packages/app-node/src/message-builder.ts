import type { CommandPublisher } from '@iocluster/shared';
import { BroadcastOperator } from './broadcast.js';

/**
 * The 2011 design's message builder, kept for its users:
 * `message().setType('chat').setData(msg).forChannel('lobby').exceptClient(id).send()`.
 * `forClient` and `forChannel` add targets; `forAll` targets everyone; with no target `send` throws.
 */
export class MessageBuilder {
  private type: string | undefined;
  private data: unknown;
  private readonly targets: string[] = [];
  private readonly excluded: string[] = [];
  private all = false;

  constructor(private readonly publisher: CommandPublisher) {}

  /** Event name the clients receive. */
  setType(type: string): this {
    this.type = type;
    return this;
  }

  /** The event's single argument. */
  setData(data: unknown): this {
    this.data = data;
    return this;
  }

  /** Adds one client (by socket id) to the recipients. */
  forClient(socketId: string): this {
    this.targets.push(socketId);
    return this;
  }

  /** Adds the members of a room (channel) to the recipients. */
  forChannel(channel: string): this {
    this.targets.push(channel);
    return this;
  }

  /** Sends to every client. */
  forAll(): this {
    this.all = true;
    return this;
  }

  /** Leaves one client out. */
  exceptClient(socketId: string): this {
    this.excluded.push(socketId);
    return this;
  }

  send(): void {
    if (this.type === undefined) throw new TypeError('message(): setType() must be called before send()');
    if (!this.all && this.targets.length === 0) {
      throw new TypeError('message(): call forClient(), forChannel() or forAll() before send()');
    }
    let operator = new BroadcastOperator(this.publisher);
    if (!this.all) operator = operator.to(this.targets);
    if (this.excluded.length > 0) operator = operator.except(this.excluded);
    operator.emit(this.type, this.data);
  }
}
