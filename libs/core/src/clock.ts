// The clock port: injected so tests can pin time through Nest's testing module instead of patching globals.
export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}
