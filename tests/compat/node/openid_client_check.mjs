// Manual compatibility check of Latchkey with openid-client v6 (panva), as a relying party
// would use it. Not part of CI: run through ../run.sh, which starts a server, registers the
// clients named below and passes a config file.
//
//   node openid_client_check.mjs --gen-keys DIR PREFIX   # writes PREFIX-pkjwt key files
//   node openid_client_check.mjs CONFIG.json             # runs the checks
//
// Prints one PASS/FAIL line per check and closes with "N passed, N failed".
import * as client from 'openid-client'
import * as jose from 'jose'
import { readFileSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { execSync } from 'node:child_process'

const P = 'node'

// ---- key generation for private_key_jwt (run before the client is registered) ----------------
if (process.argv[2] === '--gen-keys') {
  const [dir, prefix] = [process.argv[3], process.argv[4] ?? P]
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true })
  const kid = `${prefix}-pkjwt-es256`
  const pub = { ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }
  const priv = { ...(await jose.exportJWK(privateKey)), kid, alg: 'ES256' }
  writeFileSync(`${dir}/${prefix}-pkjwt.jwks.json`, JSON.stringify({ keys: [pub] }))
  writeFileSync(`${dir}/${prefix}-pkjwt.private.json`, JSON.stringify(priv))
  process.exit(0)
}

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const issuer = new URL(cfg.issuer)
const secret = `${P}-secret-${cfg.secret_suffix}`
const redirect_uri = cfg.redirect_uri
const insecure = { execute: [client.allowInsecureRequests], timeout: 10 }

let passed = 0
let failed = 0
let warned = 0
const failures = []
// A check whose failure is a SHOULD-level deviation or an interoperability note rather than a
// broken MUST is run with { warn: true }: it prints WARN and does not fail the run.
async function check(name, fn, { warn = false } = {}) {
  try {
    const note = await fn()
    passed++
    console.log(`PASS ${name}${note ? `  (${note})` : ''}`)
  } catch (e) {
    const detail = describe(e)
    if (warn) {
      warned++
      failures.push(`WARN ${name}: ${detail}`)
      console.log(`WARN ${name}: ${detail}`)
    } else {
      failed++
      failures.push(`FAIL ${name}: ${detail}`)
      console.log(`FAIL ${name}: ${detail}`)
    }
  }
}
function describe(e) {
  const parts = [`${e?.name ?? 'Error'}: ${e?.message ?? e}`]
  if (e?.code) parts.push(`code=${e.code}`)
  if (e?.error) parts.push(`error=${e.error}`)
  if (e?.error_description) parts.push(`error_description=${e.error_description}`)
  if (e?.status) parts.push(`status=${e.status}`)
  if (e?.cause && typeof e.cause === 'object' && !(e.cause instanceof Response)) {
    try { parts.push(`cause=${JSON.stringify(e.cause).slice(0, 600)}`) } catch {}
  }
  return parts.join(' ')
}
function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`)
}

// ---- a browser: keeps cookies, submits the login and consent forms ----------------------------
class Browser {
  cookies = new Map()
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  keep(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const i = pair.indexOf('=')
      this.cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim())
    }
  }
  // Follows the interaction until Latchkey redirects to the client's redirect URI; returns it.
  async authorize(url, { decision = 'allow', password = cfg.password } = {}) {
    let target = new URL(url)
    let init = { method: 'GET' }
    const seen = []
    for (let i = 0; i < 8; i++) {
      const res = await fetch(target, {
        ...init,
        redirect: 'manual',
        headers: { ...(init.headers ?? {}), cookie: this.header() },
        signal: AbortSignal.timeout(10000),
      })
      this.keep(res)
      seen.push(`${init.method} ${target.pathname} -> ${res.status}`)
      if (res.status >= 300 && res.status < 400) {
        const loc = new URL(res.headers.get('location'), target)
        if (loc.href.startsWith(redirect_uri)) return { url: loc, seen }
        target = loc
        init = { method: 'GET' }
        continue
      }
      const html = await res.text()
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
      const field = (n) => decodeEntities(new RegExp(`name="${n}" value="([^"]*)"`).exec(html)?.[1] ?? '')
      const form = new URLSearchParams({ csrf_token: field('csrf_token'), req: field('req') })
      if (action === '/login') {
        form.set('username', cfg.username)
        form.set('password', password)
      } else if (action === '/consent') {
        form.set('decision', decision)
      } else {
        throw new Error(`unexpected page (${res.status}) after ${seen.join(', ')}: ${html.replace(/\s+/g, ' ').slice(0, 400)}`)
      }
      target = new URL(action, target)
      init = {
        method: 'POST',
        body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }
    }
    throw new Error(`no redirect to the client after ${seen.join(', ')}`)
  }
}
function decodeEntities(s) {
  return s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
}

