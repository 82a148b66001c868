// Cost: spend and tokens by day and by agent over a chosen range, and the most expensive conversations, from /v1/usage.
import { useEffect, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Session } from '../App';
import type { UsageReport, UsageRow } from '../types';
import { count, errorText, ErrorLine, usd } from '../components/common';

const DAY_MS = 86_400_000;
const isoDay = (time: number): string => new Date(time).toISOString().slice(0, 10);

/** Every UTC day of the range, so a day without calls shows as zero rather than disappearing. */
function daysOf(from: string, to: string): string[] {
  const days: string[] = [];
  for (
    let t = Date.parse(`${from}T00:00:00Z`);
    t <= Date.parse(`${to}T00:00:00Z`) && days.length < 400;
    t += DAY_MS
  )
    days.push(isoDay(t));
  return days;
}

const cacheReads = (row: UsageRow): number => row.cache_read_input_tokens ?? 0;

interface Reports {
  day: UsageReport;
  agent: UsageReport;
  conversation: UsageReport;
}

export function CostPage({ session }: { session: Session }) {
  const { api } = session;
  const [to, setTo] = useState(() => isoDay(Date.now()));
  const [from, setFrom] = useState(() => isoDay(Date.now() - 13 * DAY_MS));
  const [reports, setReports] = useState<Reports | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!from || !to) return;
    let stale = false;
    setError(null);
    Promise.all([
      api.usage('day', from, to),
      api.usage('agent', from, to),
      api.usage('conversation', from, to),
    ])
      .then(([day, agent, conversation]) => !stale && setReports({ day, agent, conversation }))
      .catch((err) => !stale && setError(errorText(err)));
    return () => {
      stale = true;
    };
  }, [api, from, to]);

  const byDay = useMemo(() => {
    if (!reports) return [];
    const rows = new Map(reports.day.rows.map((row) => [row.key, row]));
    return daysOf(from, to).map((day) => {
      const row = rows.get(day);
      return {
        day,
        cost_usd: row?.cost_usd ?? 0,
        input_tokens: row?.input_tokens ?? 0,
        output_tokens: row?.output_tokens ?? 0,
        cache_read_input_tokens: row ? cacheReads(row) : 0,
        requests: row?.requests ?? 0,
      };
    });
  }, [reports, from, to]);

  const byAgent = useMemo(
    () =>
      (reports?.agent.rows ?? []).map((row) => ({
        agent: row.key ?? '(none)',
        cost_usd: row.cost_usd,
        tokens: row.input_tokens + row.output_tokens,
        requests: row.requests,
      })),
    [reports],
  );

  const conversations = useMemo(
    () =>
      [...(reports?.conversation.rows ?? [])]
        .sort(
          (a, b) =>
            b.cost_usd - a.cost_usd || b.input_tokens + b.output_tokens - (a.input_tokens + a.output_tokens),
        )
        .slice(0, 10),
    [reports],
  );

  const totals = useMemo(() => {
    const rows = reports?.day.rows ?? [];
    return {
      cost: reports?.day.total_cost_usd ?? 0,
      requests: rows.reduce((sum, row) => sum + row.requests, 0),
      input: rows.reduce((sum, row) => sum + row.input_tokens, 0),
      output: rows.reduce((sum, row) => sum + row.output_tokens, 0),
      cacheReads: rows.reduce((sum, row) => sum + cacheReads(row), 0),
    };
  }, [reports]);

  return (
    <div className="cost">
      <h1>Cost</h1>
      <form className="row range" onSubmit={(event) => event.preventDefault()}>
        <label htmlFor="from">From</label>
        <input
          id="from"
          type="date"
          value={from}
          max={to}
          onChange={(event) => setFrom(event.target.value)}
        />
        <label htmlFor="to">To</label>
        <input id="to" type="date" value={to} min={from} onChange={(event) => setTo(event.target.value)} />
        <span className="muted">UTC days</span>
      </form>
      <ErrorLine error={error} />
      {reports && (
        <>
          <dl className="totals">
            <div>
              <dt>Spend</dt>
              <dd data-total-cost>{usd(totals.cost)}</dd>
            </div>
            <div>
              <dt>Model calls</dt>
              <dd data-total-requests>{count(totals.requests)}</dd>
            </div>
            <div>
              <dt>Input tokens</dt>
              <dd>{count(totals.input)}</dd>
            </div>
            <div>
              <dt>Output tokens</dt>
              <dd>{count(totals.output)}</dd>
            </div>
            <div>
              <dt>Cache reads</dt>
              <dd>{count(totals.cacheReads)}</dd>
            </div>
          </dl>

          <div className="charts">
            <Chart id="spend-by-day" title="Spend by day (USD)">
              <BarChart data={byDay} accessibilityLayer>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="day" tickFormatter={(day: string) => day.slice(5)} />
                <YAxis width={70} tickFormatter={(value: number) => usd(value)} />
                <Tooltip formatter={(value) => usd(Number(value))} />
                <Bar dataKey="cost_usd" name="Spend" fill="#2f6fdb" isAnimationActive={false} />
              </BarChart>
            </Chart>
            <Chart id="tokens-by-day" title="Tokens by day">
              <BarChart data={byDay} accessibilityLayer>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="day" tickFormatter={(day: string) => day.slice(5)} />
                <YAxis width={70} />
                <Tooltip />
                <Legend />
                <Bar
                  dataKey="input_tokens"
                  name="Input"
                  stackId="tokens"
                  fill="#2f6fdb"
                  isAnimationActive={false}
                />
                <Bar
                  dataKey="output_tokens"
                  name="Output"
                  stackId="tokens"
                  fill="#16a06b"
                  isAnimationActive={false}
                />
                <Bar
                  dataKey="cache_read_input_tokens"
                  name="Cache reads"
                  stackId="tokens"
                  fill="#c9822b"
                  isAnimationActive={false}
                />
              </BarChart>
            </Chart>
            <Chart id="spend-by-agent" title="Spend and tokens by agent">
              <BarChart data={byAgent} accessibilityLayer>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="agent" />
                <YAxis yAxisId="usd" width={70} tickFormatter={(value: number) => usd(value)} />
                <YAxis yAxisId="tokens" orientation="right" width={70} />
                <Tooltip />
                <Legend />
                <Bar
                  yAxisId="usd"
                  dataKey="cost_usd"
                  name="Spend (USD)"
                  fill="#2f6fdb"
                  isAnimationActive={false}
                />
                <Bar
                  yAxisId="tokens"
                  dataKey="tokens"
                  name="Tokens"
                  fill="#16a06b"
                  isAnimationActive={false}
                />
              </BarChart>
            </Chart>
          </div>

          <h2>Most expensive conversations</h2>
          {conversations.length === 0 ? (
            <p className="muted">No model calls in this range.</p>
          ) : (
            <table className="expensive">
              <thead>
                <tr>
                  <th scope="col">Conversation</th>
                  <th scope="col">Model calls</th>
                  <th scope="col">Input tokens</th>
                  <th scope="col">Output tokens</th>
                  <th scope="col">Cache reads</th>
                  <th scope="col">Spend</th>
                </tr>
              </thead>
              <tbody>
                {conversations.map((row) => (
                  <tr key={row.key ?? 'none'}>
                    <td>
                      {row.key ? (
                        <a href={`#/chat/${row.key}`}>{row.key.slice(0, 8)}</a>
                      ) : (
                        '(tasks without one)'
                      )}
                    </td>
                    <td>{count(row.requests)}</td>
                    <td>{count(row.input_tokens)}</td>
                    <td>{count(row.output_tokens)}</td>
                    <td>{count(cacheReads(row))}</td>
                    <td>{usd(row.cost_usd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}

function Chart({ id, title, children }: { id: string; title: string; children: React.ReactElement }) {
  return (
    <figure className="chart card" data-chart={id} aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <ResponsiveContainer width="100%" height={240}>
        {children}
      </ResponsiveContainer>
    </figure>
  );
}
