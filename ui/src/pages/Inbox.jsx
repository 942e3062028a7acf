// The signed-in person's work, in the views people expect: what is assigned
// to them, their groups' unclaimed tasks, what they completed (each with its
// count), or everything by status. Sorted by due date, priority or creation,
// narrowed to overdue, today or this week, to one definition, or to the
// tasks whose declared field matches a search; paged with the API's cursor; a
// claim straight from the list; and read again every few seconds in place,
// at no cost while nothing changed (the API's ETags).

import { useEffect, useRef, useState } from 'react';
import { api, query } from '../api.js';
import { Notice } from '../components/Notice.jsx';
import { InboxFilter } from '../components/InboxFilter.jsx';
import { NO_FILTER, filterParams } from '../filter.js';
import { NotificationSettings } from '../components/NotificationSettings.jsx';
import { explain } from '../explain.js';
import { Pager, useCursorPages } from '../components/Pager.jsx';
import { assigneeText, isOverdue, when } from '../format.js';
import { href } from '../router.js';

const STATUSES = ['', 'ASSIGNED', 'CLAIMED', 'COMPLETED', 'CANCELLED', 'TIMED_OUT', 'FAILED'];
const VIEWS = [
  { id: 'all', label: 'All' },
  { id: 'mine', label: 'Assigned to me' },
  { id: 'unclaimed', label: 'Group tasks' },
  { id: 'completed', label: 'Completed by me' },
];
const SORTS = [
  { id: 'due', label: 'Due date' },
  { id: 'priority', label: 'Priority' },
  { id: 'created', label: 'Created' },
];
const DUES = [
  { id: '', label: 'any time' },
  { id: 'overdue', label: 'overdue' },
  { id: 'today', label: 'today' },
  { id: 'week', label: 'this week' },
];
const PAGE = 20;
/** How often the list and the counts are read again (while the page is shown). */
export const REFRESH_MS = 5000;

function countText(c) {
  if (!c) return '';
  return c.more ? `${c.count}+` : String(c.count);
}

