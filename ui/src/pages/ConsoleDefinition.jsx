// One definition, any of its versions.

import { useEffect, useState } from 'react';
import { api } from '../api.js';
import { Json } from '../components/Json.jsx';
import { Notice } from '../components/Notice.jsx';
import { href } from '../router.js';

export function ConsoleDefinition({ name }) {
  const [versions, setVersions] = useState([]);
  const [version, setVersion] = useState(null);
  const [definition, setDefinition] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    api
      .get('/admin/definitions')
      .then((c) => {
        const found = c.items.find((d) => d.name === name);
        setVersions(found ? found.versions : []);
        setVersion(found ? found.latest : null);
      })
      .catch((e) => setError(e.message));
  }, [name]);
  useEffect(() => {
    if (version === null) return;
    api
      .get(`/definitions/${encodeURIComponent(name)}/versions/${version}`)
      .then(setDefinition)
      .catch((e) => setError(e.message));
  }, [name, version]);

  return (
    <article aria-labelledby="definition-title">
      <p>
        <a href={href('console')}>← Console</a>
      </p>
      <h1 id="definition-title">{name}</h1>
      <Notice kind="error">{error}</Notice>
      <div className="toolbar">
        <label htmlFor="definition-version">Version</label>
        <select id="definition-version" value={version ?? ''} onChange={(e) => setVersion(Number(e.target.value))}>
          {versions.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </div>
      {definition ? <Json value={definition} label="Definition" /> : null}
    </article>
  );
}
