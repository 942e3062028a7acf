// A task's history as a timeline: one entry per transition.

import { when } from '../format.js';

export function History({ entries }) {
  if (!entries || entries.length === 0) return <p>No history yet.</p>;
  return (
    <ol className="timeline" aria-label="History">
      {entries.map((h) => (
        <li key={h.version}>
          <time dateTime={h.at}>{when(h.at)}</time>{' '}
          <strong>{h.action}</strong>{' '}
          <span className="muted">
            {h.from ? `${h.from} → ` : ''}
            {h.to}
            {h.attempt ? ` · attempt ${h.attempt}` : ''}
            {h.actor ? ` · by ${h.actor}` : ''}
            {h.durationMs !== undefined ? ` · ${h.durationMs} ms` : ''}
          </span>
          {h.details && h.details.error ? (
            <div className="muted">
              {h.details.error.code}: {h.details.error.message}
            </div>
          ) : null}
        </li>
      ))}
    </ol>
  );
}
