// Chat: the conversation list, a new conversation with a chosen agent, the transcript with tool cards, and the
// turn in progress streamed over Socket.IO (resumed after a reload or reconnect from the last seq seen).
import { FormEvent, KeyboardEvent, useCallback, useEffect, useRef, useState } from 'react';
import type { Session } from '../App';
import { navigate } from '../App';
import {
  applyEvent,
  emptyStream,
  LiveTurn,
  STREAM_EVENTS,
  StreamEventName,
  StreamState,
  TurnStats,
} from '../live-turn';
import { loadStream, loadTurnStats, saveStream, saveTurnStats } from '../session';
import { emitAck, joinConversation } from '../socket';
import type { ContentBlock, ConversationDetail, ConversationPage, Message } from '../types';
import { ToolCard } from '../components/ToolCard';
import { ApprovalCard } from '../components/ApprovalCard';
import { count, errorText, ErrorLine, usd, when } from '../components/common';

const PAGE_SIZE = 20;
const STRATEGIES = [
  { value: '', label: 'Wait for it (Send is disabled)' },
  { value: 'reject', label: 'reject: refuse while busy' },
  { value: 'enqueue', label: 'enqueue: run after the current one' },
  { value: 'interrupt', label: 'interrupt: cancel it and run this' },
];

type Payload = Record<string, unknown>;

function pendingKey(id: string) {
  return `console.pending.${id}`;
}

