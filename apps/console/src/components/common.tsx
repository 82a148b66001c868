// Small pieces every page uses: the error line, formatting of money, tokens and times, and JSON blocks.
import { useEffect, useState } from 'react';
import { Api, ApiError } from '../api';

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export function ErrorLine({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

export const usd = (value: number): string =>
  `$${value.toFixed(value !== 0 && Math.abs(value) < 0.01 ? 4 : 2)}`;
export const count = (value: number): string => value.toLocaleString('en-US');
export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');

export function Json({ value, label }: { value: unknown; label: string }) {
  const text = typeof value === 'string' ? prettyIfJson(value) : JSON.stringify(value, null, 2);
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {text ?? '—'}
    </pre>
  );
}

/** A tool result is often JSON in a string: indented, it reads like the arguments above it. */
function prettyIfJson(text: string): string {
  if (!/^\s*[[{]/.test(text)) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Runs `load` when the page opens and whenever `load` changes; a failure goes to `onError` unless the page moved on. */
export function useLoad(load: () => Promise<void>, onError: (message: string) => void): void {
  useEffect(() => {
    let stale = false;
    load().catch((err) => !stale && onError(errorText(err)));
    return () => {
      stale = true;
    };
  }, [load, onError]);
}

/** Whether the signed-in key is an admin key: null until known; a failure to find out goes to `onError`. */
export function useAdmin(api: Api, onError: (message: string) => void): boolean | null {
  const [admin, setAdmin] = useState<boolean | null>(null);
  useEffect(() => {
    let stale = false;
    api
      .isAdmin()
      .then((answer) => !stale && setAdmin(answer))
      .catch((err) => !stale && onError(errorText(err)));
    return () => {
      stale = true;
    };
  }, [api, onError]);
  return admin;
}
