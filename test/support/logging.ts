import { createLogger, type Logger } from '@iocluster/shared';

/**
 * `{ logger }` at `TEST_LOG_LEVEL` for in-process nodes when that variable is set (`info` shows what they
 * log about a failover), else `{}` (the nodes stay silent). pino refuses an unknown level by name.
 */
export function testLogger(): { logger?: Logger } {
  const level = process.env.TEST_LOG_LEVEL;
  if (!level) return {};
  const logger = createLogger();
  logger.level = level;
  return { logger };
}
