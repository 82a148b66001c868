// REST's view of a run: the same events the socket and SSE see, collected into one ChatResponse.
import { failureError, RunHandle } from '@lib/runs';
import type { PendingApprovalDto } from '../approvals/approval.dto';
import type { ChatResponseDto, ToolUsedDto } from './chat.dto';

export async function collectTurn(run: RunHandle): Promise<ChatResponseDto> {
  const tools = new Map<string, ToolUsedDto>();
  const pending: PendingApprovalDto[] = [];
  let response = '';
  for await (const event of run.events) {
    switch (event.name) {
      case 'text':
        response += event.payload.content;
        break;
      case 'tool_start':
        tools.set(event.payload.tool_use_id, {
          tool_name: event.payload.tool_name,
          arguments: event.payload.arguments,
          result_summary: '',
          duration_ms: 0,
          is_error: false,
        });
        break;
      case 'tool_end': {
        const used = tools.get(event.payload.tool_use_id);
        if (used)
          Object.assign(used, {
            result_summary: event.payload.result_summary,
            duration_ms: event.payload.duration_ms,
            is_error: event.payload.is_error,
          });
        break;
      }
      case 'approval_required':
        pending.push({
          tool_use_id: event.payload.tool_use_id,
          tool_name: event.payload.tool_name,
          arguments: event.payload.arguments,
          arguments_sha256: event.payload.arguments_sha256,
          expires_at: event.payload.expires_at,
        });
        break;
      case 'done':
        return {
          response,
          conversation_id: run.conversationId,
          run_id: run.runId,
          message_id: event.payload.message_id,
          agent_name: run.agentName,
          tools_used: [...tools.values()],
          total_tokens: event.payload.tokens_used,
          input_tokens: event.payload.input_tokens,
          output_tokens: event.payload.output_tokens,
          cache_read_input_tokens: event.payload.cache_read_input_tokens,
          cache_creation_input_tokens: event.payload.cache_creation_input_tokens,
          cost_usd: event.payload.cost_usd,
          latency_ms: event.payload.latency_ms,
          stop_reason: event.payload.stop_reason,
          context_tokens: event.payload.context_tokens,
          compacted: event.payload.compacted,
          ...(event.payload.stop_reason === 'requires_approval' ? { pending_approvals: pending } : {}),
        };
      case 'error':
        throw run.failure ?? failureError(event.payload);
      default:
        break;
    }
  }
  throw new Error('The run ended without a done event.');
}
