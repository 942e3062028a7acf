// tel's UI: sign in, then the inbox, a task, or the operator console.

import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { whenUnauthenticated } from './api.js';
import { Notice } from './components/Notice.jsx';
import { ConsoleDefinition } from './pages/ConsoleDefinition.jsx';
import { Console } from './pages/Console.jsx';
import { ConsoleTask } from './pages/ConsoleTask.jsx';
import { Inbox } from './pages/Inbox.jsx';
import { SignIn } from './pages/SignIn.jsx';
import { TaskPage } from './pages/TaskPage.jsx';
import { useRoute } from './router.js';
import * as session from './session.js';

function App({ config }) {
  const route = useRoute();
  const [who, setWho] = useState(() => session.person(config));
  useEffect(() => whenUnauthenticated(() => (session.signOut(), setWho(null))), []);
  if (!who) return <SignIn config={config} onSignedIn={() => setWho(session.person(config))} />;
  const page = {
    inbox: () => <Inbox />,
    task: () => <TaskPage key={route.id} id={route.id} me={who.user} />,
    console: () => (who.admin ? <Console /> : <Notice kind="error">The console is for admins.</Notice>),
    'console-task': () => <ConsoleTask key={route.id} id={route.id} />,
    'console-definition': () => <ConsoleDefinition key={route.name} name={route.name} />,
  }[route.view];
  return (
    <>
      <header className="top">
        <a className="brand" href="#/inbox">
          tel
        </a>
        <nav aria-label="Main">
          <a href="#/inbox" aria-current={route.view === 'inbox' ? 'page' : undefined}>
            Inbox
          </a>
          {who.admin ? (
            <a href="#/console" aria-current={route.view.startsWith('console') ? 'page' : undefined}>
              Console
            </a>
          ) : null}
        </nav>
        <span className="who">
          {who.name}
          <button type="button" className="link" onClick={() => (session.signOut(), setWho(null))}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {page()}
      </main>
    </>
  );
}

async function boot() {
  const root = createRoot(document.getElementById('root'));
  try {
    const response = await fetch('/ui/config.json');
    const config = await response.json();
    await session.start(config);
    root.render(<App config={config} />);
  } catch (e) {
    root.render(<Notice kind="error">The page could not start: {e.message}</Notice>);
  }
}

boot();
