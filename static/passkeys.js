// The browser half of passkeys (WebAuthn Level 3): ask the server for options, let the
// authenticator create or use a credential, put `credential.toJSON()` into the form's
// hidden `credential` field and submit the form. The server checks everything; nothing
// here is trusted.
//
// Pages carry no inline script (the CSP allows scripts from 'self' only): forms opt in with
// data attributes.
//
//   <form method="post" action="..." data-passkey="get" (or "create")
//         data-passkey-options="/login/passkey/options" hidden>
//     <input type="hidden" name="csrf_token" value="...">
//     <input type="hidden" name="credential">
//     <button type="submit">...</button>
//     <p data-passkey-status role="status"></p>
//   </form>
//
// A form with a hidden `pending` field (the second step of a sign-in) sends it with the
// options request.
//
// `data-passkey-conditional` on a "get" form also offers passkeys in the autofill of inputs
// with `autocomplete="username webauthn"` (conditional mediation), where the browser can.
// `data-passkey-error-*` attributes carry the translated messages. The form stays hidden in
// browsers without WebAuthn JSON support, so they see only what works for them.

const supported =
  typeof window.PublicKeyCredential === "function" &&
  typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
  typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";

/// Options from the server: POST, with the form's CSRF token (the server also sets the
/// cookie naming the ceremony) and, on the second step of a sign-in, the form's sealed
/// `pending` sign-in (it names the person whose passkeys are asked for). Returns the
/// `publicKey` member.
async function fetchOptions(form) {
  const csrf = form.querySelector('input[name="csrf_token"]');
  const pending = form.querySelector('input[name="pending"]');
  const response = await fetch(form.dataset.passkeyOptions, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "X-CSRF-Token": csrf ? csrf.value : "",
    },
    body: JSON.stringify(pending ? { pending: pending.value } : {}),
  });
  if (!response.ok) {
    throw new Error("options: HTTP " + response.status);
  }
  const body = await response.json();
  return body.publicKey;
}

function say(form, message) {
  const status = form.querySelector("[data-passkey-status]");
  if (status) {
    status.textContent = message || "";
  }
}

function submitWith(form, credential) {
  form.querySelector('input[name="credential"]').value = JSON.stringify(credential.toJSON());
  form.submit();
}

/// Signs in (or confirms) with a passkey: `navigator.credentials.get`.
export async function getPasskey(form, { mediation, signal } = {}) {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(await fetchOptions(form));
  const request = { publicKey };
  if (mediation) {
    request.mediation = mediation;
  }
  if (signal) {
    request.signal = signal;
  }
  return navigator.credentials.get(request);
}

/// Registers a new passkey: `navigator.credentials.create`.
export async function createPasskey(form) {
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(await fetchOptions(form));
  return navigator.credentials.create({ publicKey });
}

/// A failure the person caused (cancelled, timed out, no passkey chosen) is not an error
/// worth more than a short note.
function describe(form, error) {
  if (error && (error.name === "NotAllowedError" || error.name === "AbortError")) {
    return form.dataset.passkeyErrorCancelled || "";
  }
  if (error && error.name === "InvalidStateError") {
    return form.dataset.passkeyErrorExists || form.dataset.passkeyErrorFailed || "";
  }
  return form.dataset.passkeyErrorFailed || "";
}

async function startConditional(form, controller) {
  if (
    typeof PublicKeyCredential.isConditionalMediationAvailable !== "function" ||
    !(await PublicKeyCredential.isConditionalMediationAvailable())
  ) {
    return;
  }
  try {
    const credential = await getPasskey(form, {
      mediation: "conditional",
      signal: controller.signal,
    });
    if (credential) {
      submitWith(form, credential);
    }
  } catch (error) {
    // Aborted because the button was pressed, or the browser gave up: the button remains.
  }
}

function wire(form) {
  const mode = form.dataset.passkey;
  let conditional = null;
  if (mode === "get" && "passkeyConditional" in form.dataset) {
    conditional = new AbortController();
    startConditional(form, conditional);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (mode === "create" && !form.reportValidity()) {
      return;
    }
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    say(form, form.dataset.passkeyWaiting || "");
    try {
      const credential = mode === "create" ? await createPasskey(form) : await getPasskey(form);
      if (credential) {
        submitWith(form, credential);
      } else {
        say(form, form.dataset.passkeyErrorFailed || "");
      }
    } catch (error) {
      say(form, describe(form, error));
    }
  });
  form.hidden = false;
}

if (supported) {
  for (const form of document.querySelectorAll("form[data-passkey]")) {
    wire(form);
  }
  for (const note of document.querySelectorAll("[data-passkey-fallback]")) {
    note.hidden = true;
  }
}
