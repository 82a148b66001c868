// Reads a text/event-stream response frame by frame, as the contract's SSE endpoints send it.
export interface SseFrame {
  id?: number;
  event?: string;
  data?: any;
  comment?: string;
}

/** Reads an SSE response frame by frame; a test reads some, stops, and may go on reading later. */
export class SseReader {
  readonly frames: SseFrame[] = [];
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = '';

  constructor(response: Response) {
    this.reader = response.body!.getReader();
  }

  /** The run events read so far (heartbeat comments left out). */
  get events(): Array<{ name: string; payload: any }> {
    return this.frames.filter((f) => f.event).map((f) => ({ name: f.event!, payload: f.data }));
  }

  /** The next frame, or undefined when the stream ended. */
  async next(): Promise<SseFrame | undefined> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const raw = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const frame: SseFrame = raw.startsWith(':')
          ? { comment: raw.slice(1).trim() }
          : {
              id: /^id: (.*)$/m.exec(raw) ? Number(/^id: (.*)$/m.exec(raw)![1]) : undefined,
              event: /^event: (.*)$/m.exec(raw)?.[1],
              data: /^data: (.*)$/m.test(raw) ? JSON.parse(/^data: (.*)$/m.exec(raw)![1]) : undefined,
            };
        this.frames.push(frame);
        return frame;
      }
      const { value, done } = await this.reader.read();
      if (done) return undefined;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** Reads until an event frame for which `predicate` holds; fails when the stream ends first. */
  async until(predicate: (frame: SseFrame) => boolean): Promise<SseFrame> {
    for (;;) {
      const frame = await this.next();
      if (!frame) throw new Error(`The stream ended; got: ${this.events.map((e) => e.name).join(', ')}`);
      if (frame.event && predicate(frame)) return frame;
    }
  }
}
