// The inbox's filter as the API's query parameters: one definition, and a
// search of one of its declared fields (`eq` or `prefix` for text, `eq` or
// `min`/`max` for numbers and dates). A search not yet complete asks for
// the definition alone.

export const NO_FILTER = { definition: '', field: '', op: 'eq', value: '', min: '', max: '' };

/** The API's parameters for a filter: `{ definition, field, eq | prefix | min, max }`. */
export function filterParams(filter) {
  if (!filter.definition) return {};
  const params = { definition: filter.definition };
  if (!filter.field) return params;
  if (filter.op === 'range') {
    if (!filter.min && !filter.max) return params;
    return { ...params, field: filter.field, min: filter.min, max: filter.max };
  }
  if (!filter.value) return params;
  return { ...params, field: filter.field, [filter.op]: filter.value };
}

