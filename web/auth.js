// Who is signed in, and how: bnb-local's development sign-in, or Cognito's hosted UI with the
// Authorization Code flow + PKCE. The id_token is the bearer: API Gateway's JWT authorizer
// checks its audience against the app client id, which only the id_token carries.
let config = { signIn: 'local', apiBase: '' };
const KEY = 'bnb.session';
const PKCE = 'bnb.pkce';

export const cfg = () => config;

export async function loadConfig() {
  try {
    const r = await fetch('config.json', { cache: 'no-cache' });
    if (r.ok) config = { ...config, ...(await r.json()) };
  } catch { /* keep the local defaults */ }
  config.apiBase = (config.apiBase || '').replace(/\/$/, '');
  if (config.cognitoDomain && !/^https?:\/\//.test(config.cognitoDomain)) config.cognitoDomain = `https://${config.cognitoDomain}`;
  return config;
}

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY)); } catch { return null; }
}
const save = (s) => (sessionStorage.setItem(KEY, JSON.stringify(s)), s);
export const clearSession = () => sessionStorage.removeItem(KEY);
export const isHost = () => !!session()?.groups?.includes('host');

export async function signInLocal(user, host) {
  const r = await fetch(`${config.apiBase}/_bnb/sign-in`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, host }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) return { problem: { ...body, status: r.status } };
  return { session: save({ token: body.token, user: body.user, groups: body.groups || [], expiresAt: Date.now() + body.expiresIn * 1000 }) };
}

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

export async function startCognito(back = location.hash) {
  const verifier = random(48);
  const state = random(16);
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state, back }));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const q = new URLSearchParams({
    response_type: 'code', client_id: config.clientId, redirect_uri: config.redirectUri,
    scope: config.scope || 'openid email profile', state, code_challenge_method: 'S256', code_challenge: challenge,
  });
  location.assign(`${config.cognitoDomain}/oauth2/authorize?${q}`);
}

async function tokenCall(params) {
  const r = await fetch(`${config.cognitoDomain}/oauth2/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: config.clientId, ...params }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok || !body.id_token) throw new Error(body.error_description || body.error || `HTTP ${r.status}`);
  return body;
}

function fromTokens(body, refreshToken) {
  const part = body.id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
  return save({
    token: body.id_token, user: claims['cognito:username'] || claims.email || claims.sub,
    groups: claims['cognito:groups'] || [], refreshToken: body.refresh_token || refreshToken, expiresAt: claims.exp * 1000,
  });
}

// The hosted UI comes back to redirectUri with ?code=&state= (or ?error=).
export async function completeCognito() {
  const q = new URLSearchParams(location.search);
  if (config.signIn !== 'cognito' || !(q.has('code') || q.has('error'))) return null;
  const pkce = JSON.parse(sessionStorage.getItem(PKCE) || 'null');
  sessionStorage.removeItem(PKCE);
  history.replaceState(null, '', location.pathname + (pkce?.back || '#/search'));
  if (q.has('error')) throw new Error(q.get('error_description') || q.get('error'));
  if (!pkce || pkce.state !== q.get('state')) throw new Error('state mismatch');
  return fromTokens(await tokenCall({
    grant_type: 'authorization_code', code: q.get('code'), redirect_uri: config.redirectUri, code_verifier: pkce.verifier,
  }));
}

// A fresh token carrying the groups the user pool holds now (after "become a host").
export async function refresh() {
  const s = session();
  if (!s) return null;
  if (config.signIn === 'local') return (await signInLocal(s.user, false)).session || null;
  if (!s.refreshToken) return null;
  return fromTokens(await tokenCall({ grant_type: 'refresh_token', refresh_token: s.refreshToken }), s.refreshToken);
}

export function signOut() {
  clearSession();
  if (config.signIn === 'cognito') {
    const q = new URLSearchParams({ client_id: config.clientId, logout_uri: config.logoutUri || config.redirectUri });
    location.assign(`${config.cognitoDomain}/logout?${q}`);
  }
}