// at_hash per OpenID Connect Core 3.1.3.6 (SHA-512 for EdDSA/Ed25519, the usual convention).
function atHash(alg, token) {
  const h = { RS256: 'sha256', ES256: 'sha256', PS256: 'sha256', EdDSA: 'sha512', Ed25519: 'sha512' }[alg]
  const d = createHash(h).update(token).digest()
  return d.subarray(0, d.length / 2).toString('base64url')
}

const JWKS = jose.createRemoteJWKSet(new URL('/jwks', issuer))
async function verifyAccessToken(token, { audience, alg } = {}) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, JWKS, {
    issuer: cfg.issuer,
    audience,
    typ: 'at+jwt',
    algorithms: alg ? [alg] : undefined,
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
  })
  return { payload, protectedHeader }
}

// By default openid-client does not verify the signature of an ID token that came straight from
// the token endpoint (OIDC Core 3.1.3.7 lets TLS stand in for it); enableNonRepudiationChecks
// makes it verify every ID token against the JWKS, as the checks here need.
async function discover(clientId, metadata, auth) {
  const config = await client.discovery(issuer, clientId, metadata, auth, insecure)
  client.enableNonRepudiationChecks(config)
  return config
}

// One authorization code flow with PKCE S256, state and nonce; the library validates the
// authorization response (state, iss) and the ID token (signature, iss, aud, azp, exp, iat,
// nonce, alg), and does the PKCE exchange.
async function codeFlow(config, browser, { scope = 'openid profile email offline_access', extra = {}, maxAge } = {}) {
  const code_verifier = client.randomPKCECodeVerifier()
  const code_challenge = await client.calculatePKCECodeChallenge(code_verifier)
  const state = client.randomState()
  const nonce = client.randomNonce()
  const params = { redirect_uri, scope, code_challenge, code_challenge_method: 'S256', state, nonce, ...extra }
  if (maxAge !== undefined) params.max_age = String(maxAge)
  const url = client.buildAuthorizationUrl(config, params)
  const { url: back } = await browser.authorize(url)
  const tokens = await client.authorizationCodeGrant(config, back, {
    pkceCodeVerifier: code_verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
    maxAge,
  })
  return { tokens, back, nonce }
}

function checkIdClaims(tokens, clientId, nonce, alg) {
  const claims = tokens.claims()
  const header = jose.decodeProtectedHeader(tokens.id_token)
  assert(header.alg === alg, `id_token alg ${header.alg} (expected ${alg})`)
  assert(claims.iss === cfg.issuer, 'iss')
  assert(claims.aud === clientId || (Array.isArray(claims.aud) && claims.aud.includes(clientId)), 'aud')
  assert(nonce === undefined || claims.nonce === nonce, 'nonce')
  assert(typeof claims.auth_time === 'number', 'auth_time')
  assert(typeof claims.at_hash === 'string', 'at_hash present')
  const expected = atHash(header.alg, tokens.access_token)
  assert(claims.at_hash === expected, `at_hash ${claims.at_hash} != ${expected} (alg ${header.alg})`)
  return claims
}

const browser = new Browser()

// ---- discovery ------------------------------------------------------------------------------
let web
await check('discovery (openid-configuration, issuer match)', async () => {
  web = await discover(`${P}-web`, { client_secret: secret, id_token_signed_response_alg: 'RS256' }, client.ClientSecretBasic(secret))
  const md = web.serverMetadata()
  assert(md.issuer === cfg.issuer, 'issuer')
  assert(md.code_challenge_methods_supported?.includes('S256'), 'S256 advertised')
  return `issuer ${md.issuer}`
})
await check('RFC 8414 discovery (oauth-authorization-server)', async () => {
  const c = await client.discovery(issuer, `${P}-web`, secret, undefined, { ...insecure, algorithm: 'oauth2' })
  assert(c.serverMetadata().token_endpoint === `${cfg.issuer}/token`, 'token_endpoint')
})

