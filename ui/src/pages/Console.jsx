// The operator console (admins): the stack's figures and charts, every task by
// status and definition, bulk retry and cancel by filter, dead letters
// with their reasons and redrive, and the definitions' catalogue.

import { useCallback, useEffect, useRef, useState } from 'react';
import { api, query } from '../api.js';
import { BulkActions } from '../components/BulkActions.jsx';
import { Charts } from '../components/Charts.jsx';
import { Json } from '../components/Json.jsx';
import { Notice } from '../components/Notice.jsx';
import { Pager, useCursorPages } from '../components/Pager.jsx';
import { assigneeText, when } from '../format.js';
import { href } from '../router.js';

const STATUSES = ['', 'CREATED', 'QUEUED', 'RUNNING', 'RETRY_WAIT', 'ASSIGNED', 'CLAIMED', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

/** What `load` answers, again whenever `deps` change; only the latest call's answer is shown. */
function useLoad(load, deps) {
  const [value, setValue] = useState(null);
  const [error, setError] = useState(null);
  const latest = useRef(0);
  const reload = useCallback(() => {
    const call = (latest.current += 1);
    const current = () => call === latest.current;
    load()
      .then((v) => current() && (setValue(v), setError(null)))
      .catch((e) => current() && setError(e.message));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(reload, [reload]);
  return [value, error, reload];
}

export function Console() {
  return (
    <div className="console">
      <h1>Operator console</h1>
      <Stats />
      <ChartsPanel />
      <Tasks />
      <Bulk />
      <DeadLetters />
      <Definitions />
    </div>
  );
}

function Stats() {
  const [stats, error, reload] = useLoad(() => api.get('/admin/stats'), []);
  return (
    <section className="panel" aria-labelledby="stats-title">
      <h2 id="stats-title">Queues and throughput</h2>
      <button type="button" onClick={reload}>
        Refresh
      </button>
      <Notice kind="error">{error}</Notice>
      {stats ? (
        <div className="columns">
          <table>
            <caption>Queues</caption>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Waiting</th>
                <th scope="col">In flight</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(stats.queues).map(([name, [waiting, inFlight]]) => (
                <tr key={name}>
                  <th scope="row">{name}</th>
                  <td>{waiting}</td>
                  <td>{inFlight}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table>
            <caption>Tasks by status{stats.partial ? ` (first ${stats.tasksRead} read)` : ''}</caption>
            <tbody>
              {Object.entries(stats.tasksByStatus)
                .filter(([, n]) => n > 0)
                .map(([status, n]) => (
                  <tr key={status}>
                    <th scope="row">{status}</th>
                    <td>{n}</td>
                  </tr>
                ))}
            </tbody>
          </table>
          <table>
            <caption>Throughput and attempt times (last {stats.windowMinutes} min)</caption>
            <tbody>
              <tr>
                <th scope="row">Finished, last minute</th>
                <td>{stats.finishedLastMinute}</td>
              </tr>
              <tr>
                <th scope="row">Finished, last 5 minutes</th>
                <td>{stats.finishedLast5Minutes}</td>
              </tr>
              {Object.entries(stats.executionMs).map(([type, [count, p50, p95]]) => (
                <tr key={type}>
                  <th scope="row">{type}</th>
                  <td>
                    {count} attempts · p50 {p50} ms · p95 {p95} ms
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function Tasks() {
  const [status, setStatus] = useState('');
  const [definition, setDefinition] = useState('');
  const pages = useCursorPages();
  const { cursor } = pages;
  const [catalog] = useLoad(() => api.get('/admin/definitions'), []);
  const [page, error] = useLoad(
    () => api.get(`/admin/tasks${query({ status, definition, cursor, limit: 25 })}`),
    [status, definition, cursor],
  );
  const restart = (set) => (e) => {
    set(e.target.value);
    pages.restart();
  };
  return (
    <section className="panel" aria-labelledby="tasks-title">
      <h2 id="tasks-title">Tasks</h2>
      <div className="toolbar">
        <label htmlFor="console-status">Status</label>
        <select id="console-status" value={status} onChange={restart(setStatus)}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s || 'all'}
            </option>
          ))}
        </select>
        <label htmlFor="console-definition">Definition</label>
        <select id="console-definition" value={definition} onChange={restart(setDefinition)}>
          <option value="">all</option>
          {(catalog ? catalog.items : []).map((d) => (
            <option key={d.name} value={d.name}>
              {d.name}
            </option>
          ))}
        </select>
      </div>
      <Notice kind="error">{error}</Notice>
      {page ? (
        <div className="scroll" tabIndex={0} role="region" aria-label="Tasks, scrollable">
          <table aria-label="Tasks">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Definition</th>
                <th scope="col">Status</th>
                <th scope="col">Assignee</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((t) => (
                <tr key={t.taskInstanceId}>
                  <td>
                    {/* Ids are UUIDv7: their start is the time, their end tells them apart. */}
                    <a className="mono" href={href('console', 'tasks', t.taskInstanceId)} title={t.taskInstanceId}>
                      …{t.taskInstanceId.slice(-12)}
                    </a>
                  </td>
                  <td>
                    {t.title ? <span className="console-title">{t.title}</span> : null}
                    <span className={t.title ? 'card-definition' : undefined}>{t.definition}</span>
                  </td>
                  <td>
                    <span className={`status status-${t.status}`}>{t.status}</span>
                  </td>
                  <td>{assigneeText(t.assignee)}</td>
                  <td>{when(t.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.items.length === 0 ? <p>No tasks on this page.</p> : null}
        </div>
      ) : null}
      <Pager pages={pages} nextCursor={page && page.nextCursor} label="Task pages" />
    </section>
  );
}

function ChartsPanel() {
  const [catalog, error] = useLoad(() => api.get('/admin/definitions'), []);
  if (error) return <Notice kind="error">{error}</Notice>;
  return <Charts definitions={catalog ? catalog.items.map((d) => d.name) : []} />;
}

function Bulk() {
  const [catalog, error] = useLoad(() => api.get('/admin/definitions'), []);
  if (error) return <Notice kind="error">{error}</Notice>;
  return <BulkActions definitions={catalog ? catalog.items.map((d) => d.name) : []} />;
}

function DeadLetters() {
  const [letters, error, reload] = useLoad(() => api.get('/admin/dead-letters'), []);
  const [catalog] = useLoad(() => api.get('/admin/definitions'), []);
  const [only, setOnly] = useState({});
  const [message, setMessage] = useState(null);
  const [failure, setFailure] = useState(null);
  const redrive = async (queue) => {
    setMessage(null);
    setFailure(null);
    try {
      const path = `/admin/dead-letters/${encodeURIComponent(queue)}/redrive${query({ definition: only[queue] })}`;
      const r = await api.post(path);
      setMessage(`Moved ${r.moved} message(s) back to the ${r.queue} queue.`);
      reload();
    } catch (e) {
      setFailure(e.message);
    }
  };
  return (
    <section className="panel" aria-labelledby="dlq-title">
      <h2 id="dlq-title">Dead letters</h2>
      <Notice kind="error">{error || failure}</Notice>
      <Notice kind="ok">{message}</Notice>
      {letters
        ? letters.queues.map((q) => (
            <div key={q.queue} className="dead-letter-queue">
              <h3>
                {q.queue} queue: {q.letters.length} message(s)
              </h3>
              {q.letters.length > 0 ? (
                <>
                  <ul>
                    {q.letters.map((l) => (
                      <li key={l.messageId}>
                        <span className="mono">{l.messageId.slice(0, 8)}</span>{' '}
                        {l.note && l.note.taskInstanceId ? (
                          <a href={href('console', 'tasks', l.note.taskInstanceId)}>task</a>
                        ) : null}{' '}
                        <span>{l.note ? l.note.reason : 'no reason recorded'}</span>
                        {l.sentAt ? <span className="muted"> · sent {when(l.sentAt)}</span> : null}
                        <Json value={l.body.slice(0, 300)} label="Message body" />
                      </li>
                    ))}
                  </ul>
                  <div className="toolbar">
                    {/* Only the messages naming a task of one definition; the rest stay. */}
                    <label htmlFor={`redrive-only-${q.queue}`}>Only tasks of</label>
                    <select
                      id={`redrive-only-${q.queue}`}
                      value={only[q.queue] || ''}
                      onChange={(e) => setOnly({ ...only, [q.queue]: e.target.value })}
                    >
                      <option value="">any definition</option>
                      {(catalog ? catalog.items : []).map((d) => (
                        <option key={d.name} value={d.name}>
                          {d.name}
                        </option>
                      ))}
                    </select>
                    <button type="button" onClick={() => redrive(q.queue)}>
                      Redrive the {q.queue} dead letters
                    </button>
                  </div>
                </>
              ) : null}
            </div>
          ))
        : null}
    </section>
  );
}

function Definitions() {
  const [catalog, error] = useLoad(() => api.get('/admin/definitions'), []);
  return (
    <section className="panel" aria-labelledby="definitions-title">
      <h2 id="definitions-title">Definitions</h2>
      <Notice kind="error">{error}</Notice>
      {catalog ? (
        <ul>
          {catalog.items.map((d) => (
            <li key={d.name}>
              <a href={href('console', 'definitions', d.name)}>{d.name}</a>{' '}
              <span className="muted">versions {d.versions.join(', ')}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
