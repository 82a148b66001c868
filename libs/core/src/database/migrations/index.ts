// Every migration, in order. Listed explicitly so the app, the CLI and the tests run the same set.
import { ConversationHistory1764000000000 } from './1764000000000-ConversationHistory';
import { DemoData1764000000100 } from './1764000000100-DemoData';
import { ApiKeys1764000000200 } from './1764000000200-ApiKeys';
import { BackgroundTasks1764000000300 } from './1764000000300-BackgroundTasks';
import { ProviderControls1764000000500 } from './1764000000500-ProviderControls';
import { Runs1765000000100 } from './1765000000100-Runs';
import { WebhookOutbox1765000000200 } from './1765000000200-WebhookOutbox';
import { TenantScopedDemoData1765000000300 } from './1765000000300-TenantScopedDemoData';
import { BilledCallsAndFencing1765000000400 } from './1765000000400-BilledCallsAndFencing';
import { RunJournal1765000000500 } from './1765000000500-RunJournal';
import { Approvals1765000000600 } from './1765000000600-Approvals';
import { ConversationContext1765000000700 } from './1765000000700-ConversationContext';
import { MessageContentBlocks1765000000800 } from './1765000000800-MessageContentBlocks';
import { StoredAgents1765000000900 } from './1765000000900-StoredAgents';
import { McpServers1765000001000 } from './1765000001000-McpServers';

export const MIGRATIONS = [
  ConversationHistory1764000000000,
  DemoData1764000000100,
  ApiKeys1764000000200,
  BackgroundTasks1764000000300,
  ProviderControls1764000000500,
  Runs1765000000100,
  WebhookOutbox1765000000200,
  TenantScopedDemoData1765000000300,
  BilledCallsAndFencing1765000000400,
  RunJournal1765000000500,
  Approvals1765000000600,
  ConversationContext1765000000700,
  MessageContentBlocks1765000000800,
  StoredAgents1765000000900,
  McpServers1765000001000,
];
