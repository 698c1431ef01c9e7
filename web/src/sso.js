// Single sign-on for the pages: the OpenID Connect authorization-code flow
// with PKCE (a public client: no secret in the page), then silent refresh
// with the refresh token before the access token expires. The server says
// whether single sign-on is on, and where the identity provider is, at
// /oidc.json. Tokens live in this tab's sessionStorage only.

const REFRESH_EARLY_MS = 60_000;

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** The identity provider as the server describes it, or null when single
 * sign-on is off here. Throws when it is on but not ready. */
export async function ssoSettings() {
  const res = await fetch("/oidc.json", { cache: "no-store" });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`single sign-on is not ready: ${(await res.text()).trim()}`);
  return res.json();
}

function redirectUri() {
  return location.origin + location.pathname;
}

/** Leaves for the identity provider's sign-in page. */
export async function beginSignIn(page, settings) {
  const verifier = random(48);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = random(16);
  sessionStorage.setItem(`hotline.${page}.pkce`, JSON.stringify({ verifier, state }));
  const url = new URL(settings.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: settings.client_id,
    response_type: "code",
    scope: settings.scopes,
    redirect_uri: redirectUri(),
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
  }).toString();
  location.assign(url.toString());
}

async function tokenRequest(settings, body) {
  const res = await fetch(settings.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: settings.client_id, ...body }),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok || !json.access_token) {
    throw new Error(`the identity provider refused: ${json.error_description || json.error || res.status}`);
  }
  return {
    access: json.access_token,
    refresh: json.refresh_token ?? "",
    expiresAt: Date.now() + Number(json.expires_in ?? 300) * 1000,
  };
}

/**
 * A session kept fresh: `token()` is what requests carry now. Returned by
 * `resumeSignIn` when the page came back from the identity provider or
 * has a session in this tab; `ended` is called when it can no longer be
 * refreshed.
 */
class SsoSession {
  constructor(page, settings, tokens, ended) {
    this.page = page;
    this.settings = settings;
    this.tokens = tokens;
    this.ended = ended;
    this.timer = null;
    this.save();
    this.schedule();
  }

  token() {
    return this.tokens.access;
  }

  save() {
    sessionStorage.setItem(`hotline.${this.page}.sso`, JSON.stringify(this.tokens));
  }

  schedule() {
    clearTimeout(this.timer);
    if (!this.tokens.refresh) return;
    // A minute before expiry; halfway through a token shorter than two.
    const lifetime = this.tokens.expiresAt - Date.now();
    const wait = Math.max(1000, lifetime > 2 * REFRESH_EARLY_MS ? lifetime - REFRESH_EARLY_MS : lifetime / 2);
    this.timer = setTimeout(() => this.refresh(), wait);
  }

  async refresh() {
    try {
      this.tokens = await tokenRequest(this.settings, { grant_type: "refresh_token", refresh_token: this.tokens.refresh });
      this.save();
      document.body.dataset.ssoRefreshed = String(Number(document.body.dataset.ssoRefreshed ?? 0) + 1);
      this.schedule();
    } catch (err) {
      this.end();
      this.ended(err);
    }
  }

  end() {
    clearTimeout(this.timer);
    sessionStorage.removeItem(`hotline.${this.page}.sso`);
  }
}

/** Forgets this tab's single sign-on session (signing out). */
export function endSso(page) {
  sessionStorage.removeItem(`hotline.${page}.sso`);
}

/** The session the page has: finishing a return from the identity
 * provider (`?code=...&state=...`), or the one kept in this tab; null if
 * neither. */
export async function resumeSignIn(page, settings, ended) {
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) {
    history.replaceState(null, "", location.pathname);
    const kept = JSON.parse(sessionStorage.getItem(`hotline.${page}.pkce`) ?? "null");
    sessionStorage.removeItem(`hotline.${page}.pkce`);
    if (params.has("error")) throw new Error(`sign-in failed: ${params.get("error_description") || params.get("error")}`);
    if (!kept || kept.state !== params.get("state")) throw new Error("sign-in failed: this answer is not for a sign-in this tab started");
    const tokens = await tokenRequest(settings, {
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(),
      code_verifier: kept.verifier,
    });
    return new SsoSession(page, settings, tokens, ended);
  }
  const stored = JSON.parse(sessionStorage.getItem(`hotline.${page}.sso`) ?? "null");
  return stored ? new SsoSession(page, settings, stored, ended) : null;
}

/**
 * Wires single sign-on into a page's sign-in form: shows the button when
 * the server has it, and calls `signIn(tokenSource)` with a session when
 * there is one. Reports problems with `showError`.
 */
export async function offerSso(page, { button, signIn, showError }) {
  let settings;
  try {
    settings = await ssoSettings();
  } catch (err) {
    showError(err);
    return false;
  }
  if (!settings) return false;
  button.hidden = false;
  button.addEventListener("click", () => beginSignIn(page, settings).catch(showError));
  try {
    const session = await resumeSignIn(page, settings, (err) => showError(new Error(`signed out: ${err.message}`)));
    if (!session) return false;
    await signIn(() => session.token());
    return true;
  } catch (err) {
    showError(err);
    return false;
  }
}
