// Every migration, in order. Listed explicitly so the app, the CLI and the tests run the same set.
import { ConversationHistory1764000000000 } from './1764000000000-ConversationHistory';
import { DemoData1764000000100 } from './1764000000100-DemoData';

export const MIGRATIONS = [ConversationHistory1764000000000, DemoData1764000000100];
