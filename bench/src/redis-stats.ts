import { parseInfo, redisCommand } from '@iocluster/devkit';

/** What Redis did over one step: calls and CPU per command, bytes in and out. */
export interface RedisStepStats {
  /**
   * Calls by command name (lower case, as `INFO commandstats` names them: `xadd`, `evalsha`...),
   * including the commands Lua scripts ran (BullMQ's `evalsha` shows up as its `hmget`, `rpoplpush`...).
   */
  calls: Record<string, number>;
  /** Microseconds Redis spent executing each command. */
  usec: Record<string, number>;
  totalCalls: number;
  /** Bytes Redis read from and wrote to its clients. */
  netInputBytes: number;
  netOutputBytes: number;
}

/**
 * Counts Redis commands over a step: `CONFIG RESETSTAT` at the start, `INFO commandstats` + `INFO stats`
 * at the end. The benchmark's Redis is private, so everything counted is the system's (the meter's own
 * INFO calls are left out).
 */
export class RedisMeter {
  constructor(private readonly url: string) {}

  async begin(): Promise<void> {
    await redisCommand(this.url, ['CONFIG', 'RESETSTAT']);
  }

  async end(): Promise<RedisStepStats> {
    const commandstats = parseInfo(await redisCommand(this.url, ['INFO', 'commandstats']));
    const stats = parseInfo(await redisCommand(this.url, ['INFO', 'stats']));
    const calls: Record<string, number> = {};
    const usec: Record<string, number> = {};
    let totalCalls = 0;
    for (const [field, value] of commandstats) {
      if (!field.startsWith('cmdstat_')) continue;
      const name = field.slice('cmdstat_'.length);
      if (name === 'info' || name.startsWith('config')) continue;
      const parsed = new Map(value.split(',').map((kv) => kv.split('=') as [string, string]));
      const n = Number(parsed.get('calls') ?? 0);
      calls[name] = n;
      usec[name] = Number(parsed.get('usec') ?? 0);
      totalCalls += n;
    }
    return {
      calls,
      usec,
      totalCalls,
      netInputBytes: Number(stats.get('total_net_input_bytes') ?? 0),
      netOutputBytes: Number(stats.get('total_net_output_bytes') ?? 0),
    };
  }
}
