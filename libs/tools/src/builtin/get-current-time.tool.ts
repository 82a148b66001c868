// The current date and time in a time zone, from the injected clock so tests can pin it.
import { Injectable } from '@nestjs/common';
import { Clock } from '@lib/core';
import { Tool, ToolError } from '../tool';
import { GET_CURRENT_TIME } from './tool-names';

export type GetCurrentTimeInput = { timezone?: string };

export interface CurrentTime {
  /** The canonical IANA name of the zone used. */
  timezone: string;
  /** ISO 8601 local time with its UTC offset, e.g. 2026-11-20T15:04:05+01:00. */
  local_time: string;
  utc_time: string;
  date: string;
  time: string;
  weekday: string;
  utc_offset: string;
  /** A human-readable form, e.g. "Friday, November 20, 2026 at 3:04 PM". */
  formatted: string;
}

@Injectable()
export class GetCurrentTimeTool implements Tool<GetCurrentTimeInput> {
  readonly name = GET_CURRENT_TIME;
  readonly description =
    'Returns the current date and time, in UTC or in a given time zone. Use it whenever an answer depends on ' +
    'today\'s date or the time (delivery estimates, "how many days until", business hours, greetings by local ' +
    'time). Returns JSON {timezone, local_time, utc_time, date, time, weekday, utc_offset, formatted}; ' +
    'local_time is ISO 8601 with its UTC offset and date is YYYY-MM-DD.';
  readonly inputSchema = {
    type: 'object',
    properties: {
      timezone: {
        type: 'string',
        minLength: 1,
        maxLength: 64,
        description:
          'An IANA time zone name, e.g. "Europe/Paris", "America/New_York" or "Asia/Tokyo" (default "UTC").',
      },
    },
    additionalProperties: false,
  };

  constructor(private readonly clock: Clock) {}

  async execute(input: GetCurrentTimeInput): Promise<CurrentTime> {
    const requested = input.timezone?.trim() || 'UTC';
    let format: Intl.DateTimeFormat;
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: requested,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
        weekday: 'long',
        timeZoneName: 'longOffset',
      });
    } catch {
      throw new ToolError(
        `Unknown time zone "${requested}". Use an IANA name such as "Europe/Paris", "America/New_York" or "UTC".`,
      );
    }
    const now = this.clock.now();
    const parts = Object.fromEntries(format.formatToParts(now).map((part) => [part.type, part.value]));
    // longOffset is "GMT+05:30", or plain "GMT" at offset zero.
    const offset = parts.timeZoneName.replace('GMT', '') || '+00:00';
    const date = `${parts.year}-${parts.month}-${parts.day}`;
    const time = `${parts.hour}:${parts.minute}:${parts.second}`;
    const timezone = format.resolvedOptions().timeZone;
    return {
      timezone,
      local_time: `${date}T${time}${offset}`,
      utc_time: now.toISOString(),
      date,
      time,
      weekday: parts.weekday,
      utc_offset: offset,
      formatted: new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        dateStyle: 'full',
        timeStyle: 'short',
      }).format(now),
    };
  }
}
