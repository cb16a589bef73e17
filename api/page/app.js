// The recommendations page: pick a user, see their history and recommendations (with the paths that explain
// them), click an item for similar items, record an interaction. Everything comes from the GraphQL API; every
// list shows one page at a time, and every value is set as text (never as HTML).
import { ApiError, apiKey, gql, setApiKey } from "./graphql.js";

const PAGE = 20;
const HISTORY_PAGE = 10;
const SIMILAR_K = 10;
const ITEM = "id title properties";

const Q = {
  model: "{ model { version encoder dimensions activatedAt } }",
  users: `query($first: Int, $after: String, $prefix: String) {
    users(first: $first, after: $after, idPrefix: $prefix) { nodes { id } pageInfo { hasNextPage endCursor } } }`,
  user: `query($id: ID!, $first: Int, $after: String) { user(id: $id) { id properties
    interactions(first: $first, after: $after) { nodes { type timestamp weight item { ${ITEM} } }
      pageInfo { hasNextPage endCursor } } } }`,
  explain: `query($user: ID!, $item: ID!) { explain(userId: $user, itemId: $item, limit: 3) {
    paths { kind relation sharedUsers attribute { labels key } items { id title } } } }`,
  similar: `query($id: ID!, $k: Int) { item(id: $id) { ${ITEM} }
    similarItems(itemId: $id, k: $k) { score source item { ${ITEM} } } }`,
  record: `mutation($user: ID!, $item: ID!, $type: String!) {
    recordInteraction(userId: $user, itemId: $item, type: $type) { type timestamp } }`,
};

const $ = (id) => document.getElementById(id);
const state = {
  users: { prefix: "", cursors: [null], at: 0 },
  user: null,
  history: { cursors: [null], at: 0 },
  recordType: "",
};

// ---- small DOM helpers --------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function showMessage(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = kind === "error" ? "" : "info";
  box.hidden = !text;
}

/** Run `work`; an error becomes the page's message (and, given `where`, a line in that list). */
async function guarded(work, where) {
  try {
    return await work();
  } catch (err) {
    const text = err instanceof ApiError ? err.message : `unexpected error: ${err.message}`;
    showMessage(text);
    if (where) where.replaceChildren(el("li", { class: "muted error" }, text));
    return undefined;
  }
}

function label(item) {
  return item.title || (item.properties && (item.properties.name || item.properties.title)) || item.id;
}

const ID_LIKE = /(^|_)id$/i;

/** A few of a node's stored properties as one line (ids and nested values left out). */
function propsLine(props, skip = ["title", "name"]) {
  const parts = [];
  for (const [key, value] of Object.entries(props || {})) {
    if (skip.includes(key) || ID_LIKE.test(key) || value === null) continue;
    if (typeof value === "object" && !Array.isArray(value)) continue;
    const text = Array.isArray(value) ? value.slice(0, 4).join(", ") : String(value);
    parts.push(`${key}: ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`);
    if (parts.length === 4) break;
  }
  return parts.join(" · ");
}

function itemLink(item) {
  return el("button", { type: "button", class: "link item", "data-item": item.id, onclick: () => openSimilar(item.id) },
    label(item));
}

function recordButton(itemId) {
  const button = el("button", { type: "button", class: "record", "data-record": itemId,
    title: "record that this user interacted with this item", onclick: () => record(itemId) }, "record");
  button.disabled = !apiKey() || !state.user;
  return button;
}

function scored(rec, withRecord) {
  const li = el("li", { "data-item-id": rec.item.id }, itemLink(rec.item),
    el("span", { class: "score", title: "cosine score" }, rec.score.toFixed(3)),
    el("span", { class: "source" }, rec.source.toLowerCase().replace("_", " ")));
  if (withRecord) li.append(recordButton(rec.item.id));
  const props = propsLine(rec.item.properties);
  if (props) li.append(el("span", { class: "props" }, props));
  const moved = contextLine(rec);
  if (moved) li.append(el("span", { class: "moved", title: "what the context added to the score" }, moved));
  return li;
}

// ---- the model ----------------------------------------------------------------------------------------------

async function loadModel() {
  const data = await guarded(() => gql(Q.model));
  if (data === undefined) return;
  const m = data.model;
  $("model").textContent = m
    ? `model v${m.version} · ${m.encoder || "?"} · ${m.dimensions || "?"}-d${m.activatedAt ? ` · active since ${m.activatedAt.slice(0, 16).replace("T", " ")}` : ""}`
    : "no active model: run `graphrec refresh`";
}

