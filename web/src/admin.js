// The admin page: the catalog every node routes by (agents and skills,
// queues, hours, entry points, not-ready reasons and wrap-up categories,
// the customer directory), its import and export, and the audit of who
// changed what. Admins edit; supervisors read (the server enforces both).
// Every save sends the object's etag: if someone else changed it since it
// was loaded, the save fails with a conflict and nothing is overwritten.
import { $, clients, describe, h, initialToken, ms } from "./api.js";
import { endSso, offerSso } from "./sso.js";
import { DocumentFormat } from "./gen/hotline/v1/admin_pb.js";
import { input, same, snake } from "./admin/fields.js";
import { KINDS } from "./admin/kinds.js";

const TOKEN_KEY = "hotline.admin.token";
const PAGE = 100;

const page = {
  api: null,
  canEdit: false,
  // Names for the forms' choice lists, refreshed after every save.
  ctx: { skills: [], queues: [], calendars: [], agents: [], entryPoints: [] },
  views: new Map(), // kind key -> view
};

async function signIn(token) {
  const api = clients(token);
  const me = await api.session.whoAmI({});
  if (me.role !== "admin" && me.role !== "supervisor") {
    throw new Error(`this is a ${me.role} sign-in; the admin page needs an admin (or, to read, a supervisor)`);
  }
  if (typeof token === "string") sessionStorage.setItem(TOKEN_KEY, token);
  page.api = api;
  page.canEdit = me.role === "admin";
  $("who").textContent = `${me.subject} (${me.role})`;
  $("signin").hidden = true;
  $("console").hidden = false;
  $("sign-out").disabled = false;
  document.body.classList.toggle("read-only", !page.canEdit);
  if (!page.canEdit) $("read-only-note").hidden = false;
  fillTimeZones();
  await refreshNames();
  for (const kind of KINDS) page.views.set(kind.key, view(kind));
  show(location.hash.slice(1) || "agents");
}

/** Where each list of names the forms offer comes from, by the kind
 * whose objects they name. */
const NAME_SOURCES = {
  skills: ["listSkills", "skills", "name"],
  queues: ["listQueues", "queues", "name"],
  calendars: ["listCalendars", "calendars", "id"],
  agents: ["listAgentProfiles", "agents", "id"],
  "entry-points": ["listEntryPoints", "entryPoints", "number"],
};

/** The names the forms offer, read again: of the kind `only` (after a
 * save or delete of one of its objects), or of every kind. */
async function refreshNames(only) {
  const all = async (method, items, id) => {
    const out = [];
    let pageToken = "";
    do {
      const res = await page.api.admin[method]({ pageSize: 1000, pageToken });
      out.push(...res[items].map((x) => x[id]));
      pageToken = res.nextPageToken;
    } while (pageToken && out.length < 10000);
    return out;
  };
  const kinds = only ? [only].filter((k) => NAME_SOURCES[k]) : Object.keys(NAME_SOURCES);
  const lists = await Promise.all(kinds.map((k) => all(...NAME_SOURCES[k])));
  kinds.forEach((k, i) => { page.ctx[NAME_SOURCES[k][1]] = lists[i]; });
}

function fillTimeZones() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("time-zones").replaceChildren(...zones.map((z) => h("option", { value: z })));
}

// ---- tabs ----

function show(key) {
  if (!$("tabs").querySelector(`[data-tab="${key}"]`)) key = "agents";
  for (const b of $("tabs").querySelectorAll("button")) b.classList.toggle("current", b.dataset.tab === key);
  for (const s of document.querySelectorAll("section.tab")) s.hidden = s.dataset.tab !== key;
  history.replaceState(null, "", `#${key}`);
  if (key === "audit") loadAudit(true);
  else if (key === "trail") loadTrail(true);
  else page.views.get(key)?.reload();
}

// ---- one kind: its list and its editor ----

