// One NATS connection and the channels that use it: after a reconnect (to the
// same server or, in a cluster, another one) every channel sends again what its
// peer has not acknowledged.
import type { NatsConnection } from 'nats';
import type { FrameChannel } from './channel';
import { ResolvedNats, connectNats } from './options';

export class NatsHub {
  private readonly channels = new Set<FrameChannel>();
  private closed = false;
  /** Reconnects seen, for tests and logs. */
  reconnects = 0;

  private constructor(
    readonly nc: NatsConnection,
    readonly settings: ResolvedNats,
    private readonly onStatus?: (line: string) => void,
  ) {
    void this.watch();
  }

  static async connect(settings: ResolvedNats, onStatus?: (line: string) => void): Promise<NatsHub> {
    return new NatsHub(await connectNats(settings), settings, onStatus);
  }

  add(ch: FrameChannel): void {
    this.channels.add(ch);
  }

  remove(ch: FrameChannel): void {
    this.channels.delete(ch);
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.closed) return;
      if (s.type === 'reconnect') {
        this.reconnects++;
        this.onStatus?.(`reconnected to nats server ${String(s.data)}`);
        for (const ch of this.channels) ch.resend();
      } else if (s.type === 'disconnect') {
        this.onStatus?.(`lost nats server ${String(s.data)}; reconnecting`);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ch of this.channels) ch.stop();
    this.channels.clear();
    // drain() flushes what is still buffered (a last bye); a dead server makes it fail: close then.
    await Promise.race([this.nc.drain().catch(() => this.nc.close()), new Promise((r) => setTimeout(r, 2000).unref())]);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }
}
