import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toFormErrors } from '../../src/fieldErrors.js';

test("the API's field errors land where JSON Forms shows them", () => {
  const [missing, tooLong] = toFormErrors([
    { pointer: '', field: '/costCentre', schemaPath: '/required', message: '"costCentre" is a required property' },
    { pointer: '/comment', field: '/comment', schemaPath: '/properties/comment/minLength', message: 'too short' },
  ]);
  // JSON Forms puts a required error at instancePath + missingProperty.
  assert.deepEqual(missing, {
    instancePath: '',
    schemaPath: '#/required',
    keyword: 'required',
    params: { missingProperty: 'costCentre' },
    message: 'is required',
  });
  assert.equal(tooLong.instancePath, '/comment');
  assert.equal(tooLong.keyword, 'minLength');
  assert.equal(tooLong.message, 'too short');
});

test('nested and escaped names survive', () => {
  const [e] = toFormErrors([{ field: '/address/a~1b', schemaPath: '/properties/address/required', message: 'x' }]);
  assert.equal(e.instancePath, '/address');
  assert.equal(e.params.missingProperty, 'a/b');
});
