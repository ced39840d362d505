import { createMemoryCommandPath, createMemoryIngress, type MemoryIngressConsumer } from '@iocluster/shared';
import { describeTransportConformance } from '../support/transport-conformance.js';

describeTransportConformance('in memory', async () => {
  const ingress = createMemoryIngress({ leaseMs: 200, retryDelayMs: 20 });
  const path = createMemoryCommandPath();
  const consumers = new Set<MemoryIngressConsumer>();
  return {
    producer: () => ingress.producer(),
    consumer(concurrency) {
      const consumer = ingress.consumer({ concurrency });
      consumers.add(consumer);
      return consumer;
    },
    async kill(consumer) {
      const own = [...consumers].find((c) => c === consumer);
      if (!own) throw new Error('not a consumer of this harness');
      own.kill();
    },
    commands: () => path.transport(),
    subscriber: (nodeId) => path.subscriber(nodeId),
    async dropReader(nodeId) {
      path.cutOff(nodeId, true);
      // One turn of the event loop cut off: what is appended meanwhile waits in the inbox.
      await new Promise((resolve) => setImmediate(resolve));
      path.cutOff(nodeId, false);
    },
    replyInbox: (address) => path.replyInbox(address),
    async close() {},
  };
});
