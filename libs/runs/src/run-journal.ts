// The `run_steps` table: a run's journal of completed steps (model responses, tool results, and the start of each
// call of a tool that is not safe to run twice), keyed (run_id, step) in the order the loop produced them.
//
// Writes are the hot path: one parameterised INSERT per step, numbered here (the conversation lock lets one
// execution of a run go at a time, and a second one would collide on the key rather than interleave). A run's
// first execution reads nothing; an execution of a run that ran before reads its steps once (one SELECT).
//
// Retention: rows stay after the run ends, as its audit trail (what the model answered and each tool returned, with
// timings); they go with the run (ON DELETE CASCADE), i.e. with its conversation. The stored conversation is still
// written once, when the run completes: the journal is working state, never read as history.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IdGenerator, PreparedStatement } from '@lib/core';
import type { JournalStep, StepJournal } from '@lib/chat';
import type { RunStepRow } from '@lib/conversations';

interface StepRow {
  step: number;
  kind: JournalStep['kind'];
  tool_use_id: string | null;
  data: Record<string, unknown>;
}

const INSERT = new PreparedStatement(
  'run_steps_insert',
  `INSERT INTO run_steps (run_id, step, kind, tool_use_id, data) VALUES ($1, $2, $3, $4, $5)`,
);

@Injectable()
export class RunJournal {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly ids: IdGenerator,
  ) {}

  /** The journal of a run's first execution: nothing recorded yet, nothing read. */
  fresh(runId: string): StepJournal {
    return this.journal(runId, [], 0);
  }

  /** The journal of a run executed again: what its earlier executions recorded, in order, replayed by the loop. */
  async resume(runId: string): Promise<StepJournal> {
    const rows: StepRow[] = await this.db.query(
      `SELECT step, kind, tool_use_id, data FROM run_steps WHERE run_id = $1 ORDER BY step`,
      [runId],
    );
    return this.journal(runId, rows.map(toStep), (rows.at(-1)?.step ?? -1) + 1);
  }

  /** A run's recorded steps, in order (for tests and audits). */
  async steps(runId: string): Promise<JournalStep[]> {
    return (await this.resume(runId)).recorded as JournalStep[];
  }

  private journal(runId: string, recorded: JournalStep[], next: number): StepJournal {
    let step = next;
    // Numbered when called, not when written: concurrent tool results keep the order they completed in.
    const row = (entry: JournalStep): RunStepRow => {
      const { kind, ...data } = entry;
      return { step: step++, kind, tool_use_id: 'tool_use_id' in entry ? entry.tool_use_id : null, data };
    };
    return {
      runId,
      recorded,
      newCallId: () => this.ids.uuid(),
      row,
      record: async (entry) => {
        const numbered = row(entry);
        await INSERT.run(this.db, [
          runId,
          numbered.step,
          numbered.kind,
          numbered.tool_use_id,
          JSON.stringify(numbered.data),
        ]);
      },
    };
  }
}

function toStep(row: StepRow): JournalStep {
  return { kind: row.kind, ...row.data } as unknown as JournalStep;
}
