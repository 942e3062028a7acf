// The signed-in person's own notification channels (`/me/notifications`):
// mail about tasks given to them or their groups, and being named in the
// team chat's posts. Each change is saved at once.

import { useEffect, useState } from 'react';
import { api } from '../api.js';
import { Notice } from './Notice.jsx';

const CHANNELS = [
  { id: 'email', label: 'Email me about tasks given to me or my groups' },
  { id: 'webhook', label: 'Name me in the team chat’s posts' },
];

export function NotificationSettings() {
  const [preferences, setPreferences] = useState(null);
  const [saved, setSaved] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    api
      .get('/me/notifications')
      .then(setPreferences)
      .catch((e) => setError(e.message));
  }, []);

  // Shown at once, saved after; put back if the save fails.
  const change = async (channel, on) => {
    const before = preferences;
    const wanted = { ...preferences, [channel]: on };
    setPreferences(wanted);
    setSaved(null);
    setError(null);
    try {
      setPreferences(await api.put('/me/notifications', wanted));
      setSaved('Saved.');
    } catch (e) {
      setPreferences(before);
      setError(e.message);
    }
  };

  return (
    <details className="settings">
      <summary>Notifications</summary>
      {preferences
        ? CHANNELS.map((c) => (
            <label key={c.id} className="setting">
              <input
                type="checkbox"
                checked={preferences[c.id]}
                onChange={(e) => change(c.id, e.target.checked)}
              />
              {c.label}
            </label>
          ))
        : null}
      <Notice kind="error">{error}</Notice>
      <Notice kind="ok">{saved}</Notice>
    </details>
  );
}
