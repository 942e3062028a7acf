// The console's bulk actions: pick a definition's tasks by status, error
// code and age, see how many match, confirm, and follow the operation as
// the stack works through it (stop it if need be); the recent operations
// below, each with its progress.

import { useCallback, useEffect, useState } from 'react';
import { api, query } from '../api.js';
import { ACTION_STATUSES, NO_BULK, SINCE, bulkRequest, matchParams, settled } from '../bulk.js';
import { when } from '../format.js';
import { Notice } from './Notice.jsx';

const ACTION_VERB = { retry: 'Retry', cancel: 'Cancel' };

function progressText(operation) {
  const p = operation.progress;
  return `${p.acted} acted on, ${p.skipped} skipped, ${p.failed} failed of ${p.selected} selected`;
}

/** An operation's state and progress, polled while it runs. */
function OperationProgress({ operation, onChange }) {
  const [failure, setFailure] = useState(null);
  const running = operation.state === 'RUNNING';
  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(() => {
      api
        .get(`/operations/${operation.operationId}`)
        .then(onChange)
        .catch((e) => setFailure(e.message));
    }, 1000);
    return () => clearInterval(timer);
  }, [running, operation.operationId, onChange]);
  const stop = async () => {
    try {
      onChange(await api.post(`/operations/${operation.operationId}/stop`));
    } catch (e) {
      setFailure(e.message);
    }
  };
  const label = `Operation ${operation.action} of ${operation.selection.definition}`;
  return (
    <div className="operation" aria-live="polite">
      <progress max={1} value={settled(operation)} aria-label={label} />
      <p>
        <strong>{operation.state === 'DONE' ? 'Done' : operation.state.toLowerCase()}</strong>: {progressText(operation)}
        {operation.problem ? ` — ${operation.problem}` : ''}
      </p>
      <Notice kind="error">{failure}</Notice>
      {running ? (
        <button type="button" onClick={stop}>
          Stop this operation
        </button>
      ) : null}
    </div>
  );
}

export function BulkActions({ definitions }) {
  const [form, setForm] = useState(NO_BULK);
  const [count, setCount] = useState(null);
  // When the count was made: the operation selects up to then, as counted.
  const [countedAt, setCountedAt] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const [current, setCurrent] = useState(null);
  const [recent, setRecent] = useState(null);
  const [error, setError] = useState(null);
  const loadRecent = useCallback(() => {
    api
      .get(`/operations${query({ limit: 10 })}`)
      .then(setRecent)
      .catch((e) => setError(e.message));
  }, []);
  useEffect(loadRecent, [loadRecent]);
  const change = (field) => (e) => {
    setForm({ ...form, [field]: e.target.value });
    setCount(null);
    setConfirming(false);
  };
  const toggle = (status) => (e) => {
    const statuses = e.target.checked ? [...form.statuses, status] : form.statuses.filter((s) => s !== status);
    setForm({ ...form, statuses });
    setCount(null);
    setConfirming(false);
  };
  const countMatches = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const at = new Date();
      setCount(await api.get(`/operations/matches${query(matchParams(form, at))}`));
      setCountedAt(at);
    } catch (failure) {
      setError(failure.message);
    }
  };
  const start = async () => {
    setError(null);
    try {
      setCurrent(await api.post('/operations', bulkRequest(form, countedAt || new Date())));
      setConfirming(false);
      setCount(null);
      loadRecent();
    } catch (failure) {
      setError(failure.message);
    }
  };
  const followed = useCallback(
    (operation) => {
      setCurrent(operation);
      if (operation.state !== 'RUNNING') loadRecent();
    },
    [loadRecent],
  );
  const verb = ACTION_VERB[form.action];
  const many = count ? `${count.capped ? 'more than ' : ''}${count.count} task${count.count === 1 ? '' : 's'}` : '';
  return (
    <section className="panel" aria-labelledby="bulk-title">
      <h2 id="bulk-title">Bulk actions</h2>
      <form className="bulk-form" onSubmit={countMatches} aria-label="Select tasks">
        <label htmlFor="bulk-action">Action</label>
        <select id="bulk-action" value={form.action} onChange={change('action')}>
          <option value="retry">retry (failed, timed out)</option>
          <option value="cancel">cancel (waiting on a retry or a person)</option>
        </select>
        <label htmlFor="bulk-definition">Tasks of definition</label>
        <select id="bulk-definition" value={form.definition} onChange={change('definition')} required>
          <option value="">choose…</option>
          {definitions.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <fieldset>
          <legend>Statuses (none: all)</legend>
          {ACTION_STATUSES[form.action].map((status) => (
            <label key={status} className="check">
              <input type="checkbox" checked={form.statuses.includes(status)} onChange={toggle(status)} /> {status}
            </label>
          ))}
        </fieldset>
        <label htmlFor="bulk-error">Error code</label>
        <input id="bulk-error" value={form.errorCode} onChange={change('errorCode')} placeholder="any" />
        <label htmlFor="bulk-since">Since</label>
        <select id="bulk-since" value={form.since} onChange={change('since')}>
          {SINCE.map(([minutes, text]) => (
            <option key={minutes} value={minutes}>
              {text}
            </option>
          ))}
        </select>
        <label htmlFor="bulk-rate">Tasks per second</label>
        <input id="bulk-rate" type="number" min="1" max="500" value={form.rate} onChange={change('rate')} />
        {form.action === 'cancel' ? (
          <>
            <label htmlFor="bulk-reason">Reason</label>
            <input id="bulk-reason" value={form.reason} onChange={change('reason')} maxLength={500} />
          </>
        ) : null}
        <button type="submit">Count matching tasks</button>
      </form>
      <Notice kind="error">{error}</Notice>
      {count ? (
        <div className="bulk-count">
          <p role="status">
            {many} of {form.definition} match.
          </p>
          {count.count > 0 && !confirming ? (
            <button type="button" onClick={() => setConfirming(true)}>
              {verb} {many}…
            </button>
          ) : null}
          {confirming ? (
            <div role="alertdialog" aria-labelledby="bulk-confirm" className="confirm">
              <p id="bulk-confirm">
                {verb} {many} of {form.definition}? This runs in the background at {form.rate} a second.
              </p>
              <button type="button" onClick={start}>
                Confirm: {verb.toLowerCase()} {many}
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Back
              </button>
            </div>
          ) : null}
        </div>
      ) : null}
      {current ? <OperationProgress operation={current} onChange={followed} /> : null}
      {recent && recent.items.length ? (
        <div className="scroll" tabIndex={0} role="region" aria-label="Recent operations, scrollable">
          <table aria-label="Recent operations">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Action</th>
                <th scope="col">Definition</th>
                <th scope="col">By</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
              </tr>
            </thead>
            <tbody>
              {recent.items.map((o) => (
                <tr key={o.operationId}>
                  <td>{when(o.createdAt)}</td>
                  <td>{o.action}</td>
                  <td>{o.selection.definition}</td>
                  <td>{o.startedBy.user}</td>
                  <td>{o.state}</td>
                  <td>{progressText(o)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
