// The console's charts as uPlot draws them: the API's points turned into
// aligned columns (x in seconds, one array per line), the error codes kept
// to the most frequent few, and each chart's totals in words (what a screen
// reader is told in place of the drawing).

/** Windows the charts offer, in minutes. */
export const WINDOWS = [
  ['60', 'the last hour'],
  ['360', 'the last 6 hours'],
  ['1440', 'the last day'],
  ['10080', 'the last 7 days'],
];

/** Error codes drawn one line each; the rest are added up as "other". */
export const MAX_CODES = 6;

const seconds = (at) => Math.floor(new Date(at).getTime() / 1000);

/** Tasks created, completed, failed and cancelled per step. */
export function throughput(figures) {
  const p = figures.points;
  return {
    labels: ['created', 'completed', 'failed', 'cancelled'],
    data: [p.map((x) => seconds(x.at)), p.map((x) => x.created), p.map((x) => x.completed), p.map((x) => x.failed), p.map((x) => x.cancelled)],
  };
}

/** Attempt time p50 and p95 per step (gaps where nothing ran). */
export function attemptTimes(figures) {
  const p = figures.points;
  return {
    labels: ['p50', 'p95'],
    data: [p.map((x) => seconds(x.at)), p.map((x) => x.p50Ms), p.map((x) => x.p95Ms)],
  };
}

/** The codes seen in the window, most frequent first (ties by name). */
export function topCodes(errors, max = MAX_CODES) {
  return Object.entries(errors)
    .sort(([a, m], [b, n]) => n - m || a.localeCompare(b))
    .slice(0, max)
    .map(([code]) => code);
}

/** Failed attempts per step for each of the most frequent codes, and "other". */
export function failuresByCode(figures) {
  const codes = topCodes(figures.totals.errors);
  const p = figures.points;
  const data = [p.map((x) => seconds(x.at)), ...codes.map((code) => p.map((x) => x.errors[code] ?? 0))];
  const labels = [...codes];
  const others = Object.keys(figures.totals.errors).filter((c) => !codes.includes(c));
  if (others.length) {
    labels.push(`other (${others.length} codes)`);
    data.push(p.map((x) => others.reduce((sum, c) => sum + (x.errors[c] ?? 0), 0)));
  }
  return { labels, data };
}

/** Messages waiting in each queue per step (gaps where it was not sampled). */
export function queueDepths(depths) {
  const names = [...new Set(depths.points.flatMap((x) => Object.keys(x.queues)))].sort();
  return {
    labels: names,
    data: [depths.points.map((x) => seconds(x.at)), ...names.map((name) => depths.points.map((x) => x.queues[name]?.waiting ?? null))],
  };
}

/** A chart's figures in one sentence. */
export function summary(figures) {
  const t = figures.totals;
  const codes = topCodes(t.errors, 3).map((c) => `${c} ${t.errors[c]}`);
  const times = t.attempts ? `; ${t.attempts} attempts, p50 ${t.p50Ms} ms, p95 ${t.p95Ms} ms` : '';
  const failures = codes.length ? `; failed attempts: ${codes.join(', ')}` : '';
  return `${t.created} created, ${t.completed} completed, ${t.failed} failed, ${t.cancelled} cancelled${times}${failures}.`;
}

/** Failed attempts by code over the window, most frequent first, in one sentence. */
export function failureSummary(figures) {
  const errors = figures.totals.errors;
  const codes = topCodes(errors, Infinity);
  if (!codes.length) return 'No attempt failed in this window.';
  return `Failed attempts: ${codes.map((c) => `${c} ${errors[c]}`).join(', ')}.`;
}

/** The deepest each queue got over the window, in one sentence. */
export function depthSummary(depths) {
  const deepest = {};
  for (const point of depths.points) {
    for (const [name, d] of Object.entries(point.queues)) deepest[name] = Math.max(deepest[name] ?? 0, d.waiting);
  }
  const names = Object.keys(deepest).sort();
  if (!names.length) return 'No samples in this window.';
  return `Deepest: ${names.map((n) => `${n} ${deepest[n]}`).join(', ')}.`;
}
