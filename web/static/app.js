// Registration page: calls register, then status, for the chosen kind of
// record, and shows the record or the error. No build step, no libraries.
"use strict";

const KINDS = {
  "fleet-owner": { label: "Fleet owner", idField: "fleet_owner_id" },
  driver: { label: "Driver", idField: "driver_id" },
};

const FIELD_LABELS = {
  fleet_owner_id: "Fleet owner id",
  driver_id: "Driver id",
  user_id: "User id",
  business_name: "Business name",
  tenant_id: "Tenant id",
  onboarding_status: "Onboarding status",
  created_at: "Created",
  updated_at: "Updated",
};

// Moves a token from the URL fragment (#token=...) into the form and
// drops the fragment, so the token stays out of the history and of any
// link the user copies from the address bar.
function tokenFromFragment(tokenInput) {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get("token");

  if (token) {
    tokenInput.value = token;
    history.replaceState(null, "", window.location.pathname);
  }
}

// Builds the register body from the optional fields, or returns an
// error message naming the field to fix.
function registerBody(kind, form) {
  const body = {};
  const tenantText = form.elements.tenant_id.value.trim();
  const businessName = form.elements.business_name.value;

  if (tenantText !== "") {
    if (!/^[1-9][0-9]{0,8}$/.test(tenantText)) {
      return { error: "Tenant id must be a positive whole number." };
    }
    body.tenant_id = Number(tenantText);
  }
  if (businessName !== "" && kind === "fleet-owner") {
    body.business_name = businessName;
  }
  return { body };
}

// Sends one API request and returns { status, data }; data is the parsed
// JSON body, or null when the body is not JSON.
async function apiCall(method, path, token, body) {
  const headers = { Authorization: "Bearer " + token };
  const options = { method, headers, cache: "no-store" };

  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  try {
    data = await response.json();
  } catch (parseError) {
    data = null;
  }
  return { status: response.status, data };
}

function errorText(result) {
  const error = result.data && result.data.error;

  if (error && error.message) {
    return error.message + " (HTTP " + result.status + ", " + error.code +
      ")";
  }
  return "The server returned HTTP " + result.status + " without details.";
}

function showError(title, message) {
  const section = document.getElementById("result");

  section.className = "error";
  setText("result-title", title);
  setText("result-message", message);
  document.getElementById("record").hidden = true;
}

function showRecord(title, message, record) {
  const section = document.getElementById("result");
  const list = document.getElementById("record");

  section.className = "ok";
  setText("result-title", title);
  setText("result-message", message);
  list.replaceChildren();
  for (const [key, value] of Object.entries(record)) {
    const term = document.createElement("dt");
    const detail = document.createElement("dd");

    term.textContent = FIELD_LABELS[key] || key;
    detail.textContent = value === null || value === "" ? "—" : String(value);
    list.append(term, detail);
  }
  list.hidden = false;
}

function setText(id, text) {
  const element = document.getElementById(id);

  element.textContent = text;
  element.hidden = text === "";
}

// Runs the same sequence as the old frontend: register, then status.
async function register(kind, form) {
  const token = form.elements.token.value.trim();
  const label = KINDS[kind].label;
  const built = registerBody(kind, form);

  form.elements.tenant_id.setAttribute("aria-invalid",
    built.error ? "true" : "false");
  if (token === "") {
    showError("No token", "Paste your access token first.");
    form.elements.token.focus();
    return;
  }
  if (built.error) {
    showError("Check the form", built.error);
    form.elements.tenant_id.focus();
    return;
  }

  const registered = await apiCall("POST", "/" + kind + "/register", token,
    built.body);
  if (registered.status !== 200 && registered.status !== 201) {
    showError(label + " registration failed", errorText(registered));
    return;
  }

  const status = await apiCall("GET", "/" + kind + "/status", token);
  if (status.status !== 200 && status.status !== 201) {
    showError(label + " status failed", errorText(status));
    return;
  }

  const created = registered.status === 201;
  showRecord(created ? label + " registered" : label + " already registered",
    created ? "A new record was created for your account." :
      "Your account already had this record; nothing was duplicated.",
    status.data);
}

function init() {
  const form = document.getElementById("registration");
  const buttons = form.querySelectorAll("button[type=submit]");

  tokenFromFragment(form.elements.token);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = event.submitter ? event.submitter.value : "fleet-owner";

    buttons.forEach((button) => { button.disabled = true; });
    try {
      await register(kind, form);
    } catch (networkError) {
      showError("Request failed",
        "The server could not be reached: " + networkError.message);
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  });
}

document.addEventListener("DOMContentLoaded", init);