function view(kind) {
  const section = $("kinds").appendChild(h("section", { class: "tab card", dataset: { tab: kind.key }, hidden: "" }));
  const search = h("input", { id: `${kind.key}-search`, type: "search", placeholder: kind.searchHint ?? "Search", maxlength: "100" });
  const count = h("span", { class: "muted", id: `${kind.key}-count` });
  const rows = h("tbody", { id: `${kind.key}-rows` });
  const more = h("button", { class: "small", id: `${kind.key}-more`, hidden: "" }, "More");
  const editor = h("div", { class: "editor", id: `${kind.key}-editor`, hidden: "" });
  const error = h("p", { class: "error", id: `${kind.key}-error` });
  const status = h("p", { class: "status", id: `${kind.key}-status` });
  const state = { token: "", items: [] };

  section.append(
    h("div", { class: "toolbar" },
      h("h2", {}, kind.title), count,
      h("span", { class: "spacer" }),
      h("form", { class: "inline", onsubmit: (ev) => { ev.preventDefault(); reload(); } }, search, h("button", { type: "submit" }, "Search")),
      page.canEdit ? h("button", { class: "primary", id: `${kind.key}-new`, onclick: () => edit(null) }, `New ${kind.noun}`) : null),
    ...(kind.key === "customers" ? [customerTools(reload)] : []),
    status, error,
    h("div", { class: "split" },
      h("div", { class: "listing" },
        h("table", { class: "list" },
          h("thead", {}, h("tr", {}, kind.columns.map(([name]) => h("th", {}, name)))),
          rows),
        more),
      editor));

  async function reload() {
    state.token = "";
    state.items = [];
    rows.replaceChildren();
    await loadPage();
  }

  async function loadPage() {
    try {
      const res = await page.api.admin[kind.api.list]({ pageSize: PAGE, pageToken: state.token, filter: search.value.trim() });
      const items = res[kind.api.items];
      state.items.push(...items);
      state.token = res.nextPageToken;
      rows.append(...items.map(row));
      if (!state.items.length) rows.append(h("tr", {}, h("td", { colspan: String(kind.columns.length), class: "muted" }, "None")));
      count.textContent = `${res.totalSize} in all`;
      more.hidden = !state.token;
      error.textContent = "";
    } catch (err) {
      error.textContent = describe(err);
    }
  }

  function row(item) {
    const id = item[kind.idField];
    const cells = kind.columns.map(([name, cell]) => {
      if (kind.inline === "tier" && name === "Tier" && page.canEdit) return h("td", {}, tierPicker(item));
      return h("td", {}, cell(item));
    });
    return h("tr", { dataset: { id }, class: "clickable", onclick: (ev) => { if (ev.target.tagName !== "SELECT") edit(item); } }, cells);
  }

  /** The tier as a list in the row: changing it saves it at once. */
  function tierPicker(item) {
    const { el, read } = input({ name: "tier", type: "tier" }, item.tier, page.ctx);
    el.classList.add("small");
    el.addEventListener("change", async () => {
      try {
        const saved = await page.api.admin[kind.api.update]({
          [kind.wrap]: { ...item, tier: read() },
          updateMask: { paths: ["tier"] },
        });
        Object.assign(item, saved);
        said(`${item.id} is now ${el.selectedOptions[0].textContent}`);
      } catch (err) {
        el.value = String(item.tier);
        error.textContent = describe(err);
      }
    });
    return el;
  }

  function said(text) {
    status.textContent = text;
    error.textContent = "";
  }

  /** Opens the form for `item`, or for a new object when null. */
  function edit(item) {
    const creating = item === null;
    const inputs = kind.fields.map((f) => {
      const built = input(f, item?.[f.name], page.ctx);
      if ((f.idOnly && !creating) || !page.canEdit) built.el.setAttribute("disabled", "");
      if (built.el.querySelectorAll) for (const e of built.el.querySelectorAll("input, select, button")) if (!page.canEdit) e.setAttribute("disabled", "");
      return { f, ...built };
    });
    const sections = [];
    for (const x of inputs) {
      const name = x.f.section ?? "";
      let s = sections.find((y) => y.name === name);
      if (!s) sections.push((s = { name, items: [] }));
      s.items.push(x.f.type === "rows" || x.f.type === "group"
        ? h("div", { class: "wide" }, h("h3", {}, x.f.label), x.el)
        : h("label", { class: x.f.type === "bool" ? "check" : "" }, x.f.label, x.el));
    }
    const formError = h("p", { class: "error", id: `${kind.key}-form-error` });
    const save = async (ev) => {
      ev.preventDefault();
      formError.textContent = "";
      const value = Object.fromEntries(inputs.map((x) => [x.f.name, x.read()]));
      try {
        let saved;
        if (creating) {
          saved = await page.api.admin[kind.api.create]({ [kind.wrap]: value });
        } else {
          // Only what changed, so a field someone else set meanwhile is
          // not written back (and the etag catches the rest).
          const paths = inputs
            .filter((x) => (x.writeOnly ? x.read() !== "" : !same(x.read(), item[x.f.name])))
            .map((x) => snake(x.f.name));
          if (!paths.length) return said("Nothing changed");
          saved = await page.api.admin[kind.api.update]({ [kind.wrap]: { ...value, etag: item.etag }, updateMask: { paths } });
        }
        await refreshNames(kind.key);
        await reload();
        edit(saved);
        said(`Saved ${kind.noun} ${saved[kind.idField]}`);
      } catch (err) {
        formError.textContent = describe(err) + (err?.code === 10 ? " (reload it to see their change)" : "");
      }
    };
    const remove = async () => {
      if (!confirm(`Delete ${kind.noun} ${item[kind.idField]}?`)) return;
      try {
        await page.api.admin[kind.api.remove]({ id: item[kind.idField], etag: item.etag });
        editor.hidden = true;
        await refreshNames(kind.key);
        await reload();
        said(`Deleted ${kind.noun} ${item[kind.idField]}`);
      } catch (err) {
        formError.textContent = describe(err);
      }
    };
    editor.replaceChildren(
      h("form", { id: `${kind.key}-form`, onsubmit: save },
        h("h3", {}, creating ? `New ${kind.noun}` : `${kind.noun} ${item[kind.idField]}`),
        sections.map((s) => h("fieldset", {}, s.name ? h("legend", {}, s.name) : null, s.items)),
        formError,
        h("div", { class: "actions" },
          page.canEdit ? h("button", { type: "submit", class: "primary", id: `${kind.key}-save` }, creating ? "Create" : "Save") : null,
          page.canEdit && !creating ? h("button", { type: "button", class: "danger", id: `${kind.key}-delete`, onclick: remove }, "Delete") : null,
          h("button", { type: "button", class: "ghost", onclick: () => { editor.hidden = true; } }, "Close"))));
    editor.hidden = false;
  }

  return { reload };
}

