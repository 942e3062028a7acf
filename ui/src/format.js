// Dates and statuses as people read them.

export const OPEN_STATUSES = ['CREATED', 'ASSIGNED', 'CLAIMED'];

export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function isOverdue(task, now = Date.now()) {
  return Boolean(task.dueAt) && OPEN_STATUSES.includes(task.status) && new Date(task.dueAt).getTime() < now;
}

export function assigneeText(assignee) {
  if (!assignee) return '—';
  const kind = String(assignee.type || assignee.kind || '').toLowerCase();
  return kind === 'group' ? `group ${assignee.id}` : assignee.id;
}
