// The signed-in person's tasks and their groups': filter by status, page
// with the API's cursor, due dates with overdue marks, and a claim straight
// from the list for a task a group holds.

import { useEffect, useState } from 'react';
import { api, query } from '../api.js';
import { Notice } from '../components/Notice.jsx';
import { explain } from '../explain.js';
import { Pager, useCursorPages } from '../components/Pager.jsx';
import { assigneeText, isOverdue, when } from '../format.js';
import { href } from '../router.js';

const STATUSES = ['', 'ASSIGNED', 'CLAIMED', 'COMPLETED', 'CANCELLED', 'TIMED_OUT', 'FAILED'];
const PAGE = 20;

export function Inbox() {
  const [status, setStatus] = useState('');
  const pages = useCursorPages();
  const { cursor } = pages;
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [claimed, setClaimed] = useState(null);
  // Bumped after a claim: the page is read again, in place.
  const [reads, setReads] = useState(0);

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

  useEffect(() => {
    let live = true;
    setPage(null);
    api
      .get(`/tasks${query({ status, limit: PAGE, cursor })}`)
      .then((p) => live && (setPage(p), setError(null)))
      .catch((e) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [status, cursor, reads]);

  const filter = (value) => {
    setStatus(value);
    pages.restart();
  };

  return (
    <section aria-labelledby="inbox-title">
      <h1 id="inbox-title">Inbox</h1>
      <div className="toolbar">
        <label htmlFor="inbox-status">Status</label>
        <select id="inbox-status" value={status} onChange={(e) => filter(e.target.value)}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s ? s.toLowerCase().replace('_', ' ') : 'all'}
            </option>
          ))}
        </select>
      </div>
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
                <dt>Created</dt>
                <dd>
                  <time dateTime={t.createdAt}>{when(t.createdAt)}</time>
                </dd>
              </dl>
            </li>
          ))}
        </ul>
      ) : null}
      <Pager pages={pages} nextCursor={page && page.nextCursor} label="Pages" />
    </section>
  );
}
