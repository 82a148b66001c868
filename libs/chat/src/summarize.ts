const SUMMARY_LENGTH = 200;

/** A tool result shortened for events and responses (the model gets the whole result). */
export function summarize(content: string, max = SUMMARY_LENGTH): string {
  const oneLine = content.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
