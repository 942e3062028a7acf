// Calls to the API on this origin with the signed-in token; problems
// (application/problem+json) become ApiError with their code and field errors.

import { currentToken } from './session.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `the API answered ${status}`);
    this.status = status;
    this.code = problem.code;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

let onUnauthenticated = () => {};

export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

async function send(method, path, body, extra = {}) {
  const headers = { accept: 'application/json', ...extra };
  const token = currentToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 304) return { response, value: null };
  const text = await response.text();
  let value = null;
  try {
    value = text ? JSON.parse(text) : null;
  } catch {
    value = { detail: text };
  }
  if (!response.ok) {
    if (response.status === 401) onUnauthenticated();
    throw new ApiError(response.status, value || {});
  }
  return { response, value };
}

async function call(method, path, body) {
  return (await send(method, path, body)).value;
}

export const api = {
  get: (path) => call('GET', path),
  post: (path, body = {}) => call('POST', path, body),
  put: (path, body = {}) => call('PUT', path, body),
  /** A read that costs no body while the answer is the one the caller has
   * (its ETag): `{ changed: false }`, else `{ changed: true, value, etag }`. */
  getIfChanged: async (path, etag) => {
    const { response, value } = await send('GET', path, undefined, etag ? { 'if-none-match': etag } : {});
    if (response.status === 304) return { changed: false, etag };
    return { changed: true, value, etag: response.headers.get('etag') };
  },
};

export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') search.set(k, v);
  const text = search.toString();
  return text ? `?${text}` : '';
}
