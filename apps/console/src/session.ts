// What the console keeps in this tab's sessionStorage: the API key (never a URL or a cookie), and per conversation
// the last stream event seen and the stats of its turns.
import { parseStream, StreamState, TurnStats } from './live-turn';

const KEY = 'console.apiKey';

export const storedKey = (): string | null => sessionStorage.getItem(KEY);
export const storeKey = (key: string): void => sessionStorage.setItem(KEY, key);

export function forgetAll(): void {
  sessionStorage.clear();
}

export const loadStream = (conversationId: string): StreamState =>
  parseStream(sessionStorage.getItem(`console.stream.${conversationId}`));

export function saveStream(conversationId: string, state: StreamState): void {
  sessionStorage.setItem(`console.stream.${conversationId}`, JSON.stringify(state));
}

export function loadTurnStats(conversationId: string): Record<string, TurnStats> {
  try {
    return JSON.parse(sessionStorage.getItem(`console.turns.${conversationId}`) ?? '{}') as Record<
      string,
      TurnStats
    >;
  } catch {
    return {};
  }
}

export function saveTurnStats(conversationId: string, stats: Record<string, TurnStats>): void {
  sessionStorage.setItem(`console.turns.${conversationId}`, JSON.stringify(stats));
}
