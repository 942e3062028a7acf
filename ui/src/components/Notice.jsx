// A message read out to screen readers as it appears: errors as alerts, the rest as status.

export function Notice({ kind = 'info', children }) {
  if (!children) return null;
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** What an API failure means for the person, in words. */
export function explain(error, action) {
  if (!error) return null;
  if (error.status === 409) {
    return error.code === 'ALREADY_CLAIMED' || /claim/i.test(error.message)
      ? `Someone else claimed this task before you could ${action}. ${error.message}`
      : `This task changed before you could ${action} it (someone else acted on it): ${error.message}`;
  }
  if (error.status === 403) return `You may not ${action} this task: ${error.message}`;
  if (error.status === 404) return `No such task, or not one you may see.`;
  return error.message;
}
