import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_BULK, bulkRequest, matchParams, settled } from '../../src/bulk.js';

const now = new Date('2026-12-03T12:00:00Z');

test('a bulk retry asks for its definition, statuses, error code and age', () => {
  const form = { ...NO_BULK, definition: 'charge', statuses: ['FAILED'], errorCode: ' INTEGRATION_ERROR ', since: '60' };
  assert.deepEqual(bulkRequest(form, now), {
    action: 'retry',
    selection: {
      definition: 'charge',
      statuses: ['FAILED'],
      errorCode: 'INTEGRATION_ERROR',
      since: '2026-12-03T11:00:00.000Z',
      until: '2026-12-03T12:00:00.000Z',
    },
    ratePerSecond: 20,
  });
  assert.deepEqual(matchParams(form, now), {
    action: 'retry',
    definition: 'charge',
    status: 'FAILED',
    error: 'INTEGRATION_ERROR',
    since: '2026-12-03T11:00:00.000Z',
    until: '2026-12-03T12:00:00.000Z',
  });
});

test("statuses the action does not apply to are dropped, and only a cancel keeps its reason", () => {
  const form = { ...NO_BULK, action: 'cancel', definition: 'approve', statuses: ['FAILED', 'ASSIGNED'], reason: 'retired' };
  assert.deepEqual(bulkRequest(form, now), {
    action: 'cancel',
    selection: { definition: 'approve', statuses: ['ASSIGNED'], until: '2026-12-03T12:00:00.000Z' },
    ratePerSecond: 20,
    reason: 'retired',
  });
  assert.equal(bulkRequest({ ...form, action: 'retry' }, now).reason, undefined);
  assert.deepEqual(matchParams({ ...NO_BULK, definition: 'charge' }, now), {
    action: 'retry',
    definition: 'charge',
    until: '2026-12-03T12:00:00.000Z',
  });
});

test('progress is what was settled of what was selected', () => {
  const progress = (selected, acted) => ({ selected, acted, skipped: 0, failed: 0 });
  assert.equal(settled({ state: 'RUNNING', progress: progress(0, 0) }), 0);
  assert.equal(settled({ state: 'RUNNING', progress: progress(40, 10) }), 0.25);
  assert.equal(settled({ state: 'DONE', progress: progress(40, 40) }), 1);
});