// ---- catalog documents ----

/** The customers tab's import and export of the directory as CSV. */
function customerTools(reload) {
  const file = h("input", { type: "file", id: "customers-file", accept: ".csv,text/csv" });
  return h("div", { class: "toolbar small" },
    page.canEdit ? [h("span", {}, "Import CSV"), file, h("button", { id: "customers-import", onclick: () => importFile(file, DocumentFormat.CUSTOMERS_CSV, reload) }, "Import")] : null,
    h("button", { class: "ghost", onclick: () => exportDocument(DocumentFormat.CUSTOMERS_CSV, "customers.csv", "text/csv") }, "Export CSV"),
    h("span", { class: "muted" }, "Columns: id,name,tier,numbers,account_manager,contract,contract_expires (numbers separated by ;)"),
    h("p", { class: "status", id: "customers-import-status" }),
    h("p", { class: "error", id: "customers-import-error" }));
}

/** Sends a whole document; the server checks every line before writing any. */
async function importFile(fileInput, format, after) {
  const target = format === DocumentFormat.CUSTOMERS_CSV ? "customers" : "document";
  const status = $(`${target}-import-status`);
  const error = $(`${target}-import-error`);
  status.textContent = "";
  error.textContent = "";
  const f = fileInput.files?.[0];
  if (!f) return (error.textContent = "Choose a file first");
  try {
    status.textContent = `Importing ${f.name}...`;
    const data = new Uint8Array(await f.arrayBuffer());
    const s = await page.api.admin.uploadCatalog({ format, data });
    status.textContent = `Imported ${f.name}: ${s.objects} read, ${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged`;
    await refreshNames();
    await after?.();
  } catch (err) {
    status.textContent = "";
    error.textContent = `${f.name} was not imported (nothing changed): ${describe(err)}`;
  }
}

async function exportDocument(format, name, type) {
  try {
    const parts = [];
    for await (const chunk of page.api.admin.exportCatalog({ format })) parts.push(chunk.data);
    const a = h("a", { href: URL.createObjectURL(new Blob(parts, { type })), download: name });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) {
    $("document-import-error").textContent = describe(err);
  }
}

// ---- audit ----

const audit = { token: "" };

async function loadAudit(fresh) {
  if (fresh) {
    audit.token = "";
    $("audit-rows").replaceChildren();
  }
  try {
    const res = await page.api.admin.listAuditEntries({
      pageSize: PAGE,
      pageToken: audit.token,
      kind: $("audit-kind").value,
      id: $("audit-id").value.trim(),
    });
    audit.token = res.nextPageToken;
    $("audit-more").hidden = !audit.token;
    $("audit-rows").append(...res.entries.map((e) => h("tr", { dataset: { kind: e.kind, id: e.id, actor: e.actor } },
      h("td", {}, new Date(ms(e.atUnixMs)).toLocaleString()),
      h("td", {}, e.actor),
      h("td", {}, e.action),
      h("td", {}, e.kind),
      h("td", {}, e.id),
      h("td", { class: "change" }, change(e.beforeJson, e.afterJson)))));
    $("audit-error").textContent = "";
  } catch (err) {
    $("audit-error").textContent = describe(err);
  }
}

// ---- the audit trail (every sensitive action) ----

const TRAIL_ACTIONS = [
  "monitor-started", "recording-played", "recording-downloaded", "recording-paused", "recording-resumed",
  "agent-state-forced", "call-graded", "callback-rescheduled", "callback-cancelled", "catalog-changed",
  "catalog-imported", "signed-in", "sessions-revoked", "customer-exported", "customer-erased", "case-changed",
];
const trail = { token: "" };

