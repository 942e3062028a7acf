// The API's 422 field errors as the errors JSON Forms shows at each field
// (ajv's ErrorObject shape): `field` is the JSON pointer of the field the
// error is about (a missing required property's own path).

export function toFormErrors(errors) {
  return errors.map((e) => {
    const field = typeof e.field === 'string' ? e.field : e.pointer || '';
    const slash = field.lastIndexOf('/');
    const missing = (e.schemaPath || '').endsWith('/required');
    return {
      instancePath: missing ? field.slice(0, Math.max(slash, 0)) : field,
      schemaPath: `#${e.schemaPath || ''}`,
      keyword: missing ? 'required' : (e.schemaPath || '').split('/').pop() || 'server',
      params: missing ? { missingProperty: unescape(field.slice(slash + 1)) } : {},
      message: missing ? 'is required' : e.message,
    };
  });
}

function unescape(token) {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** "must be at least 5 characters" at "/comment" → "Comment: …" lines for a summary. */
export function summary(errors) {
  return errors.map((e) => `${e.field || e.pointer || '(the form)'}: ${e.message}`);
}
