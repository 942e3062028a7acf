// A task for operators: everything about it, its history and the events
// it published, and reassign / cancel / retry / replay with corrected input.

import { useCallback, useEffect, useState } from 'react';
import { api } from '../api.js';
import { History } from '../components/History.jsx';
import { Json } from '../components/Json.jsx';
import { Notice } from '../components/Notice.jsx';
import { Timeline } from '../components/Timeline.jsx';
import { explain } from '../explain.js';
import { assigneeText } from '../format.js';
import { href } from '../router.js';

export function ConsoleTask({ id }) {
  const [view, setView] = useState(null);
  const [events, setEvents] = useState([]);
  const [problem, setProblem] = useState(null);
  const [message, setMessage] = useState(null);
  const [reason, setReason] = useState('');
  const [assigneeType, setAssigneeType] = useState('USER');
  const [assigneeId, setAssigneeId] = useState('');
  const [correctedInput, setCorrectedInput] = useState(null);

  const load = useCallback(async () => {
    const path = encodeURIComponent(id);
    setView(await api.get(`/tasks/${path}`));
    setEvents((await api.get(`/admin/tasks/${path}/events`)).items);
  }, [id]);
  useEffect(() => {
    load().catch((e) => setProblem(explain(e, 'open')));
  }, [load]);

  const act = async (action, body, done) => {
    setProblem(null);
    setMessage(null);
    try {
      await api.post(`/tasks/${encodeURIComponent(id)}/${action}`, body);
      setMessage(done);
      await load();
    } catch (e) {
      const where = (e.errors || []).map((f) => `${f.pointer || '/'}: ${f.message}`);
      setProblem([explain(e, action), ...where].join(' '));
    }
  };

  const replay = (e) => {
    e.preventDefault();
    let input;
    try {
      input = JSON.parse(correctedInput);
    } catch (err) {
      setProblem(`The corrected input is not JSON: ${err.message}`);
      return;
    }
    act('replay', { input }, 'Task replayed with the corrected input.').then(() => setCorrectedInput(null));
  };

  if (!view) return problem ? <Notice kind="error">{problem}</Notice> : <p role="status">Loading…</p>;
  const { task, history, actions, previousInputs, timeline, traceId } = view;
  const editing = correctedInput ?? JSON.stringify(task.input ?? {}, null, 2);
  return (
    <article aria-labelledby="console-task-title">
      <p>
        <a href={href('console')}>← Console</a>
      </p>
      <h1 id="console-task-title">
        {task.definitionName} v{task.definitionVersion}{' '}
        <span className={`status status-${task.status}`}>{task.status}</span>
      </h1>
      <dl className="facts">
        <dt>Task id</dt>
        <dd className="mono">{task.taskInstanceId}</dd>
        <dt>Workflow</dt>
        <dd className="mono">
          {task.workflowInstanceId} / {task.stepId}
        </dd>
        <dt>Assignee</dt>
        <dd>{assigneeText(task.assignee)}</dd>
        <dt>Attempt</dt>
        <dd>{task.attempt}</dd>
        <dt>Trace</dt>
        <dd className="mono">{traceId || '—'}</dd>
      </dl>
      <Notice kind="error">{problem}</Notice>
      <Notice kind="ok">{message}</Notice>
      <section className="panel" aria-labelledby="operate-title">
        <h2 id="operate-title">Actions</h2>
        {actions.includes('cancel') ? (
          <form
            className="inline-form"
            onSubmit={(e) => (e.preventDefault(), act('cancel', { reason }, 'Task cancelled.'))}
          >
            <label htmlFor="cancel-reason">Reason</label>
            <input id="cancel-reason" value={reason} onChange={(e) => setReason(e.target.value)} required />
            <button type="submit">Cancel task</button>
          </form>
        ) : null}
        {actions.includes('reassign') ? (
          <form
            className="inline-form"
            onSubmit={(e) => (
              e.preventDefault(), act('reassign', { type: assigneeType, id: assigneeId }, 'Task reassigned.')
            )}
          >
            <label htmlFor="reassign-type">Assign to</label>
            <select id="reassign-type" value={assigneeType} onChange={(e) => setAssigneeType(e.target.value)}>
              <option value="USER">user</option>
              <option value="GROUP">group</option>
            </select>
            <label htmlFor="reassign-id">Id</label>
            <input id="reassign-id" value={assigneeId} onChange={(e) => setAssigneeId(e.target.value)} required />
            <button type="submit">Reassign</button>
          </form>
        ) : null}
        {actions.includes('retry') ? (
          <button type="button" onClick={() => act('retry', {}, 'Task retried.')}>
            Retry task
          </button>
        ) : null}
        {actions.includes('replay') ? (
          <form className="replay-form" onSubmit={replay}>
            <label htmlFor="replay-input">Corrected input (JSON)</label>
            <textarea
              id="replay-input"
              rows={8}
              className="mono"
              value={editing}
              onChange={(e) => setCorrectedInput(e.target.value)}
            />
            <button type="submit">Replay with this input</button>
          </form>
        ) : null}
        {!['cancel', 'reassign', 'retry', 'replay'].some((a) => actions.includes(a)) ? (
          <p>No action applies now.</p>
        ) : null}
      </section>
      {previousInputs ? (
        <section className="panel" aria-labelledby="previous-title">
          <h2 id="previous-title">Replaced inputs</h2>
          <ol aria-label="Replaced inputs">
            {previousInputs.map((p) => (
              <li key={p.version}>
                replaced by {p.by || 'tel'} at version {p.version}:{' '}
                {p.url ? <a href={p.url}>read it (15 minutes)</a> : <Json value={p.input} label={`Input before version ${p.version}`} />}
              </li>
            ))}
          </ol>
        </section>
      ) : null}
      <section className="panel" aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <Timeline spans={timeline} />
      </section>
      <section className="panel" aria-labelledby="console-history-title">
        <h2 id="console-history-title">History</h2>
        <History entries={history} />
      </section>
      <section className="panel" aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        <ol className="timeline" aria-label="Events">
          {events.map((e) => (
            <li key={e.detail.eventId}>
              <strong>{e.detailType}</strong> <span className="muted mono">{e.detail.eventId}</span>
            </li>
          ))}
        </ol>
      </section>
      <section className="panel" aria-labelledby="record-title">
        <h2 id="record-title">Record</h2>
        <Json value={task} label="Task record" />
      </section>
    </article>
  );
}
