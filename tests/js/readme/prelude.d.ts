// What the README's TypeScript snippets take from the app around them (UI functions and
// values), declared so `tsc --strict` checks everything else in them for real
// (tests/test_readme_snippets.py). Kept narrow: a wrong event field fails the check.
declare const process: { env: Record<string, string | undefined> };
declare function getToken(): Promise<string | null>;
declare function setBadge(state: 'connecting' | 'live' | 'catching-up' | 'offline'): void;
declare const myUserId: string;
declare const otherUserId: string;
declare const locationId: string;
declare const conversationId: string;
declare const body: string;
declare const apiKey: string;
declare const apiSecret: string;
declare const newestUpdatedAt: string;
declare function markVoted(userId: string): void;
declare function showCards(
  votes: Array<{ userId: string; value: string }>,
  stats: { average: number | null; median: number | null; consensus: boolean },
): void;
declare function setEstimate(taskId: string, estimate: string): void;
declare function setReadOnly(): void;
declare function showAvatars(userIds: string[]): void;
declare function setUnread(conversationId: string, totalUnread: number): void;
declare function upsertById(message: { id: number; clientId: string; body: string }): void;
declare function setReadPosition(userId: string, lastReadMessageId: number): void;
declare function showTyping(userId: string): void;
declare function renderPending(items: ReadonlyArray<{ clientId: string; status: 'sending' | 'sent' | 'failed' }>): void;
declare function showToast(text: string, id: string): void;
declare function addMessage(text: string): void;
declare function setRevenue(total: number): void;
declare function markFailed(clientId: string, reason: string): void;
declare function upsert(position: { symbol: string; qty: number }): void;
