// One GraphQL request to this origin's /graphql; an answer with errors becomes a thrown ApiError whose message
// is the API's own (with its code), so the page can show it instead of failing silently.

export class ApiError extends Error {
  constructor(message, codes = []) {
    super(message);
    this.name = "ApiError";
    this.codes = codes;
  }
}

const KEY_STORE = "graphrec.apiKey";

/** The API key the person entered (kept for this tab only). */
export function apiKey() {
  return sessionStorage.getItem(KEY_STORE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
}

/** Run `query` with `variables`; resolves to `data`, rejects with an ApiError that says what went wrong. */
export async function gql(query, variables = {}) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  const key = apiKey();
  if (key) headers.authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch("graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  } catch (err) {
    throw new ApiError(`the API did not answer (${err.message})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the API answered HTTP ${response.status} without a GraphQL body`);
  }
  const errors = body.errors || [];
  if (errors.length) {
    const codes = errors.map((e) => (e.extensions && e.extensions.code) || "ERROR");
    const text = errors.map((e, n) => `${e.message} (${codes[n]})`).join("; ");
    throw new ApiError(text, codes);
  }
  if (!response.ok || !body.data) throw new ApiError(`the API answered HTTP ${response.status}`);
  return body.data;
}
