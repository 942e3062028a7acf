import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptTimes, depthSummary, failureSummary, failuresByCode, queueDepths, summary, throughput, topCodes } from '../../src/charts.js';

const point = (at, fields = {}) => ({ at, created: 0, completed: 0, failed: 0, cancelled: 0, attempts: 0, p50Ms: null, p95Ms: null, errors: {}, ...fields });

const figures = {
  points: [
    point('2026-12-03T10:00:00Z', { created: 3, completed: 2, attempts: 2, p50Ms: 40, p95Ms: 90, errors: { A: 1 } }),
    point('2026-12-03T10:01:00Z', { failed: 1, errors: { A: 2, B: 1, C: 1, D: 1, E: 1, F: 1, G: 1 } }),
  ],
  totals: { created: 3, completed: 2, failed: 1, cancelled: 0, attempts: 2, p50Ms: 40, p95Ms: 90, errors: { A: 3, B: 1, C: 1, D: 1, E: 1, F: 1, G: 1 } },
};

test('throughput and attempt times are columns on one time axis', () => {
  const t = throughput(figures);
  assert.deepEqual(t.data[0], [1796292000, 1796292060]);
  assert.deepEqual(t.data[2], [2, 0]);
  assert.deepEqual(attemptTimes(figures).data[1], [40, null]);
});

test('the most frequent codes get a line each and the rest one line together', () => {
  assert.deepEqual(topCodes(figures.totals.errors), ['A', 'B', 'C', 'D', 'E', 'F']);
  const f = failuresByCode(figures);
  assert.deepEqual(f.labels, ['A', 'B', 'C', 'D', 'E', 'F', 'other (1 codes)']);
  assert.deepEqual(f.data[1], [1, 2]);
  assert.deepEqual(f.data[7], [0, 1]);
});

test('queue depths leave gaps where a queue was not sampled', () => {
  const depths = { points: [{ at: '2026-12-03T10:00:00Z', queues: { execute: { waiting: 4, inFlight: 1 } } }, { at: '2026-12-03T10:01:00Z', queues: {} }] };
  const q = queueDepths(depths);
  assert.deepEqual(q.labels, ['execute']);
  assert.deepEqual(q.data[1], [4, null]);
  assert.equal(depthSummary(depths), 'Deepest: execute 4.');
  assert.equal(depthSummary({ points: [] }), 'No samples in this window.');
});

test('the summary says the totals in words', () => {
  assert.equal(summary(figures), '3 created, 2 completed, 1 failed, 0 cancelled; 2 attempts, p50 40 ms, p95 90 ms; failed attempts: A 3, B 1, C 1.');
});

test('failures are said most frequent first', () => {
  assert.equal(failureSummary(figures), 'Failed attempts: A 3, B 1, C 1, D 1, E 1, F 1, G 1.');
  assert.equal(failureSummary({ totals: { errors: {} } }), 'No attempt failed in this window.');
});
