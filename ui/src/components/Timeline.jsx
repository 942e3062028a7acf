// A task's life drawn to scale: each span (queued, an attempt running, a
// retry's wait, with a person) as a bar placed by when it began and sized by
// how long it took; the numbers are in the text for everyone.

const LABELS = { queued: 'queued', running: 'running', waiting: 'waiting to retry', withPerson: 'with a person' };

function took(ms) {
  return ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60000).toFixed(1)} min`;
}

export function Timeline({ spans }) {
  if (!spans || spans.length === 0) return <p>Nothing yet.</p>;
  const start = Date.parse(spans[0].from);
  const whole = Math.max(1, Date.parse(spans[spans.length - 1].to) - start);
  return (
    <ol className="spans" aria-label="Timeline">
      {spans.map((s) => {
        const from = Date.parse(s.from) - start;
        const ms = Date.parse(s.to) - Date.parse(s.from);
        const label = `${LABELS[s.kind] || s.kind}${s.attempt ? ` (attempt ${s.attempt})` : ''}`;
        return (
          <li key={`${s.kind}-${s.from}`} className={`span span-${s.kind}`}>
            <span className="span-label">
              {label}: {took(ms)}
              {s.open ? ' so far' : ''}
            </span>
            <span className="span-track" aria-hidden="true">
              <span
                className="span-bar"
                style={{ left: `${(100 * from) / whole}%`, width: `${Math.max(0.5, (100 * ms) / whole)}%` }}
              />
            </span>
          </li>
        );
      })}
    </ol>
  );
}
