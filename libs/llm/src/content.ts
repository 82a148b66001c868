// Anthropic-style content blocks: the one shape history takes in the database, in the model call and on the wire.
export interface TextBlock {
  type: 'text';
  text: string;
}

export interface ToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface ToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content: string;
  is_error?: boolean;
}

/** The model's reasoning, signed by the provider: sent back exactly as received, or the provider refuses it. */
export interface ThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature: string;
}

/** Reasoning the provider encrypted: opaque `data`, sent back exactly as received. */
export interface RedactedThinkingBlock {
  type: 'redacted_thinking';
  data: string;
}

/** Where an image or a document comes from: inline base64, or a URL the provider fetches itself. */
export type MediaSource = { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };

export interface ImageBlock {
  type: 'image';
  source: MediaSource;
}

/** A PDF. */
export interface DocumentBlock {
  type: 'document';
  source: MediaSource;
  title?: string;
}

export type ContentBlock =
  | TextBlock
  | ToolUseBlock
  | ToolResultBlock
  | ThinkingBlock
  | RedactedThinkingBlock
  | ImageBlock
  | DocumentBlock;

/** What a user may send as a message: text, images and documents. */
export type UserContentBlock = TextBlock | ImageBlock | DocumentBlock;
/** A user message as clients send it: a string, or content blocks. */
export type UserMessage = string | UserContentBlock[];

/** The blocks of a model's answer. */
export type AssistantBlock = TextBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock;

export type Role = 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string | ContentBlock[];
}

/** The text of a user message (its text blocks, joined), for titles, logs and the offline model. */
export function messageText(message: UserMessage): string {
  if (typeof message === 'string') return message;
  return message
    .filter((b): b is TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('\n');
}
