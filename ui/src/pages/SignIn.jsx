// Signing in: through the OIDC issuer in AWS, or locally with a development
// token (tel dev prints a link that signs in by itself; `tel token` mints one).

import { useState } from 'react';
import { Notice } from '../components/Notice.jsx';
import * as session from '../session.js';

export function SignIn({ config, onSignedIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  return (
    <main id="main" className="sign-in">
      <h1>Sign in to tel</h1>
      <Notice kind="error">{error}</Notice>
      {config.signIn === 'oidc' ? (
        <button
          type="button"
          className="primary"
          onClick={() => session.beginOidc(config).catch((e) => setError(e.message))}
        >
          Sign in with your organisation
        </button>
      ) : null}
      {config.signIn === 'dev' ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            session.useToken(token);
            if (session.person(config)) onSignedIn();
            else setError('That is not a token.');
          }}
        >
          <p>
            Open the link <code>tel dev</code> printed, or paste a token from <code>tel token</code>.
          </p>
          <label htmlFor="dev-token">Development token</label>
          <textarea id="dev-token" rows="4" value={token} onChange={(e) => setToken(e.target.value)} />
          <button type="submit" className="primary">
            Sign in
          </button>
        </form>
      ) : null}
      {config.signIn === 'unconfigured' ? (
        <p>
          Sign-in is not configured for this deployment: the API needs <code>TEL_OIDC_ISSUER</code> and{' '}
          <code>TEL_OIDC_CLIENT_ID</code> (the template sets them from <code>JwtIssuer</code> and{' '}
          <code>JwtAudience</code>).
        </p>
      ) : null}
    </main>
  );
}
