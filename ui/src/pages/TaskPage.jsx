// One task: its input read-only, the output form to fill in, claim /
// unclaim / complete, server errors at their fields, and the history.

import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api.js';
import { Form } from '../components/Form.jsx';
import { History } from '../components/History.jsx';
import { Json } from '../components/Json.jsx';
import { Notice } from '../components/Notice.jsx';
import { conflict, explain } from '../explain.js';
import { summary, toFormErrors } from '../fieldErrors.js';
import { assigneeText, isOverdue, when } from '../format.js';

/** Longer than JSON Forms' 10 ms debounce of change events. */
const CHANGE_DEBOUNCE_MS = 30;

export function TaskPage({ id, me }) {
  const [view, setView] = useState(null);
  const [form, setForm] = useState(null);
  // The form's latest data, in a ref rather than state: JSON Forms reports
  // changes 10 ms late (debounced), and a re-render for each report would
  // hand it data older than what was typed since. Re-renders for other
  // reasons (errors, messages) hand it this, which it already holds; a
  // submit waits out the debounce first.
  const latest = useRef(null);
  const changed = (data) => {
    latest.current = data;
  };
  const [fieldErrors, setFieldErrors] = useState([]);
  const [problem, setProblem] = useState(null);
  const [message, setMessage] = useState(null);
  const [busy, setBusy] = useState(false);

  // The form is read on opening (and after a conflict), not after each of
  // the person's own actions: a re-read would replace what they are typing.
  const load = useCallback(async ({ withForm = true } = {}) => {
    const v = await api.get(`/tasks/${encodeURIComponent(id)}`);
    setView(v);
    if (withForm && v.task.taskType === 'manual') {
      const f = await api.get(`/tasks/${encodeURIComponent(id)}/form`);
      setForm(f);
      changed(f.output.data);
    }
    return v;
  }, [id]);

  useEffect(() => {
    load().catch((e) => setProblem(explain(e, 'open')));
  }, [load]);

  const act = async (action, body) => {
    setBusy(true);
    setProblem(null);
    setMessage(null);
    try {
      await api.post(`/tasks/${encodeURIComponent(id)}/${action}`, body);
      setFieldErrors([]);
      await load({ withForm: false });
      setMessage(
        { claim: 'You claimed this task.', unclaim: 'You gave this task back.', complete: 'Task completed.' }[action],
      );
    } catch (e) {
      if (e.status === 422 && e.errors.length > 0) {
        setFieldErrors(e.errors);
        setProblem(`The form has ${e.errors.length} error(s); they are shown at their fields.`);
      } else if (e.status === 409) {
        // Read the task again and say what happened to it.
        const now = await load().catch(() => null);
        setProblem(conflict(now, me, action) || explain(e, action));
      } else {
        setProblem(explain(e, action));
      }
    } finally {
      setBusy(false);
    }
  };

  if (!view) {
    return problem ? <Notice kind="error">{problem}</Notice> : <p role="status">Loading…</p>;
  }
  const { task, title, history, actions } = view;
  const may = (a) => actions.includes(a);
  return (
    <article aria-labelledby="task-title">
      <p>
        <a href="#/inbox">← Inbox</a>
      </p>
      <h1 id="task-title">{title || task.definitionName}</h1>
      {title ? (
        <p className="definition-line">
          {task.definitionName}:{task.definitionVersion}
        </p>
      ) : null}
      <p>
        <span className={`status status-${task.status}`}>{task.status}</span>{' '}
        {isOverdue(task) ? <span className="badge-overdue">Overdue</span> : null}
      </p>
      <dl className="facts">
        <dt>Assignee</dt>
        <dd>{assigneeText(task.assignee)}</dd>
        <dt>Due</dt>
        <dd>{task.dueAt ? <time dateTime={task.dueAt}>{when(task.dueAt)}</time> : '—'}</dd>
        <dt>Task id</dt>
        <dd className="mono">{task.taskInstanceId}</dd>
      </dl>
      <Notice kind="error">{problem}</Notice>
      <Notice kind="ok">{message}</Notice>
      {form ? (
        <>
          <section aria-labelledby="input-title" className="panel">
            <h2 id="input-title">Request</h2>
            <Form part={form.input} data={form.input.data} readonly />
          </section>
          <section aria-labelledby="output-title" className="panel">
            <h2 id="output-title">Your answer</h2>
            <form
              aria-labelledby="output-title"
              onSubmit={async (e) => {
                e.preventDefault();
                await new Promise((settled) => setTimeout(settled, CHANGE_DEBOUNCE_MS));
                act('complete', { output: latest.current });
              }}
            >
              <Form
                part={form.output}
                data={latest.current}
                onChange={changed}
                readonly={!may('complete')}
                errors={toFormErrors(fieldErrors)}
              />
              {fieldErrors.length > 0 ? (
                <ul className="error-summary" aria-label="Errors">
                  {summary(fieldErrors).map((line) => (
                    <li key={line}>{line}</li>
                  ))}
                </ul>
              ) : null}
              <div className="actions">
                {may('claim') ? (
                  <button type="button" disabled={busy} onClick={() => act('claim')}>
                    Claim
                  </button>
                ) : null}
                {may('unclaim') ? (
                  <button type="button" disabled={busy} onClick={() => act('unclaim')}>
                    Unclaim
                  </button>
                ) : null}
                {may('complete') ? (
                  <button type="submit" className="primary" disabled={busy}>
                    Complete
                  </button>
                ) : null}
              </div>
            </form>
          </section>
        </>
      ) : (
        <section className="panel" aria-labelledby="data-title">
          <h2 id="data-title">Data</h2>
          <Json value={{ input: task.input, output: task.output, error: task.error }} label="Task data" />
        </section>
      )}
      <section aria-labelledby="history-title" className="panel">
        <h2 id="history-title">History</h2>
        <History entries={history} />
      </section>
    </article>
  );
}