// ---- users: search and pages --------------------------------------------------------------------------------

async function loadUsers() {
  const u = state.users;
  const data = await guarded(
    () => gql(Q.users, { first: PAGE, after: u.cursors[u.at], prefix: u.prefix || null }), $("users"));
  if (data === undefined || !data.users) return;
  const page = data.users;
  $("users").replaceChildren(...page.nodes.map((node) => el("li", { class: node.id === state.user ? "selected" : "" },
    el("button", { type: "button", class: "link user", "data-user": node.id, onclick: () => openUser(node.id) }, node.id))));
  if (!page.nodes.length) $("users").append(el("li", { class: "muted" }, u.prefix ? `no user id starts with “${u.prefix}”` : "no users"));
  u.cursors[u.at + 1] = page.pageInfo.endCursor;
  $("users-prev").disabled = u.at === 0;
  $("users-next").disabled = !page.pageInfo.hasNextPage;
}

let searchTimer = 0;
function searchUsers(text) {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.users = { prefix: text.trim(), cursors: [null], at: 0 };
    loadUsers();
  }, 250);
}

// ---- one user: properties, history, recommendations ---------------------------------------------------------

async function openUser(id) {
  state.user = id;
  state.history = { cursors: [null], at: 0 };
  const url = new URL(window.location.href);
  url.searchParams.set("user", id);
  window.history.replaceState(null, "", url);
  for (const button of document.querySelectorAll("#users button.user")) {
    button.parentElement.classList.toggle("selected", button.dataset.user === id);
  }
  $("user-title").textContent = `User ${id}`;
  $("context").hidden = false;
  showMessage("");
  const ok = await loadHistory();
  if (ok) await loadRecommendations();
}

async function loadHistory() {
  const h = state.history;
  const data = await guarded(
    () => gql(Q.user, { id: state.user, first: HISTORY_PAGE, after: h.cursors[h.at] }), $("history"));
  if (data === undefined || !data.user) {
    $("user-properties").textContent = "";
    $("recommendations").replaceChildren();
    return false;
  }
  const user = data.user;
  $("user-properties").textContent = propsLine(user.properties, []) || "no stored properties";
  const page = user.interactions;
  if (h.at === 0 && page.nodes.length) state.recordType = page.nodes[0].type;
  $("history").replaceChildren(...page.nodes.map((n) => el("li", {}, itemLink(n.item),
    el("span", { class: "props" }, [n.type.toLowerCase(), n.timestamp && n.timestamp.slice(0, 10),
      n.weight !== null ? `weight ${n.weight}` : ""].filter(Boolean).join(" · ")))));
  if (!page.nodes.length) $("history").append(el("li", { class: "muted" }, "no interactions yet"));
  h.cursors[h.at + 1] = page.pageInfo.endCursor;
  $("history-prev").disabled = h.at === 0;
  $("history-next").disabled = !page.pageInfo.hasNextPage;
  return true;
}

function recommendationsQuery() {
  const hour = $("hour").value.trim();
  const diversity = $("diversity").value.trim();
  const [lat, lon, radius] = ["near-lat", "near-lon", "near-radius"].map((f) => $(f).value.trim());
  const variables = {
    id: state.user,
    k: Number($("k").value),
    at: $("at").value || null,
    hour: hour === "" ? null : Number(hour),
    diversity: diversity === "" ? null : Number(diversity),
    near: lat && lon ? { latitude: Number(lat), longitude: Number(lon), radiusKm: radius ? Number(radius) : null } : null,
  };
  const query = `query($id: ID!, $k: Int, $at: Date, $hour: Int, $near: NearInput, $diversity: Float) {
    recommendations(userId: $id, k: $k, at: $at, hour: $hour, near: $near, diversity: $diversity) {
      score source item { ${ITEM} } context { name contribution } distanceKm } }`;
  return [query, variables];
}

/** "distance −0.041 (3.2 km) · season +0.012": what the context added to the score, largest first. */
function contextLine(rec) {
  const terms = (rec.context || []).map((term) => {
    const value = `${term.contribution >= 0 ? "+" : "−"}${Math.abs(term.contribution).toFixed(3)}`;
    const km = term.name === "distance" && rec.distanceKm != null ? ` (${rec.distanceKm.toFixed(1)} km)` : "";
    return `${term.name} ${value}${km}`;
  });
  return terms.join(" · ");
}

