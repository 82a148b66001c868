// The id port: injected so tests can make ids predictable without patching crypto.
import { randomUUID } from 'node:crypto';

export abstract class IdGenerator {
  abstract uuid(): string;
}

export class RandomIdGenerator extends IdGenerator {
  uuid(): string {
    return randomUUID();
  }
}