export function ChatPage({ session, conversationId }: { session: Session; conversationId?: string }) {
  const { api, socket, agents } = session;
  const [page, setPage] = useState(1);
  const [list, setList] = useState<ConversationPage | null>(null);
  const [listVersion, setListVersion] = useState(0);
  const [agentName, setAgentName] = useState(
    () => agents.find((a) => a.name === 'support')?.name ?? agents[0]?.name ?? '',
  );
  const [detail, setDetail] = useState<ConversationDetail | null>(null);
  const [stream, setStreamState] = useState<StreamState>(emptyStream);
  const [settling, setSettling] = useState<LiveTurn | null>(null);
  const [pendingUser, setPendingUser] = useState<string | null>(null);
  const [stats, setStats] = useState<Record<string, TurnStats>>({});
  const [remoteRunning, setRemoteRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [message, setMessage] = useState('');
  const [strategy, setStrategy] = useState('');
  const [sending, setSending] = useState(false);

  const current = useRef(conversationId);
  current.current = conversationId;
  const streamRef = useRef(stream);

  const setStream = useCallback((id: string, next: StreamState) => {
    streamRef.current = next;
    setStreamState(next);
    saveStream(id, next);
  }, []);

  /** Reads the stored transcript; `turnEnded` once the turn in progress is stored in it (its message too). */
  const refreshDetail = useCallback(
    async (id: string, turnEnded = false) => {
      try {
        const fresh = await api.conversation(id);
        if (current.current !== id) return;
        setDetail(fresh);
        setSettling(null);
        if (turnEnded) {
          setPendingUser(null);
          sessionStorage.removeItem(pendingKey(id));
        }
      } catch (err) {
        if (current.current === id) setError(errorText(err));
      }
    },
    [api],
  );

  useEffect(() => {
    let stale = false;
    api
      .conversations(page, PAGE_SIZE)
      .then((answer) => !stale && setList(answer))
      .catch((err) => !stale && setError(errorText(err)));
    return () => {
      stale = true;
    };
  }, [api, page, listVersion]);

  // Opening a conversation: what this tab saw of it (its stream and turn stats), then its stored transcript.
  useEffect(() => {
    setError(null);
    setNotice(null);
    setRemoteRunning(false);
    setSettling(null);
    setDetail(null);
    if (!conversationId) {
      streamRef.current = emptyStream();
      setStreamState(streamRef.current);
      setPendingUser(null);
      return;
    }
    streamRef.current = loadStream(conversationId);
    setStreamState(streamRef.current);
    setStats(loadTurnStats(conversationId));
    setPendingUser(sessionStorage.getItem(pendingKey(conversationId)));
    void refreshDetail(conversationId);
    return () => {
      socket.emit('leave', { conversation_id: conversationId }, () => undefined);
    };
  }, [conversationId, socket, refreshDetail]);

  // Joining its room, on open and after every reconnect: after the last seq seen, so nothing is missed or repeated.
  useEffect(() => {
    if (!conversationId) return;
    const id = conversationId;
    const join = () => {
      joinConversation(socket, id, streamRef.current.lastSeq)
        .then((ack) => {
          if (current.current !== id) return;
          const running = Boolean(ack.running_run_id || ack.running_since);
          setRemoteRunning(running);
          const seen = streamRef.current;
          if (ack.truncated) {
            // Some events expired: the stored transcript is the truth.
            setStream(id, { lastSeq: ack.last_seq ?? seen.lastSeq, live: null });
            void refreshDetail(id, true);
            return;
          }
          if (ack.last_seq !== undefined && seen.lastSeq === null)
            setStream(id, { ...seen, lastSeq: ack.last_seq });
          const nothingToReplay =
            ack.last_seq === undefined || (seen.lastSeq !== null && ack.last_seq <= seen.lastSeq);
          if (!running && seen.live && nothingToReplay) {
            // The turn this tab saw ended while it was away (and cannot be replayed): show what was stored.
            setStream(id, { ...streamRef.current, live: null });
            void refreshDetail(id, true);
          }
        })
        .catch((err) => current.current === id && setError(errorText(err)));
    };
    if (socket.connected) join();
    socket.on('connect', join);
    return () => {
      socket.off('connect', join);
    };
  }, [conversationId, socket, setStream, refreshDetail]);

  // The stream events of the open conversation, applied once each.
  useEffect(() => {
    const handlers = STREAM_EVENTS.map((name) => {
      const handler = (payload: Payload) => {
        const id = current.current;
        const about = typeof payload?.conversation_id === 'string' ? payload.conversation_id : undefined;
        if (name === 'error' && about === undefined) {
          setError(String(payload?.message ?? 'The server refused an event.'));
          return;
        }
        if (about !== undefined && about !== id) {
          if (name === 'done') setListVersion((v) => v + 1);
          return;
        }
        if (!id) return;
        if (about === undefined && streamRef.current.live?.runId !== payload?.run_id) return;
        const result = applyEvent(streamRef.current, name as StreamEventName, payload);
        if (!result.applied) return;
        setStream(id, result.state);
        if (!result.ended) return;
        setRemoteRunning(false);
        setSettling(result.ended.turn);
        if (result.ended.kind === 'done') {
          const ended = result.ended;
          if (ended.stats.messageId) {
            setStats((previous) => {
              const next = { ...previous, [ended.stats.messageId as string]: ended.stats };
              saveTurnStats(id, next);
              return next;
            });
          }
          if (ended.stats.stopReason === 'cancelled') setNotice('The turn was stopped.');
        } else {
          setError(result.ended.message);
        }
        setListVersion((v) => v + 1);
        void refreshDetail(id, true);
      };
      socket.on(name, handler);
      return [name, handler] as const;
    });
    return () => {
      for (const [name, handler] of handlers) socket.off(name, handler);
    };
  }, [socket, setStream, refreshDetail]);

  const running = stream.live !== null || remoteRunning;
  const canSend = message.trim().length > 0 && !sending && (!running || strategy !== '');

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    const text = message.trim();
    if (!text || !canSend) return;
    setSending(true);
    setError(null);
    setNotice(null);
    let id = conversationId;
    try {
      if (!id) {
        const created = await api.createConversation(agentName);
        id = created.id;
        // Events of the new conversation may arrive before the page re-renders with it.
        current.current = id;
        streamRef.current = emptyStream();
        navigate({ page: 'chat', id });
        setListVersion((v) => v + 1);
      }
      sessionStorage.setItem(pendingKey(id), text);
      setPendingUser(text);
      const ack = await emitAck(socket, 'message', {
        message: text,
        conversation_id: id,
        ...(strategy ? { multitask_strategy: strategy } : {}),
      });
      setMessage('');
      if (ack.status === 'queued') setNotice('Queued: it runs when the current run ends.');
    } catch (err) {
      setError(errorText(err));
      // Refused (busy, invalid, over budget): the message was not taken, so it stays in the box only.
      if (id) sessionStorage.removeItem(pendingKey(id));
      setPendingUser(null);
    } finally {
      setSending(false);
    }
  };

  const stop = async () => {
    if (!conversationId) return;
    try {
      await emitAck(socket, 'cancel', { conversation_id: conversationId });
    } catch (err) {
      setError(errorText(err));
    }
  };

  const onMessageKey = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      void send();
    }
  };

  const newConversation = async () => {
    setError(null);
    try {
      const created = await api.createConversation(agentName);
      setListVersion((v) => v + 1);
      navigate({ page: 'chat', id: created.id });
    } catch (err) {
      setError(errorText(err));
    }
  };

  const pages = list ? Math.max(1, Math.ceil(list.total / PAGE_SIZE)) : 1;
  const shownTurn = stream.live ?? settling;

  return (
    <div className="chat">
      <aside className="conversations" aria-label="Conversations">
        <div className="new-conversation">
          <label htmlFor="agent">Agent</label>
          <select id="agent" value={agentName} onChange={(event) => setAgentName(event.target.value)}>
            {agents.map((agent) => (
              <option key={agent.name} value={agent.name}>
                {agent.name}
              </option>
            ))}
          </select>
          <button type="button" onClick={newConversation} disabled={!agentName}>
            New conversation
          </button>
        </div>
        <h2>Conversations</h2>
        {list && list.conversations.length === 0 && (
          <p className="muted">None yet: send a message to start one.</p>
        )}
        <ul className="conversation-list">
          {list?.conversations.map((conversation) => (
            <li key={conversation.id}>
              <a
                href={`#/chat/${conversation.id}`}
                aria-current={conversation.id === conversationId ? 'true' : undefined}
                className="conversation-link"
              >
                <span className="title">
                  {conversation.title || `Conversation ${conversation.id.slice(0, 8)}`}
                </span>
                <span className="muted">
                  {conversation.agent_name} · {when(conversation.last_message_at ?? conversation.created_at)}{' '}
                  · {usd(conversation.cost_usd)}
                </span>
              </a>
            </li>
          ))}
        </ul>
        <div className="pager">
          <button
            type="button"
            className="secondary"
            disabled={page <= 1}
            onClick={() => setPage((p) => p - 1)}
          >
            Previous page
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button
            type="button"
            className="secondary"
            disabled={page >= pages}
            onClick={() => setPage((p) => p + 1)}
          >
            Next page
          </button>
        </div>
      </aside>

      <section className="conversation" aria-label="Conversation">
        <header className="conversation-head">
          <h1>
            {detail
              ? detail.title || `Conversation ${detail.id.slice(0, 8)}`
              : conversationId
                ? 'Loading…'
                : 'New conversation'}
          </h1>
          {detail && (
            <p className="muted">
              {detail.agent_name} · {detail.message_count} messages · {count(detail.total_tokens)} tokens ·{' '}
              {usd(detail.cost_usd)}
            </p>
          )}
        </header>

        <div className="transcript" aria-label="Transcript">
          {detail?.messages && <Transcript messages={detail.messages} stats={stats} />}
          {pendingUser && (
            <div className="message user">
              <p>{pendingUser}</p>
            </div>
          )}
          {shownTurn && (
            <div
              className="message assistant live"
              data-live-turn={stream.live ? 'streaming' : 'settling'}
              aria-busy={stream.live !== null}
            >
              {shownTurn.parts.map((part, i) =>
                part.kind === 'text' ? (
                  <p key={i} className="answer-text">
                    {part.text}
                  </p>
                ) : (
                  <ToolCard
                    key={part.call.toolUseId}
                    name={part.call.name}
                    arguments={part.call.arguments}
                    result={part.call.result}
                    durationMs={part.call.durationMs}
                    isError={part.call.isError}
                    running={part.call.running}
                  />
                ),
              )}
              {shownTurn.approvals.map((approval) => (
                <ApprovalCard
                  key={approval.toolUseId}
                  api={api}
                  call={approval}
                  onDecided={() => setNotice('Decision sent.')}
                />
              ))}
            </div>
          )}
        </div>

        <p className="status" role="status" aria-live="polite">
          {stream.live?.waiting
            ? 'Waiting for a decision on a tool call…'
            : running
              ? 'A run is going…'
              : (notice ?? '')}
        </p>
        <ErrorLine error={error} />

        <form className="composer" onSubmit={send}>
          <label htmlFor="message">Message</label>
          <textarea
            id="message"
            rows={3}
            value={message}
            onChange={(event) => setMessage(event.target.value)}
            onKeyDown={onMessageKey}
            placeholder={
              conversationId
                ? 'Ask something… (Enter sends, Shift+Enter for a new line)'
                : `Start a conversation with ${agentName}`
            }
          />
          <div className="row">
            <label htmlFor="strategy">If a run is going</label>
            <select id="strategy" value={strategy} onChange={(event) => setStrategy(event.target.value)}>
              {STRATEGIES.map((option) => (
                <option key={option.value} value={option.value}>
                  {option.label}
                </option>
              ))}
            </select>
            <button type="submit" disabled={!canSend}>
              Send
            </button>
            <button type="button" className="danger" disabled={!running || !conversationId} onClick={stop}>
              Stop
            </button>
          </div>
        </form>
      </section>
    </div>
  );
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((block: { type?: string; text?: string }) =>
        block.type === 'text' ? block.text : JSON.stringify(block),
      )
      .join('\n');
  }
  return JSON.stringify(content);
}