async function loadRecommendations() {
  const list = $("recommendations");
  list.replaceChildren(el("li", { class: "muted" }, "loading…"));
  const data = await guarded(() => gql(...recommendationsQuery()), list);
  if (data === undefined) return;
  const recs = data.recommendations || [];
  list.replaceChildren(...recs.map((rec) => scored(rec, true)));
  if (!recs.length) list.append(el("li", { class: "muted" }, "nothing to recommend"));
  const user = state.user;
  await Promise.all(recs.map((rec, n) => explain(user, rec.item.id, list.children[n])));
}

async function explain(user, itemId, li) {
  const why = el("span", { class: "why" }, "…");
  li.append(why);
  try {
    const data = await gql(Q.explain, { user, item: itemId });
    if (user !== state.user) return;
    const paths = (data.explain && data.explain.paths) || [];
    // the strongest path of each kind (the API lists them strongest first): one line, not a paragraph
    const kinds = new Set();
    const shown = paths.filter((p) => !kinds.has(p.kind) && kinds.add(p.kind));
    why.textContent = shown.length ? shown.map(describePath).join("; ") : "no short path (the embedding's pick)";
  } catch (err) {
    why.textContent = `no explanation: ${err.message}`;
  }
}

function describePath(path) {
  const names = path.items.slice(0, 3).map(label).join(", ");
  if (path.kind === "SHARED_NEIGHBOURS") {
    return `because you had ${names}${path.sharedUsers ? ` (${path.sharedUsers} people had both)` : ""}`;
  }
  if (path.kind === "SHARED_ATTRIBUTE") {
    const what = path.attribute ? `${(path.attribute.labels || [])[0] || ""} ${path.attribute.key}`.trim() : "an attribute";
    return `shares ${what} with ${names}`;
  }
  return `${(path.relation || "related").split(".").pop().replaceAll("_", " ")} of ${names}`;
}

// ---- similar items, recording -------------------------------------------------------------------------------

async function openSimilar(itemId) {
  const list = $("similar");
  list.replaceChildren(el("li", { class: "muted" }, "loading…"));
  const data = await guarded(() => gql(Q.similar, { id: itemId, k: SIMILAR_K }), list);
  if (data === undefined) return;
  $("similar-title").textContent = `Similar to ${label(data.item)}`;
  $("similar-hint").textContent = propsLine(data.item.properties);
  const recs = data.similarItems || [];
  list.replaceChildren(...recs.map((rec) => scored(rec, true)));
  if (!recs.length) list.append(el("li", { class: "muted" }, "no similar items (no embedding yet?)"));
}

async function record(itemId) {
  if (!state.user) return;
  const type = state.recordType || window.prompt("Interaction type (e.g. RATED, CLICKED)?", "") || "";
  if (!type) return;
  const data = await guarded(() => gql(Q.record, { user: state.user, item: itemId, type }));
  if (data === undefined) return;
  showMessage(`recorded: ${state.user} ${type.toLowerCase()} ${itemId}`, "info");
  state.history = { cursors: [null], at: 0 };
  await loadHistory();
  await loadRecommendations();
}

function refreshRecordButtons() {
  for (const button of document.querySelectorAll("button.record")) button.disabled = !apiKey() || !state.user;
}

// ---- wiring -------------------------------------------------------------------------------------------------

function pager(prev, next, box, load) {
  $(prev).addEventListener("click", () => { box().at = Math.max(0, box().at - 1); load(); });
  $(next).addEventListener("click", () => { box().at += 1; load(); });
}

async function start() {
  $("api-key").value = apiKey();
  const applyKey = async () => {
    if ($("api-key").value.trim() === apiKey()) return;
    setApiKey($("api-key").value.trim());
    refreshRecordButtons();
    showMessage("");
    await loadModel();
    await loadUsers();
  };
  $("api-key").addEventListener("change", applyKey);
  $("key-form").addEventListener("submit", (event) => { event.preventDefault(); applyKey(); });
  $("user-search").addEventListener("input", (event) => searchUsers(event.target.value));
  pager("users-prev", "users-next", () => state.users, loadUsers);
  pager("history-prev", "history-next", () => state.history, loadHistory);
  $("context").addEventListener("submit", (event) => { event.preventDefault(); loadRecommendations(); });
  await loadModel();
  const wanted = new URLSearchParams(window.location.search).get("user");
  await Promise.all([loadUsers(), wanted ? openUser(wanted) : Promise.resolve()]);
}

start();
