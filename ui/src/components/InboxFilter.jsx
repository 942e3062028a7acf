// The inbox's filter: one definition's tasks (`definition`), and a search
// of a field that definition declares searchable — equal to or starting
// with a text, a number or date between two values. The definitions offered
// are those whose tasks may come to the person (`/tasks/definitions`).
// Applied when the form is submitted, so typing does not re-read the list.

import { useEffect, useState } from 'react';
import { api } from '../api.js';
import { NO_FILTER } from '../filter.js';

const TEXT_OPS = [
  { id: 'eq', label: 'is' },
  { id: 'prefix', label: 'starts with' },
];
const RANGE_OPS = [
  { id: 'eq', label: 'is' },
  { id: 'range', label: 'between' },
];

function ValueInput({ id, label, type, value, set }) {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <input id={id} type={type} step="any" value={value} onChange={(e) => set(e.target.value)} />
    </>
  );
}

export function InboxFilter({ applied, onApply }) {
  const [definitions, setDefinitions] = useState([]);
  const [draft, setDraft] = useState(applied);

  useEffect(() => {
    api
      .get('/tasks/definitions')
      .then((d) => setDefinitions(d.items))
      .catch(() => setDefinitions([]));
  }, []);

  const chosen = definitions.find((d) => d.name === draft.definition);
  const fields = chosen ? Object.entries(chosen.searchable) : [];
  const kind = chosen && draft.field ? chosen.searchable[draft.field] : null;
  const ops = kind === 'text' ? TEXT_OPS : RANGE_OPS;
  const inputType = kind === 'number' ? 'number' : kind === 'date' ? 'date' : 'text';
  const set = (change) => setDraft((d) => ({ ...d, ...change }));

  const submit = (e) => {
    e.preventDefault();
    onApply(draft);
  };
  const clear = () => {
    setDraft(NO_FILTER);
    onApply(NO_FILTER);
  };

  return (
    <form className="toolbar filter" role="search" aria-label="Filter tasks" onSubmit={submit}>
      <label htmlFor="filter-definition">Definition</label>
      <select
        id="filter-definition"
        value={draft.definition}
        onChange={(e) => set({ definition: e.target.value, field: '', op: 'eq', value: '', min: '', max: '' })}
      >
        <option value="">any</option>
        {definitions.map((d) => (
          <option key={d.name} value={d.name}>
            {d.name}
          </option>
        ))}
      </select>
      {fields.length > 0 ? (
        <>
          <label htmlFor="filter-field">Field</label>
          <select
            id="filter-field"
            value={draft.field}
            onChange={(e) => set({ field: e.target.value, op: 'eq', value: '', min: '', max: '' })}
          >
            <option value="">—</option>
            {fields.map(([name]) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </>
      ) : null}
      {kind ? (
        <>
          <label htmlFor="filter-op">Match</label>
          <select id="filter-op" value={draft.op} onChange={(e) => set({ op: e.target.value })}>
            {ops.map((o) => (
              <option key={o.id} value={o.id}>
                {o.label}
              </option>
            ))}
          </select>
          {draft.op === 'range' ? (
            <>
              <ValueInput id="filter-min" label="From" type={inputType} value={draft.min} set={(min) => set({ min })} />
              <ValueInput id="filter-max" label="To" type={inputType} value={draft.max} set={(max) => set({ max })} />
            </>
          ) : (
            <ValueInput
              id="filter-value"
              label="Value"
              type={inputType}
              value={draft.value}
              set={(value) => set({ value })}
            />
          )}
        </>
      ) : null}
      <button type="submit">Apply</button>
      {applied.definition ? (
        <button type="button" onClick={clear}>
          Clear
        </button>
      ) : null}
    </form>
  );
}
