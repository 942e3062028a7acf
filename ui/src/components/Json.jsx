// JSON or message text in a scrollable box that keyboard users can reach and scroll.

export function Json({ value, label }) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return (
    <pre className="json" tabIndex={0} aria-label={label}>
      {text}
    </pre>
  );
}
