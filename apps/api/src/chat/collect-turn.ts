// REST's view of a turn: the same event stream the socket and SSE see, collected into one ChatResponse.
import type { LiveTurn } from '@lib/realtime';
import type { ChatResponseDto, ToolUsedDto } from './chat.dto';

export async function collectTurn(turn: LiveTurn): Promise<ChatResponseDto> {
  const tools = new Map<string, ToolUsedDto>();
  for await (const event of turn.events) {
    switch (event.type) {
      case 'tool_start':
        tools.set(event.tool_use_id, {
          tool_name: event.tool_name,
          arguments: event.arguments,
          result_summary: '',
          duration_ms: 0,
          is_error: false,
        });
        break;
      case 'tool_end': {
        const used = tools.get(event.tool_use_id);
        if (used)
          Object.assign(used, {
            result_summary: event.result_summary,
            duration_ms: event.duration_ms,
            is_error: event.is_error,
          });
        break;
      }
      case 'done':
        return {
          response: event.response,
          conversation_id: turn.conversationId,
          message_id: event.message_id,
          agent_name: turn.agentName,
          tools_used: [...tools.values()],
          total_tokens: event.tokens_used,
          input_tokens: event.input_tokens,
          output_tokens: event.output_tokens,
          cache_read_input_tokens: event.cache_read_input_tokens,
          cache_creation_input_tokens: event.cache_creation_input_tokens,
          cost_usd: event.cost_usd,
          latency_ms: event.latency_ms,
          stop_reason: event.stop_reason,
        };
      case 'error':
        throw event.error;
      default:
        break;
    }
  }
  throw new Error('The turn ended without a done event.');
}