// ---- authorization code + PKCE + nonce, client_secret_basic, RS256 ----------------------------
let rsTokens, rsClaims
await check('RS256 code flow + PKCE S256 + nonce (client_secret_basic), ID token validated', async () => {
  const { tokens, back, nonce } = await codeFlow(web, browser)
  assert(back.searchParams.get('iss') === cfg.issuer, 'iss in the authorization response')
  rsTokens = tokens
  rsClaims = checkIdClaims(tokens, `${P}-web`, nonce, 'RS256')
  assert(tokens.token_type.toLowerCase() === 'bearer', 'token_type')
  assert(tokens.refresh_token, 'refresh_token for offline_access')
  return `sub ${rsClaims.sub}, scope "${tokens.scope}"`
})
await check('RS256 access token is an RFC 9068 JWT (typ at+jwt, iss, aud, client_id)', async () => {
  const { payload, protectedHeader } = await verifyAccessToken(rsTokens.access_token)
  assert(payload.sub === rsClaims.sub, 'sub')
  assert(payload.client_id === `${P}-web`, 'client_id')
  return `typ ${protectedHeader.typ}, aud ${JSON.stringify(payload.aud)}`
})
await check('userinfo (GET, bearer, expectedSubject)', async () => {
  const ui = await client.fetchUserInfo(web, rsTokens.access_token, rsClaims.sub)
  assert(ui.sub === rsClaims.sub, 'sub')
  assert(ui.email === 'alice@example.com' && ui.email_verified === true, 'email claims')
  assert(ui.name === 'Alice' && ui.preferred_username === 'alice', 'profile claims')
  return JSON.stringify(ui)
})
await check('userinfo with a wrong expectedSubject is refused by the library', async () => {
  try {
    await client.fetchUserInfo(web, rsTokens.access_token, 'someone-else')
  } catch (e) {
    return e.code
  }
  throw new Error('accepted')
})
let refreshed
await check('refresh_token grant (rotation, ID token re-validated)', async () => {
  refreshed = await client.refreshTokenGrant(web, rsTokens.refresh_token)
  assert(refreshed.access_token && refreshed.access_token !== rsTokens.access_token, 'new access token')
  assert(refreshed.refresh_token && refreshed.refresh_token !== rsTokens.refresh_token, 'rotated refresh token')
  if (refreshed.id_token) {
    const c = refreshed.claims()
    assert(c.sub === rsClaims.sub, 'same sub')
    assert(c.auth_time === rsClaims.auth_time, 'same auth_time')
  }
  return refreshed.id_token ? 'with a new ID token' : 'no ID token'
})
await check('refresh_token grant narrowing scope', async () => {
  const t = await client.refreshTokenGrant(web, refreshed.refresh_token, { scope: 'openid' })
  assert(t.scope === 'openid', `scope ${t.scope}`)
  refreshed = t
})

