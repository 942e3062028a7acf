// Hash routes, so every view is one file the API serves (`/ui/`) and a
// link to a task works from anywhere: #/inbox, #/tasks/<id>, #/console,
// #/console/tasks/<id>, #/console/definitions/<name>.

import { useEffect, useState } from 'react';

export function parse(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'tasks' && parts[1]) return { view: 'task', id: parts[1] };
  if (parts[0] === 'console') {
    if (parts[1] === 'tasks' && parts[2]) return { view: 'console-task', id: parts[2] };
    if (parts[1] === 'definitions' && parts[2]) return { view: 'console-definition', name: parts[2] };
    return { view: 'console' };
  }
  return { view: 'inbox' };
}

export function useRoute() {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    // Only '#/…' is a route: the skip link's '#main' moves focus, not the page.
    const changed = () => location.hash.startsWith('#/') && setRoute(parse(location.hash));
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function href(...parts) {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}
