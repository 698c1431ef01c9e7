// A real OpenID Connect provider for hotline's single sign-on tests:
// panva/oidc-provider (OpenID certified) on loopback, configured from the
// environment by tests/common/oidc.rs.
//
//   OIDC_AUDIENCE       the resource (aud) access tokens are for
//   OIDC_REDIRECT_URIS  JSON list: the pages' URLs (public client
//                       "hotline-pages", code flow with PKCE)
//   OIDC_ACCOUNTS       JSON: account id -> extra claims (e.g. roles)
//   OIDC_ACCESS_TTL     access token lifetime, seconds
//   OIDC_KEYS_OUT       folder to write the signing keys to (PEM), so a
//                       test can forge tokens a provider would not issue
//
// Access tokens are JWTs (ES256, key "ec-1"; "rsa-1" is published too)
// carrying auth_time (kept through refreshes) and the account's claims.
// Sign-in uses the provider's development login and consent forms.
// Prints {"issuer": ...} once listening.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const env = (k, d) => process.env[k] ?? d;
const port = Number(env('OIDC_PORT', '0'));
const audience = env('OIDC_AUDIENCE', 'hotline');
const redirects = JSON.parse(env('OIDC_REDIRECT_URIS', '[]'));
const accounts = JSON.parse(env('OIDC_ACCOUNTS', '{}'));
const ttl = Number(env('OIDC_ACCESS_TTL', '300'));
const keysOut = env('OIDC_KEYS_OUT', '');

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ecJwk = { ...ec.privateKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' };
const rsaJwk = { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
if (keysOut) {
  writeFileSync(`${keysOut}/ec-1.pem`, ec.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  writeFileSync(`${keysOut}/rsa-1.pem`, rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }));
}

const server = (await import('node:http')).createServer();
await new Promise((r) => server.listen(port, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'hotline-pages',
    token_endpoint_auth_method: 'none',
    redirect_uris: redirects,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }],
  jwks: { keys: [rsaJwk, ecJwk] },
  pkce: { required: () => true },
  // The pages call the token endpoint from their own origin.
  clientBasedCORS: (_ctx, origin, client) => client.redirectUris.some((uri) => new URL(uri).origin === origin),
  cookies: { keys: ['hotline-test-cookie-key'] },
  ttl: { AccessToken: ttl },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  extraTokenClaims: async (ctx, token) => {
    const from = ctx.oidc.entities.RefreshToken ?? ctx.oidc.entities.AuthorizationCode;
    const account = accounts[token.accountId] ?? {};
    return { auth_time: from?.authTime, ...account };
  },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid',
        audience,
        accessTokenFormat: 'jwt',
        accessTokenTTL: ttl,
        jwt: { sign: { alg: env('OIDC_ALG', 'ES256') } },
      }),
    },
  },
});
server.on('request', provider.callback());
console.log(JSON.stringify({ issuer }));
