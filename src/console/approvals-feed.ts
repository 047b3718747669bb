import { createHash } from 'node:crypto';
import { cutText } from '../core/index.js';
import type { AccessRequest, AccessRequests } from '../access/index.js';
import type { Approval, ApprovalPage, ApprovalService } from '../approvals/index.js';
import type { Handoff } from './session-routes.js';

/** What the inbox shows: the pending page and the latest decisions, with a version naming the state. */
export interface InboxState {
  /**
   * Changes whenever what the inbox shows changes (a new request, a decision, a use, an expiry).
   * The live stream's event id: a browser that reconnects with the version it has gets nothing
   * until the state moves on, and one with any other version gets the whole state at once, so a
   * reconnect never leaves a gap (the stream sends states, not differences).
   */
  version: string;
  pending: ApprovalPage;
  recent: Approval[];
  /** Access requests waiting for a person (newest first). */
  requests: AccessRequest[];
  /** Sessions whose agent asked a person to take over. */
  handoffs: Handoff[];
}

/** Pending approvals shown at once (the rest are counted per token). */
export const INBOX_PENDING = 100;
const INBOX_RECENT = 20;

/**
 * Reads the inbox state for every open console page of this process. Reads are shared: a state
 * read within `fresh` ms is handed to the next asker instead of reading again, so ten open tabs
 * cost one read per poll. Approvals are in the store, so a request or decision made by any
 * process (another `serve`, a `gatehouse mcp`, the CLI) shows up at the next poll.
 */
export class ApprovalsFeed {
  readonly #approvals: ApprovalService;
  readonly #fresh: number;
  #last: { at: number; state: Promise<InboxState> } | undefined;

  readonly #requests: () => Promise<AccessRequests>;
  readonly #handoffs: () => Promise<Handoff[]>;

  constructor(
    approvals: ApprovalService,
    requests: () => Promise<AccessRequests>,
    handoffs: () => Promise<Handoff[]>,
    opts: { freshMs: number },
  ) {
    this.#approvals = approvals;
    this.#requests = requests;
    this.#handoffs = handoffs;
    this.#fresh = opts.freshMs;
  }

  /** The state, shared with other streams when read within `fresh` ms; `{ now: true }` always reads (a page load). */
  state(o: { now?: boolean } = {}): Promise<InboxState> {
    const at = Date.now();
    if (!o.now && this.#last && at - this.#last.at < this.#fresh) return this.#last.state;
    const state = this.#read();
    this.#last = { at, state };
    state.catch(() => {
      if (this.#last?.state === state) this.#last = undefined;
    });
    return state;
  }

  async #read(): Promise<InboxState> {
    const [pending, all, requests] = await Promise.all([
      this.#approvals.page({ status: 'pending', limit: INBOX_PENDING }),
      this.#approvals.page({ status: 'all', limit: INBOX_RECENT * 2 }),
      this.#requests().then((r) => r.list({ status: 'pending' })),
    ]);
    const handoffs = await this.#handoffs();
    const recent = all.approvals.filter((a) => a.status !== 'pending').slice(0, INBOX_RECENT);
    const h = createHash('sha256');
    h.update(JSON.stringify([pending.total, pending.byToken.map((t) => [t.tokenId, t.count])]));
    for (const a of [...pending.approvals, ...recent])
      h.update(`\n${a.id}\u0000${a.status}\u0000${a.decidedAt ?? ''}\u0000${a.consumedAt ?? ''}`);
    for (const r of requests) h.update(`\n${r.id}\u0000${r.status}`);
    for (const x of handoffs) h.update(`\n${x.id}\u0000${x.at}`);
    // An approval that expires leaves the pending page by itself (the page reads pending as
    // `expires_at > now`), which changes the version too.
    return { version: cutText(h.digest('base64url'), 22), pending, recent, requests, handoffs };
  }
}
