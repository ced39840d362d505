import { fileURLToPath } from 'node:url';
import { type BenchChild, forkReady } from './child.js';
import type {
  ClientPlan,
  ConnectResult,
  GeneratorRequest,
  GeneratorResponse,
  StepResult,
} from './generator-protocol.js';

const GENERATOR_MODULE = fileURLToPath(new URL('./load-generator.js', import.meta.url));

type RequestBody<T extends GeneratorRequest['type']> = Omit<
  Extract<GeneratorRequest, { type: T }>,
  'id' | 'type'
>;

/** The load generator processes and the requests the benchmark sends them. */
export class GeneratorPool {
  private nextId = 1;

  private constructor(readonly children: BenchChild[]) {}

  static async start(count: number): Promise<GeneratorPool> {
    const children = await Promise.all(
      Array.from({ length: count }, (_, index) =>
        forkReady({ label: `gen-${index}`, module: GENERATOR_MODULE, env: { GEN_INDEX: String(index) } }),
      ),
    );
    return new GeneratorPool(children);
  }

  get size(): number {
    return this.children.length;
  }

  /** Connects (and joins) each generator's clients; `plans[i]` goes to generator i. */
  connect(plans: ClientPlan[][], concurrency: number, timeoutMs: number): Promise<ConnectResult[]> {
    return Promise.all(
      this.children.map((child, i) =>
        this.request<ConnectResult>(
          child,
          'connect',
          { clients: plans[i] ?? [], concurrency, timeoutMs },
          timeoutMs + 5_000,
        ),
      ),
    );
  }

  /** Runs one step on every generator at once (`counts[i]` messages on generator i); resolves with each result. */
  step(body: Omit<RequestBody<'step'>, 'phase' | 'count'> & { counts: number[] }): Promise<StepResult[]> {
    const { counts, ...rest } = body;
    const timeoutMs = body.startAt - Date.now() + body.durationMs + body.drainMs + 30_000;
    return Promise.all(
      this.children.map((child, i) =>
        this.request<StepResult>(
          child,
          'step',
          { ...rest, count: counts[i] ?? 0, phase: i / this.children.length },
          timeoutMs,
        ),
      ),
    );
  }

  async disconnect(): Promise<void> {
    await Promise.all(this.children.map((child) => this.request(child, 'disconnect', {}, 30_000)));
  }

  /** Asks every generator to close its clients and exit; kills any that does not. Idempotent. */
  async close(): Promise<void> {
    await Promise.allSettled(
      this.children.map(async (gen) => {
        if (gen.child.connected) await this.request(gen, 'exit', {}, 10_000).catch(() => undefined);
        await gen.stop(5_000);
      }),
    );
  }

  private request<R>(
    gen: BenchChild,
    type: GeneratorRequest['type'],
    body: object,
    timeoutMs: number,
  ): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${gen.label}: no answer to "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (message: GeneratorResponse) => {
        if (message?.id !== id) return;
        cleanup();
        if (message.type === 'ok') resolve(message.result as R);
        else reject(new Error(`${gen.label}: ${type} failed: ${message.message}`));
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`${gen.label} exited (${code}) during "${type}":\n${gen.tail()}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        gen.child.off('message', onMessage);
        gen.child.off('exit', onExit);
      };
      gen.child.on('message', onMessage);
      gen.child.once('exit', onExit);
      gen.child.send({ type, id, ...body } as GeneratorRequest);
    });
  }
}
