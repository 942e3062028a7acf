// A bulk action's form as the API asks for it: the selection of
// `POST /operations` and the query of `GET /operations/matches`, with the
// statuses each action applies to and the ages the form offers.

export const ACTION_STATUSES = {
  retry: ['FAILED', 'TIMED_OUT'],
  cancel: ['RETRY_WAIT', 'ASSIGNED', 'CLAIMED'],
};

/** Ages offered for "since", in minutes ('' is any time). */
export const SINCE = [
  ['', 'any time'],
  ['60', 'the last hour'],
  ['1440', 'the last day'],
  ['10080', 'the last 7 days'],
];

export const NO_BULK = { action: 'retry', definition: '', statuses: [], errorCode: '', since: '', reason: '', rate: '20' };

/** The selection for `POST /operations`, as of `now` (a Date: when it was counted). */
export function bulkSelection(form, now = new Date()) {
  const selection = { definition: form.definition };
  const statuses = form.statuses.filter((s) => ACTION_STATUSES[form.action].includes(s));
  if (statuses.length) selection.statuses = statuses;
  if (form.errorCode.trim()) selection.errorCode = form.errorCode.trim();
  if (form.since) selection.since = new Date(now.getTime() - Number(form.since) * 60_000).toISOString();
  // The operation acts on what was counted: tasks that ended (or were
  // created) after the count are not added to it.
  selection.until = now.toISOString();
  return selection;
}

/** The body of `POST /operations`. */
export function bulkRequest(form, now = new Date()) {
  const body = { action: form.action, selection: bulkSelection(form, now) };
  const rate = Number(form.rate);
  if (Number.isInteger(rate) && rate > 0) body.ratePerSecond = rate;
  if (form.action === 'cancel' && form.reason.trim()) body.reason = form.reason.trim();
  return body;
}

/** The query parameters of `GET /operations/matches` for the same selection. */
export function matchParams(form, now = new Date()) {
  const selection = bulkSelection(form, now);
  const params = { action: form.action, definition: selection.definition };
  if (selection.statuses) params.status = selection.statuses.join(',');
  if (selection.errorCode) params.error = selection.errorCode;
  if (selection.since) params.since = selection.since;
  params.until = selection.until;
  return params;
}

/** How far an operation is, 0–1: what it settled of what it selected (1 once it ended). */
export function settled(operation) {
  const { selected, acted, skipped, failed } = operation.progress;
  if (operation.state !== 'RUNNING') return 1;
  return selected ? (acted + skipped + failed) / selected : 0;
}