function Transcript({ messages, stats }: { messages: Message[]; stats: Record<string, TurnStats> }) {
  const results = new Map<string, { content: unknown; isError: boolean }>();
  for (const message of messages) {
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content as ContentBlock[]) {
      if (block.type === 'tool_result') {
        const result = block as { tool_use_id: string; content: unknown; is_error?: boolean };
        results.set(result.tool_use_id, {
          content: textOf(result.content),
          isError: result.is_error === true,
        });
      }
    }
  }
  return (
    <>
      {messages.map((message) => {
        const blocks: ContentBlock[] =
          typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
        const visible = blocks.filter((block) => block.type !== 'tool_result');
        if (!visible.length) return null;
        const turn = stats[message.id];
        return (
          <div key={message.id} className={`message ${message.role}`} data-message-id={message.id}>
            {visible.map((block, i) => {
              if (block.type === 'text') {
                return (
                  <p key={i} className={message.role === 'assistant' ? 'answer-text' : undefined}>
                    {(block as { text: string }).text}
                  </p>
                );
              }
              if (block.type === 'tool_use') {
                const use = block as { id: string; name: string; input: unknown };
                const result = results.get(use.id);
                return (
                  <ToolCard
                    key={use.id}
                    name={use.name}
                    arguments={use.input}
                    result={result?.content}
                    isError={result?.isError}
                  />
                );
              }
              return (
                <p key={i} className="muted">
                  [{block.type}]
                </p>
              );
            })}
            {turn && <TurnLine stats={turn} />}
          </div>
        );
      })}
    </>
  );
}

function TurnLine({ stats }: { stats: TurnStats }) {
  return (
    <p className="turn-stats" data-turn-stats>
      {count(stats.inputTokens)} input + {count(stats.outputTokens)} output tokens
      {stats.cacheReadInputTokens ? ` (${count(stats.cacheReadInputTokens)} cache reads)` : ''} ·{' '}
      {usd(stats.costUsd)} · {(stats.latencyMs / 1000).toFixed(1)} s · {stats.stopReason}
    </p>
  );
}
