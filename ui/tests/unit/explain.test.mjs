import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conflict, explain } from '../../src/explain.js';
import { isOverdue } from '../../src/format.js';

test('a 409 on a task someone else claimed says who', () => {
  const now = { task: { status: 'CLAIMED', assignee: { type: 'USER', id: 'erik' } } };
  assert.equal(conflict(now, 'dana', 'claim'), 'Someone else (erik) claimed this task before you could claim it.');
  // Claimed by the person themself (another tab): what it is now, not "someone else".
  assert.match(conflict(now, 'erik', 'claim'), /it is now CLAIMED/);
  assert.match(conflict({ task: { status: 'CANCELLED' } }, 'dana', 'complete'), /now CANCELLED/);
  assert.equal(conflict(null, 'dana', 'claim'), null);
});

test('other failures are said plainly', () => {
  assert.match(explain({ status: 403, message: 'no' }, 'cancel'), /^You may not cancel this task/);
  assert.match(explain({ status: 404, message: 'x' }, 'open'), /No such task/);
});

test('open tasks past their due time are overdue, finished ones never', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');
  assert.equal(isOverdue({ status: 'ASSIGNED', dueAt: '2026-11-28T11:00:00Z' }, now), true);
  assert.equal(isOverdue({ status: 'ASSIGNED', dueAt: '2026-11-28T13:00:00Z' }, now), false);
  assert.equal(isOverdue({ status: 'COMPLETED', dueAt: '2026-11-28T11:00:00Z' }, now), false);
  assert.equal(isOverdue({ status: 'CLAIMED' }, now), false);
});
