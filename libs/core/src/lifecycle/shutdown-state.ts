// Whether this process is draining for a shutdown (SIGTERM): readiness answers 503 and no new turn starts, while
// the running ones finish. Set once by the process's shutdown sequence; read by whatever admits new work.
import { Injectable } from '@nestjs/common';

@Injectable()
export class ShutdownState {
  private since: Date | null = null;

  get draining(): boolean {
    return this.since !== null;
  }

  /** When the drain began, or null while the process serves normally. */
  get drainingSince(): Date | null {
    return this.since;
  }

  begin(): void {
    this.since ??= new Date();
  }
}
