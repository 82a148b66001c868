// Opens a ticket for a human to follow up; one ticket per tool call (its idempotency key), however often it runs.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Tool, ToolContext } from '../tool';
import { CREATE_SUPPORT_TICKET } from './tool-names';

export type TicketPriority = 'low' | 'normal' | 'high' | 'urgent';

export type CreateSupportTicketInput = {
  subject: string;
  description: string;
  priority?: TicketPriority;
  customer_email?: string;
};

export interface SupportTicket {
  ticket_number: string;
  status: string;
  priority: TicketPriority;
  subject: string;
  customer_email: string | null;
  created_at: string;
  /** False when this tool call had already opened the ticket (a re-run): nothing new was created. */
  created: boolean;
}

interface TicketRow {
  ticket_number: string;
  status: string;
  priority: TicketPriority;
  subject: string;
  customer_email: string | null;
  created_at: Date;
}

const TICKET_COLUMNS = 'ticket_number, status, priority, subject, customer_email, created_at';
/** Each tenant's first ticket is TCK-000100. */
const FIRST_TICKET_NUMBER = 100;

@Injectable()
export class CreateSupportTicketTool implements Tool<CreateSupportTicketInput> {
  readonly name = CREATE_SUPPORT_TICKET;
  readonly description =
    'Opens a support ticket so that a human from the support team follows up with the customer. Use it when ' +
    'the customer needs something your other tools cannot do (a damaged or missing item, a billing correction, ' +
    'account recovery, a bug report) or asks for a human; do not use it for questions the knowledge base ' +
    'answers. Include everything the team needs in the description. Returns JSON {ticket_number, status, ' +
    'priority, subject, customer_email, created_at, created}: tell the customer the ticket_number. created is ' +
    'false when this same call had already opened the ticket; it is not opened twice.';
  readonly inputSchema = {
    type: 'object',
    properties: {
      subject: {
        type: 'string',
        minLength: 3,
        maxLength: 200,
        pattern: '\\S',
        description: 'A one-line summary of the problem, e.g. "Order 1001 arrived with a broken keyboard".',
      },
      description: {
        type: 'string',
        minLength: 1,
        maxLength: 5000,
        pattern: '\\S',
        description:
          'What happened and what the customer needs, with the facts you gathered: order numbers, dates, ' +
          'error messages, what was already tried.',
      },
      priority: {
        type: 'string',
        enum: ['low', 'normal', 'high', 'urgent'],
        description:
          'How fast the team should respond (default "normal"). "urgent" only for outages, security problems ' +
          'or money charged in error; "high" when the customer is blocked.',
      },
      customer_email: {
        type: 'string',
        maxLength: 254,
        pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$',
        description:
          'The customer\'s email address for the reply, if they gave one, e.g. "jane.doe@example.com".',
      },
    },
    required: ['subject', 'description'],
    additionalProperties: false,
  };

  constructor(private readonly dataSource: DataSource) {}

  async execute(input: CreateSupportTicketInput, context: ToolContext): Promise<SupportTicket> {
    // A call the caller has given up on must not leave a ticket behind that nobody told the customer about.
    context.signal.throwIfAborted();
    // A re-run of the call finds its ticket without taking a number.
    const existing = await this.existing(context);
    if (existing) return toTicket(existing, false);
    // Numbers count per tenant (TCK-000100, TCK-000101, …): one global sequence would show every tenant how many
    // tickets the others open. The counter row is locked until the ticket is stored, so numbers never repeat.
    const inserted = await this.dataSource.query<TicketRow[]>(
      `WITH counter AS (
         INSERT INTO support_ticket_counters AS c (tenant_id, last_number) VALUES ($1, ${FIRST_TICKET_NUMBER})
         ON CONFLICT (tenant_id) DO UPDATE SET last_number = c.last_number + 1
         RETURNING last_number
       )
       INSERT INTO support_tickets
         (ticket_number, tenant_id, conversation_id, task_id, tool_use_id, subject, description, priority,
          customer_email, idempotency_key)
       SELECT 'TCK-' || CASE WHEN last_number < 1000000 THEN lpad(last_number::text, 6, '0')
                             ELSE last_number::text END,
              $1, $2, $3, $4, $5, $6, $7, $8, $9
         FROM counter
       ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
       RETURNING ${TICKET_COLUMNS}`,
      [
        context.tenantId,
        context.conversationId || null,
        context.taskId ?? null,
        context.toolUseId,
        input.subject.trim(),
        input.description.trim(),
        input.priority ?? 'normal',
        input.customer_email ?? null,
        idempotencyKey(context),
      ],
    );
    if (inserted[0]) return toTicket(inserted[0], true);

    // The same call ran at once elsewhere: DO NOTHING waited for its insert to commit, so the row is visible now.
    const concurrent = await this.existing(context);
    if (!concurrent) throw new Error('The ticket of this tool call was neither created nor found.');
    return toTicket(concurrent, false);
  }

  private async existing(context: ToolContext): Promise<TicketRow | undefined> {
    const rows = await this.dataSource.query<TicketRow[]>(
      `SELECT ${TICKET_COLUMNS}
         FROM support_tickets
        WHERE tenant_id = $1 AND idempotency_key = $2`,
      [context.tenantId, idempotencyKey(context)],
    );
    return rows[0];
  }
}

/** The call's key: its run's (the same on every execution of the run), else the task's and the tool_use id. */
function idempotencyKey(context: ToolContext): string {
  return context.idempotencyKey ?? `${context.taskId ?? 'none'}:${context.toolUseId}`;
}

function toTicket(row: TicketRow, created: boolean): SupportTicket {
  return {
    ticket_number: row.ticket_number,
    status: row.status,
    priority: row.priority,
    subject: row.subject,
    customer_email: row.customer_email,
    created_at: row.created_at.toISOString(),
    created,
  };
}
