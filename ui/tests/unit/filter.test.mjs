import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_FILTER, filterParams } from '../../src/filter.js';

test('a filter asks for its definition and, once complete, its search', () => {
  assert.deepEqual(filterParams(NO_FILTER), {});
  const approve = { ...NO_FILTER, definition: 'approve' };
  assert.deepEqual(filterParams(approve), { definition: 'approve' });
  assert.deepEqual(filterParams({ ...approve, field: 'employee', value: '' }), { definition: 'approve' });
  assert.deepEqual(filterParams({ ...approve, field: 'employee', op: 'prefix', value: 'al' }), {
    definition: 'approve',
    field: 'employee',
    prefix: 'al',
  });
  assert.deepEqual(filterParams({ ...approve, field: 'amount', op: 'range', min: '100', max: '' }), {
    definition: 'approve',
    field: 'amount',
    min: '100',
    max: '',
  });
  assert.deepEqual(filterParams({ ...approve, field: 'amount', op: 'range' }), { definition: 'approve' });
  // A field without a definition is no search.
  assert.deepEqual(filterParams({ ...NO_FILTER, field: 'amount', value: '1' }), {});
});
