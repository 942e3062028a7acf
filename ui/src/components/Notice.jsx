// A message read out to screen readers as it appears: errors as alerts, the rest as status.

export function Notice({ kind = 'info', children }) {
  if (!children) return null;
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}