// ---- introspection and revocation ------------------------------------------------------------
let svc
await check('client_credentials (client_secret_basic) with resource', async () => {
  svc = await discover(`${P}-svc`, secret, client.ClientSecretBasic(secret))
  const t = await client.clientCredentialsGrant(svc, { scope: 'orders:read', resource: 'https://api.example.com' })
  assert(!t.refresh_token && !t.id_token, 'no refresh/id token')
  const { payload } = await verifyAccessToken(t.access_token, { audience: 'https://api.example.com' })
  assert(payload.sub === `${P}-svc` && payload.scope === 'orders:read', 'sub/scope')
  return `aud ${payload.aud}, expires_in ${t.expires_in}`
})
await check('client_credentials with two resources gives an aud array', async () => {
  const t = await client.clientCredentialsGrant(svc, new URLSearchParams([
    ['resource', 'https://api.example.com'],
    ['resource', 'https://inventory.example.com'],
  ]))
  const { payload } = await verifyAccessToken(t.access_token, { audience: 'https://inventory.example.com' })
  assert(Array.isArray(payload.aud) && payload.aud.length === 2, `aud ${JSON.stringify(payload.aud)}`)
  return `scope "${t.scope}"`
})
await check('client_credentials with a resource not allowed -> invalid_target', async () => {
  try {
    await client.clientCredentialsGrant(svc, { resource: 'https://evil.example.com' })
  } catch (e) {
    assert(e.error === 'invalid_target', `error ${e.error}`)
    return `${e.status} ${e.error}`
  }
  throw new Error('accepted')
})
await check('introspection of a user access token (by another confidential client)', async () => {
  const r = await client.tokenIntrospection(svc, refreshed.access_token, { token_type_hint: 'access_token' })
  assert(r.active === true, 'active')
  assert(r.client_id === `${P}-web` && r.sub === rsClaims.sub, 'client_id/sub')
  return JSON.stringify(r)
})
// Latchkey shows a refresh token only to the client it was issued to (src/oauth/introspect.rs).
await check('introspection of a refresh token: active for its own client, inactive for another', async () => {
  const r = await client.tokenIntrospection(web, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
  assert(r.active === true && r.token_type === 'refresh_token' && r.client_id === `${P}-web`, 'active for its client')
  const other = await client.tokenIntrospection(svc, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
  assert(other.active === false && Object.keys(other).length === 1, 'inactive for another client')
  return JSON.stringify(r)
})
await check('revocation of an access token -> introspection inactive, userinfo 401', async () => {
  await client.tokenRevocation(web, refreshed.access_token, { token_type_hint: 'access_token' })
  const r = await client.tokenIntrospection(svc, refreshed.access_token)
  assert(r.active === false, 'inactive after revocation')
  try {
    await client.fetchUserInfo(web, refreshed.access_token, rsClaims.sub)
  } catch (e) {
    const ch = e instanceof client.WWWAuthenticateChallengeError ? e.cause?.[0] : undefined
    return `userinfo: ${e.code ?? e.name} ${ch ? `${ch.scheme} error=${ch.parameters?.error}` : ''}`
  }
  throw new Error('userinfo accepted a revoked token')
})
await check('revocation of a refresh token -> refresh fails with invalid_grant', async () => {
  await client.tokenRevocation(web, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
  try {
    await client.refreshTokenGrant(web, refreshed.refresh_token)
  } catch (e) {
    assert(e.error === 'invalid_grant', `error ${e.error}`)
    return `${e.status} ${e.error}`
  }
  throw new Error('refresh accepted after revocation')
})
await check('revoking an unknown token is 200', async () => {
  await client.tokenRevocation(web, 'not-a-token')
})

// ---- private_key_jwt --------------------------------------------------------------------------
await check('client_credentials with private_key_jwt (ES256 assertion)', async () => {
  const jwk = JSON.parse(readFileSync(`${cfg.keys_dir}/${P}-pkjwt.private.json`, 'utf8'))
  const key = await jose.importJWK(jwk, 'ES256')
  const c = await discover(`${P}-pkjwt`, { token_endpoint_auth_method: 'private_key_jwt' }, client.PrivateKeyJwt({ key, kid: jwk.kid }))
  const t = await client.clientCredentialsGrant(c, { scope: 'orders:read' })
  const { payload } = await verifyAccessToken(t.access_token)
  assert(payload.sub === `${P}-pkjwt`, 'sub')
  // the same client may also introspect with an assertion
  const r = await client.tokenIntrospection(c, t.access_token)
  assert(r.active === true, 'introspection with private_key_jwt')
  return `aud ${payload.aud}`
})

// ---- client_secret_post ------------------------------------------------------------------------
await check('code flow with client_secret_post', async () => {
  const c = await discover(`${P}-post`, { id_token_signed_response_alg: 'RS256' }, client.ClientSecretPost(secret))
  const { tokens, nonce } = await codeFlow(c, browser, { scope: 'openid email' })
  checkIdClaims(tokens, `${P}-post`, nonce, 'RS256')
  assert(!tokens.refresh_token, 'no refresh token without offline_access')
  return `scope "${tokens.scope}"`
})

// ---- ES256 and EdDSA ID tokens ------------------------------------------------------------------
for (const alg of ['ES256', 'EdDSA']) {
  const id = `${P}-${alg.toLowerCase()}`
  let cfgAlg, t, claims
  await check(`${alg} code flow, ID token validated by the library`, async () => {
    cfgAlg = await discover(id, { client_secret: secret, id_token_signed_response_alg: alg }, client.ClientSecretBasic(secret))
    const r = await codeFlow(cfgAlg, browser)
    t = r.tokens
    claims = t.claims()
    const h = jose.decodeProtectedHeader(t.id_token)
    assert(h.alg === alg, `alg ${h.alg}`)
    return `kid ${h.kid}`
  })
  await check(`${alg} at_hash (OIDC Core 3.1.3.6${alg === 'EdDSA' ? ', SHA-512 left half' : ''})`, async () => {
    const h = jose.decodeProtectedHeader(t.id_token)
    const expected = atHash(h.alg, t.access_token)
    assert(claims.at_hash === expected, `at_hash ${claims.at_hash} != ${expected}`)
    return 'checked by this script: openid-client does not check at_hash in the code flow'
  })
  await check(`${alg} access token verifies with jose against /jwks`, async () => {
    const { protectedHeader } = await verifyAccessToken(t.access_token, { alg })
    return `typ ${protectedHeader.typ}`
  })
  await check(`${alg} refresh + userinfo`, async () => {
    const r = await client.refreshTokenGrant(cfgAlg, t.refresh_token)
    const ui = await client.fetchUserInfo(cfgAlg, r.access_token, claims.sub)
    assert(ui.sub === claims.sub, 'sub')
    if (r.id_token) {
      const h = jose.decodeProtectedHeader(r.id_token)
      assert(h.alg === alg, `refreshed id_token alg ${h.alg}`)
      assert(r.claims().at_hash === atHash(alg, r.access_token), 'refreshed at_hash')
    }
  })
}

// ---- public client ----------------------------------------------------------------------------
await check('public client (token_endpoint_auth_method none) code flow + PKCE + refresh', async () => {
  const c = await discover(`${P}-spa`, { token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'RS256' }, client.None())
  const { tokens, nonce } = await codeFlow(c, browser)
  checkIdClaims(tokens, `${P}-spa`, nonce, 'RS256')
  assert(tokens.refresh_token, 'refresh token')
  const r = await client.refreshTokenGrant(c, tokens.refresh_token)
  assert(r.access_token, 'refreshed')
})
await check('public client revokes its own refresh token (revocation auth method none)', async () => {
  const c = await discover(`${P}-spa`, { token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'RS256' }, client.None())
  const { tokens } = await codeFlow(c, browser)
  await client.tokenRevocation(c, tokens.refresh_token)
  try {
    await client.refreshTokenGrant(c, tokens.refresh_token)
  } catch (e) {
    assert(e.error === 'invalid_grant', `error ${e.error}`)
    return e.error
  }
  throw new Error('refresh accepted after revocation')
})
await check('public client without PKCE is refused with an error redirect the library parses', async () => {
  const c = await discover(`${P}-spa`, { token_endpoint_auth_method: 'none' }, client.None())
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(c, { redirect_uri, scope: 'openid', state })
  const { url: back } = await browser.authorize(url)
  try {
    await client.authorizationCodeGrant(c, back, { expectedState: state, pkceCodeVerifier: client.randomPKCECodeVerifier() })
  } catch (e) {
    assert(e instanceof client.AuthorizationResponseError, e.name)
    assert(e.error === 'invalid_request', `error ${e.error}`)
    return `${e.error}: ${e.error_description}`
  }
  throw new Error('no error')
})

// ---- max_age, prompt, deny ----------------------------------------------------------------------
await check('max_age: auth_time required and checked by the library', async () => {
  const { tokens } = await codeFlow(web, browser, { scope: 'openid', maxAge: 600 })
  return `auth_time ${tokens.claims().auth_time}`
})
await check('prompt=login forces a new sign-in (auth_time moves)', async () => {
  await new Promise((r) => setTimeout(r, 1100))
  const before = rsClaims.auth_time
  const { tokens } = await codeFlow(web, browser, { scope: 'openid', extra: { prompt: 'login' } })
  assert(tokens.claims().auth_time > before, `auth_time ${tokens.claims().auth_time} <= ${before}`)
})
await check('prompt=none with a session returns a code (no UI)', async () => {
  const { tokens } = await codeFlow(web, browser, { scope: 'openid profile', extra: { prompt: 'none' } })
  assert(tokens.id_token, 'id_token')
})
await check('prompt=none without a session -> login_required error response', async () => {
  const fresh = new Browser()
  const state = client.randomState()
  const code_verifier = client.randomPKCECodeVerifier()
  const url = client.buildAuthorizationUrl(web, {
    redirect_uri, scope: 'openid', state, prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256',
  })
  const { url: back } = await fresh.authorize(url)
  try {
    await client.authorizationCodeGrant(web, back, { expectedState: state, pkceCodeVerifier: code_verifier })
  } catch (e) {
    assert(e.error === 'login_required', `error ${e.error}`)
    return e.error
  }
  throw new Error('no error')
})
await check('consent denied -> access_denied (state and iss validated by the library)', async () => {
  const fresh = new Browser()
  const state = client.randomState()
  const code_verifier = client.randomPKCECodeVerifier()
  const url = client.buildAuthorizationUrl(web, {
    redirect_uri, scope: 'openid', state, prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256',
  })
  const { url: back } = await fresh.authorize(url, { decision: 'deny' })
  try {
    await client.authorizationCodeGrant(web, back, { expectedState: state, pkceCodeVerifier: code_verifier })
  } catch (e) {
    assert(e instanceof client.AuthorizationResponseError && e.error === 'access_denied', `${e.name} ${e.error}`)
    return e.error
  }
  throw new Error('no error')
})
await check('code reuse -> invalid_grant', async () => {
  const code_verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(web, {
    redirect_uri, scope: 'openid', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256',
  })
  const { url: back } = await browser.authorize(url)
  await client.authorizationCodeGrant(web, back, { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce })
  try {
    await client.authorizationCodeGrant(web, back, { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce })
  } catch (e) {
    assert(e.error === 'invalid_grant', `error ${e.error}`)
    return e.error
  }
  throw new Error('code accepted twice')
})
await check('wrong PKCE verifier -> invalid_grant', async () => {
  const code_verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(web, {
    redirect_uri, scope: 'openid', state, nonce: 'n',
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256',
  })
  const { url: back } = await browser.authorize(url)
  try {
    await client.authorizationCodeGrant(web, back, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: state, expectedNonce: 'n' })
  } catch (e) {
    assert(e.error === 'invalid_grant', `error ${e.error}`)
    return e.error
  }
  throw new Error('accepted')
})
await check('wrong client secret -> invalid_client (401)', async () => {
  const c = await discover(`${P}-svc`, 'x'.repeat(32), client.ClientSecretBasic('x'.repeat(32)))
  try {
    await client.clientCredentialsGrant(c, {})
  } catch (e) {
    // A 401 with WWW-Authenticate surfaces as WWWAuthenticateChallengeError (the library looks
    // at the challenge before the body); the RFC 6749 body is still there.
    if (e instanceof client.WWWAuthenticateChallengeError) {
      const body = await e.response.json()
      const ch = e.cause[0]
      assert(e.status === 401 && body.error === 'invalid_client', `${e.status} ${JSON.stringify(body)}`)
      return `${e.status} ${body.error}, challenge ${ch.scheme} ${JSON.stringify(ch.parameters)}`
    }
    assert(e.error === 'invalid_client' && e.status === 401, `${e.status} ${e.error}`)
    return `${e.status} ${e.error}`
  }
  throw new Error('accepted')
})


// ---- special characters in a client secret (RFC 6749 2.3.1 form-encodes id and secret) ------
await check('client_secret_basic with a secret full of special characters', async () => {
  const s = `${P}-p@ss+w/rd &=:%41-${cfg.secret_suffix}`
  const c = await discover(`${P}-special`, s, client.ClientSecretBasic(s))
  const t = await client.clientCredentialsGrant(c, {})
  return `scope "${t.scope}"`
})
await check('client_secret_post with a secret full of special characters', async () => {
  const s = `${P}-p@ss+w/rd &=:%41-${cfg.secret_suffix}`
  const c = await discover(`${P}-special`, s, client.ClientSecretPost(s))
  await client.clientCredentialsGrant(c, {})
})

// ---- more authorization request handling ----------------------------------------------------
await check('max_age=0 forces a new sign-in; auth_time checked by the library', async () => {
  await new Promise((r) => setTimeout(r, 1100))
  const t0 = Math.floor(Date.now() / 1000)
  const { tokens } = await codeFlow(web, browser, { scope: 'openid', maxAge: 0 })
  assert(tokens.claims().auth_time >= t0, `auth_time ${tokens.claims().auth_time} < ${t0}`)
})
await check('prompt=none with a session but a scope not yet consented -> consent_required', async () => {
  const c = await discover(`${P}-post`, { id_token_signed_response_alg: 'RS256' }, client.ClientSecretPost(secret))
  const state = client.randomState()
  const code_verifier = client.randomPKCECodeVerifier()
  const url = client.buildAuthorizationUrl(c, {
    redirect_uri, scope: 'openid profile', state, prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256',
  })
  const { url: back } = await browser.authorize(url)
  try {
    await client.authorizationCodeGrant(c, back, { expectedState: state, pkceCodeVerifier: code_verifier })
  } catch (e) {
    assert(e.error === 'consent_required', `error ${e.error}`)
    return e.error
  }
  throw new Error('no error')
})
for (const [param, value, code] of [
  ['request', 'eyJhbGciOiJub25lIn0.e30.', 'request_not_supported'],
  ['request_uri', 'urn:example:request', 'request_uri_not_supported'],
]) {
  await check(`${param} parameter -> error=${code} (OIDC Core section 6: the OP MUST return it)`, async () => {
    const state = client.randomState()
    const code_verifier = client.randomPKCECodeVerifier()
    const url = client.buildAuthorizationUrl(web, {
      redirect_uri, scope: 'openid', state, [param]: value,
      code_challenge: await client.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256',
    })
    const { url: back } = await browser.authorize(url)
    try {
      await client.authorizationCodeGrant(web, back, { expectedState: state, pkceCodeVerifier: code_verifier })
    } catch (e) {
      assert(e.error === code, `got error=${e.error} error_description="${e.error_description}" in ${back.search}`)
      return e.error
    }
    throw new Error('no error')
  })
}


// ---- key rotation (last: it changes the server's signing keys) ---------------------------------
// openid-client refetches the JWKS on an unknown kid only when its copy is at least 60 s old, and
// jose's createRemoteJWKSet only after a 30 s cooldown; an RP that fetched the JWKS shortly before
// Latchkey starts signing with a new key cannot verify the new tokens until then.
if (process.env.COMPAT_ROTATE_CMD) {
  await check('key rotation: a new signing key is in /jwks before tokens are signed with it', async () => {
    const c = await discover(`${P}-web`, { client_secret: secret, id_token_signed_response_alg: 'RS256' }, client.ClientSecretBasic(secret))
    const first = await codeFlow(c, browser, { scope: 'openid' }) // the library now caches the JWKS
    const oldKid = jose.decodeProtectedHeader(first.tokens.id_token).kid
    const t0 = Date.now()
    execSync(process.env.COMPAT_ROTATE_CMD, { stdio: 'ignore', timeout: 30000 })
    // Wait until the server signs with the new RS256 key: it publishes it within
    // keys.reload_interval and signs with it after keys.rotation_delay.
    const limit = (Number(process.env.COMPAT_ROTATION_DELAY || 0) + 45) * 1000
    let newKid = oldKid
    while (newKid === oldKid && Date.now() - t0 < limit) {
      await new Promise((r) => setTimeout(r, 1000))
      const t = await client.clientCredentialsGrant(svc, {})
      newKid = jose.decodeProtectedHeader(t.access_token).kid
    }
    assert(newKid !== oldKid, `the server did not switch keys within ${limit / 1000} s`)
    const waited = Math.round((Date.now() - t0) / 1000)
    try {
      await codeFlow(c, browser, { scope: 'openid' })
    } catch (e) {
      throw new Error(`${waited} s after \`keys rotate\` the server signs with kid ${newKid}, which the RP's ` +
        `JWKS copy (fetched ${waited} s earlier) lacks; openid-client refuses: ${describe(e)}`)
    }
    return `old kid ${oldKid}, new kid ${newKid}, switched after ~${waited} s`
  })
}

console.log(`\nopenid-client ${P}: ${passed} passed, ${failed} failed${warned ? `, ${warned} warnings` : ''}`)
if (failures.length) console.log(failures.map((f) => `  - ${f}`).join('\n'))
process.exit(failed ? 1 : 0)