function trailFilter() {
  return { actor: $("trail-actor").value.trim(), action: $("trail-action").value, target: $("trail-target").value.trim() };
}

async function loadTrail(fresh) {
  if (fresh) {
    trail.token = "";
    $("trail-rows").replaceChildren();
  }
  try {
    const res = await page.api.audit.listAuditEvents({ ...trailFilter(), pageSize: PAGE, pageToken: trail.token });
    trail.token = res.nextPageToken;
    $("trail-more").hidden = !trail.token;
    $("trail-rows").append(...res.events.map((e) => h("tr", { dataset: { action: e.action, target: e.target, actor: e.actor } },
      h("td", {}, new Date(ms(e.atUnixMs)).toLocaleString()),
      h("td", {}, e.actor),
      h("td", {}, e.role),
      h("td", {}, e.action),
      h("td", {}, e.target),
      h("td", {}, e.detail),
      h("td", {}, e.node))));
    $("trail-error").textContent = "";
  } catch (err) {
    $("trail-error").textContent = describe(err);
  }
}

/** Every event the filter matches as a JSON Lines download. */
async function exportTrail() {
  const lines = [];
  let pageToken = "";
  do {
    const res = await page.api.audit.listAuditEvents({ ...trailFilter(), pageSize: 500, pageToken });
    for (const e of res.events) {
      lines.push(JSON.stringify({
        id: e.id, at_unix_ms: ms(e.atUnixMs), actor: e.actor, role: e.role, action: e.action,
        target: e.target, detail: e.detail, node: e.node,
      }));
    }
    pageToken = res.nextPageToken;
  } while (pageToken);
  const url = URL.createObjectURL(new Blob([lines.map((l) => l + "\n").join("")], { type: "application/jsonl" }));
  h("a", { href: url, download: "hotline-audit.jsonl" }).click();
  URL.revokeObjectURL(url);
}

/** The fields an audited write changed: "tier: regular -> key-account". */
function change(beforeJson, afterJson) {
  const parse = (t) => { try { return t ? JSON.parse(t) : {}; } catch { return {}; } };
  const before = parse(beforeJson);
  const after = parse(afterJson);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const shown = (v) => (v === undefined || v === null ? "-" : typeof v === "string" ? v : JSON.stringify(v));
  const blank = (v) => v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length);
  // A creation or deletion lists what the object held; an update, what moved.
  const whole = !beforeJson || !afterJson ? (afterJson ? after : before) : null;
  if (whole) {
    return keys.filter((k) => !blank(whole[k])).map((k) => h("div", {}, h("b", {}, k), `: ${shown(whole[k])}`));
  }
  return keys
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => h("div", {}, h("b", {}, k), `: ${shown(before[k])} -> ${shown(after[k])}`));
}

// ---- page ----

$("tabs").append(
  ...KINDS.map((k) => h("button", { dataset: { tab: k.key }, onclick: () => show(k.key) }, k.title)),
  h("button", { dataset: { tab: "documents" }, onclick: () => show("documents") }, "Import / export"),
  h("button", { dataset: { tab: "audit" }, onclick: () => show("audit") }, "Audit log"),
  h("button", { dataset: { tab: "trail" }, onclick: () => show("trail") }, "Audit trail"));
$("audit-kind").append(...["skill", "agent", "calendar", "queue", "entry-point", "keypad-menu", "reason-code", "wrap-up-category", "customer"]
  .map((k) => h("option", { value: k }, k)));
$("audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(true); });
$("audit-more").addEventListener("click", () => loadAudit(false));
$("trail-action").append(...TRAIL_ACTIONS.map((a) => h("option", { value: a }, a)));
$("trail-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadTrail(true); });
$("trail-more").addEventListener("click", () => loadTrail(false));
$("trail-export").addEventListener("click", () => exportTrail().catch((err) => { $("trail-error").textContent = describe(err); }));
$("document-export").addEventListener("click", () => exportDocument(DocumentFormat.JSON_LINES, "catalog.jsonl", "application/jsonl"));
$("document-import").addEventListener("click", () => importFile($("document-file"), DocumentFormat.JSON_LINES));
$("signin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  signIn($("token").value).catch((err) => { $("signin-error").textContent = describe(err); });
});
$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  endSso("admin");
  location.reload();
});
const token = initialToken(TOKEN_KEY);
const signInError = (err) => { $("signin-error").textContent = describe(err); };
if (token) {
  $("token").value = token;
  signIn(token).catch(signInError);
} else {
  offerSso("admin", { button: $("sso"), signIn, showError: signInError });
}
