import assert from 'node:assert/strict';
import { test } from 'node:test';
import { href, parse } from '../../src/router.js';

test('routes come from the hash', () => {
  assert.deepEqual(parse(''), { view: 'inbox' });
  assert.deepEqual(parse('#/inbox'), { view: 'inbox' });
  assert.deepEqual(parse('#/tasks/abc'), { view: 'task', id: 'abc' });
  assert.deepEqual(parse('#/console'), { view: 'console' });
  assert.deepEqual(parse('#/console/tasks/abc'), { view: 'console-task', id: 'abc' });
  assert.deepEqual(parse(href('console', 'definitions', 'a b')), { view: 'console-definition', name: 'a b' });
});