export function Inbox() {
  const [view, setView] = useState('all');
  const [status, setStatus] = useState('');
  const [sort, setSort] = useState('due');
  const [due, setDue] = useState('');
  const [filter, setFilter] = useState(NO_FILTER);
  const pages = useCursorPages();
  const { cursor } = pages;
  const [page, setPage] = useState(null);
  const [counts, setCounts] = useState(null);
  const [error, setError] = useState(null);
  const [claimed, setClaimed] = useState(null);
  // Bumped after a claim: the page is read again, in place.
  const [reads, setReads] = useState(0);
  const tags = useRef({ page: null, counts: null });

  const narrowed = filterParams(filter);
  // A search comes in its field's order: no sort or due window with it.
  const searching = Boolean(narrowed.field);
  const path =
    view === 'all'
      ? `/tasks${query({ status, limit: PAGE, cursor })}`
      : `/tasks${query({
          view,
          sort: searching ? '' : sort,
          due: view === 'completed' || searching ? '' : due,
          ...narrowed,
          limit: PAGE,
          cursor,
        })}`;
  const countsPath = `/tasks/counts${query(view === 'all' ? {} : narrowed)}`;

  const claim = async (task) => {
    setError(null);
    setClaimed(null);
    try {
      await api.post(`/tasks/${encodeURIComponent(task.taskInstanceId)}/claim`);
      setClaimed(`You claimed “${task.title || task.definition}”.`);
      setReads((n) => n + 1);
    } catch (e) {
      setError(explain(e, 'claim'));
    }
  };

  // The page asked for, then the same page again every REFRESH_MS: the
  // person keeps their place, and new work shows up without a reload.
  useEffect(() => {
    let live = true;
    tags.current = { page: null, counts: null };
    setPage(null);
    let ticks = 0;
    const read = async () => {
      try {
        const p = await api.getIfChanged(path, tags.current.page);
        // The counts read up to 1,000 keys per view: read again when the
        // page changed, else every sixth time.
        const withCounts = p.changed || ticks % 6 === 0;
        ticks += 1;
        const c = withCounts
          ? await api.getIfChanged(countsPath, tags.current.counts)
          : { changed: false };
        if (!live) return;
        if (p.changed) {
          tags.current.page = p.etag;
          setPage(p.value);
        }
        if (c.changed) {
          tags.current.counts = c.etag;
          setCounts(c.value);
        }
        setError(null);
      } catch (e) {
        if (live) setError(e.message);
      }
    };
    read();
    const timer = setInterval(() => document.visibilityState !== 'hidden' && read(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [path, countsPath, reads]);

  const choose = (set) => (value) => {
    set(value);
    pages.restart();
  };

  return (
    <section aria-labelledby="inbox-title">
      <h1 id="inbox-title">Inbox</h1>
      <NotificationSettings />
      <div className="tabs" role="group" aria-label="Views">
        {VIEWS.map((v) => (
          <button
            key={v.id}
            type="button"
            className={v.id === view ? 'tab tab-current' : 'tab'}
            aria-pressed={v.id === view}
            onClick={() => choose(setView)(v.id)}
          >
            {v.label}
            {counts && counts[v.id] ? (
              <span
                className="tab-count"
                aria-label={`${countText(counts[v.id])} ${countText(counts[v.id]) === '1' ? 'task' : 'tasks'}`}
              >
                {countText(counts[v.id])}
              </span>
            ) : null}
          </button>
        ))}
      </div>
      <div className="toolbar">
        {view === 'all' ? (
          <>
            <label htmlFor="inbox-status">Status</label>
            <select id="inbox-status" value={status} onChange={(e) => choose(setStatus)(e.target.value)}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s ? s.toLowerCase().replace('_', ' ') : 'all'}
                </option>
              ))}
            </select>
          </>
        ) : null}
        {(view === 'mine' || view === 'unclaimed') && !searching ? (
          <>
            <label htmlFor="inbox-sort">Sort by</label>
            <select id="inbox-sort" value={sort} onChange={(e) => choose(setSort)(e.target.value)}>
              {SORTS.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.label}
                </option>
              ))}
            </select>
            <label htmlFor="inbox-due">Due</label>
            <select id="inbox-due" value={due} onChange={(e) => choose(setDue)(e.target.value)}>
              {DUES.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.label}
                </option>
              ))}
            </select>
          </>
        ) : null}
      </div>
      {view !== 'all' ? <InboxFilter applied={filter} onApply={choose(setFilter)} /> : null}
      <Notice kind="error">{error}</Notice>
      <Notice kind="ok">{claimed}</Notice>
      {page === null && !error ? <p role="status">Loading…</p> : null}
      {page && page.items.length === 0 ? <p>Nothing here.</p> : null}
      {page && page.items.length > 0 ? (
        <ul className="cards" aria-label="Tasks">
          {page.items.map((t) => (
            <li key={t.taskInstanceId} className={isOverdue(t) ? 'card overdue' : 'card'}>
              <a href={href('tasks', t.taskInstanceId)} className="card-title">
                {t.title || t.definition}
              </a>
              {t.title ? <span className="card-definition">{t.definition}</span> : null}
              <span className={`status status-${t.status}`}>{t.status}</span>
              {isOverdue(t) ? <span className="badge-overdue">Overdue</span> : null}
              {t.actions && t.actions.includes('claim') ? (
                <button
                  type="button"
                  className="card-claim"
                  aria-label={`Claim ${t.title || t.definition}`}
                  onClick={() => claim(t)}
                >
                  Claim
                </button>
              ) : null}
              <dl className="facts">
                <dt>Assignee</dt>
                <dd>{assigneeText(t.assignee)}</dd>
                <dt>Due</dt>
                <dd>{t.dueAt ? <time dateTime={t.dueAt}>{when(t.dueAt)}</time> : '—'}</dd>
                {t.priority ? (
                  <>
                    <dt>Priority</dt>
                    <dd>{t.priority}</dd>
                  </>
                ) : null}
                {t.status === 'COMPLETED' && t.finishedAt ? (
                  <>
                    <dt>Completed</dt>
                    <dd>
                      <time dateTime={t.finishedAt}>{when(t.finishedAt)}</time>
                    </dd>
                  </>
                ) : (
                  <>
                    <dt>Created</dt>
                    <dd>
                      <time dateTime={t.createdAt}>{when(t.createdAt)}</time>
                    </dd>
                  </>
                )}
              </dl>
            </li>
          ))}
        </ul>
      ) : null}
      <Pager pages={pages} nextCursor={page && page.nextCursor} label="Pages" />
    </section>
  );
}
