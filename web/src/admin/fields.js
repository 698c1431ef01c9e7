// Form fields for the admin page's editors, one builder per kind of value.
// A field spec is { name (the JS property of the generated message), label,
// type, ... }; `input(spec, value, ctx)` returns { el, read } where `read()`
// gives the value in the generated message's shape (uint64 as bigint, enums
// as numbers). `ctx` holds the catalog's current names (skills, queues,
// calendars, entry points, agents) for the choice lists.
import { h } from "../api.js";
import { Tier } from "../gen/hotline/v1/common_pb.js";

/** The protobuf field name of a generated message's property (for update
 * masks): `ringTimeoutSecs` -> `ring_timeout_secs`. */
export function snake(name) {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A stable text form of a value, to tell whether a field changed. */
export function same(a, b) {
  const text = (v) => JSON.stringify(v ?? null, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
  return text(a) === text(b);
}

export const TIERS = [
  [Tier.KEY_ACCOUNT, "Key account"],
  [Tier.POTENTIAL, "Potential"],
  [Tier.REGULAR, "Regular"],
  [Tier.ONE_OFF, "One-off"],
];

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** The options of a choice field: a fixed list or one from the catalog. */
function options(spec, ctx) {
  const list = typeof spec.options === "function" ? spec.options(ctx) : spec.options;
  return list.map((o) => (Array.isArray(o) ? o : [o, o === "" ? spec.none ?? "(none)" : o]));
}

const builders = {
  text(spec, value) {
    const el = h("input", { name: spec.name, type: "text", maxlength: String(spec.max ?? 200), spellcheck: "false" });
    el.value = value ?? "";
    if (spec.list) el.setAttribute("list", spec.list);
    return { el, read: () => el.value.trim() };
  },
  textarea(spec, value) {
    const el = h("textarea", { name: spec.name, rows: "2", maxlength: String(spec.max ?? 500) });
    el.value = value ?? "";
    return { el, read: () => el.value.trim() };
  },
  password(spec) {
    // Write-only: the server never returns it. Blank keeps the stored one.
    const el = h("input", { name: spec.name, type: "password", autocomplete: "new-password", placeholder: spec.placeholder ?? "" });
    return { el, read: () => el.value, writeOnly: true };
  },
  int(spec, value) {
    const el = h("input", { name: spec.name, type: "number", min: String(spec.min ?? 0), max: String(spec.maxValue ?? 4294967295), step: "1" });
    el.value = String(value ?? spec.default ?? 0);
    return { el, read: () => Math.max(0, Math.trunc(Number(el.value) || 0)) };
  },
  secs(spec, value) {
    const el = h("input", { name: spec.name, type: "number", min: "0", step: "1" });
    el.value = String(value ?? 0n);
    return { el, read: () => BigInt(Math.max(0, Math.trunc(Number(el.value) || 0))) };
  },
  bool(spec, value) {
    const el = h("input", { name: spec.name, type: "checkbox" });
    el.checked = Boolean(value ?? spec.default);
    return { el, read: () => el.checked };
  },
  choice(spec, value, ctx) {
    const el = h("select", { name: spec.name }, options(spec, ctx).map(([v, text]) => h("option", { value: v }, text)));
    // A stored value the list lacks (a renamed calendar, say) still shows.
    if (value && ![...el.options].some((o) => o.value === value)) el.append(h("option", { value }, value));
    el.value = value ?? "";
    return { el, read: () => el.value };
  },
  tier(spec, value) {
    const el = h("select", { name: spec.name }, TIERS.map(([v, text]) => h("option", { value: String(v) }, text)));
    el.value = String(value || Tier.REGULAR);
    return { el, read: () => Number(el.value) };
  },
  days(spec, value) {
    const chosen = new Set(value ?? []);
    const boxes = DAYS.map((d) => {
      const box = h("input", { type: "checkbox", name: `${spec.name}-${d}`, value: d });
      box.checked = chosen.has(d);
      return { d, box };
    });
    const el = h("span", { class: "days" }, boxes.map(({ d, box }) => h("label", { class: "day" }, box, d)));
    return { el, read: () => boxes.filter((b) => b.box.checked).map((b) => b.d) };
  },
  strings(spec, value) {
    const el = h("input", { name: spec.name, type: "text", placeholder: spec.placeholder ?? "separate with ;" });
    el.value = (value ?? []).join("; ");
    return { el, read: () => el.value.split(/[;,\n]/).map((s) => s.trim()).filter(Boolean) };
  },
  /** A nested message shown as its fields side by side. */
  group(spec, value, ctx) {
    const parts = spec.fields.map((f) => ({ f, ...input(f, value?.[f.name], ctx) }));
    const el = h("div", { class: "group", dataset: { field: spec.name } },
      parts.map((p) => h("label", {}, p.f.label, p.el)));
    return {
      el,
      read: () => Object.fromEntries(parts.map((p) => [p.f.name, p.read()])),
    };
  },
  /** A repeated message: one row per item, rows added and removed. */
  rows(spec, value, ctx) {
    const body = h("tbody");
    const rows = [];
    const addRow = (item) => {
      const cells = spec.columns.map((c) => ({ c, ...input(c, item?.[c.name], ctx) }));
      const tr = h("tr", {}, cells.map((x) => h("td", {}, x.el)));
      const row = { tr, read: () => Object.fromEntries(cells.map((x) => [x.c.name, x.read()])) };
      tr.append(h("td", {}, h("button", {
        type: "button",
        class: "small ghost remove-row",
        title: "Remove",
        onclick: () => {
          rows.splice(rows.indexOf(row), 1);
          tr.remove();
        },
      }, "Remove")));
      rows.push(row);
      body.append(tr);
    };
    for (const item of value ?? []) addRow(item);
    const el = h("div", { class: "rows", dataset: { field: spec.name } },
      h("table", { class: "list compact" },
        h("thead", {}, h("tr", {}, spec.columns.map((c) => h("th", {}, c.label)), h("th"))),
        body),
      h("button", { type: "button", class: "small add-row", onclick: () => addRow(spec.blank?.() ?? {}) }, spec.addLabel ?? "Add"));
    return { el, read: () => rows.map((r) => r.read()) };
  },
};

/** The input for `spec` showing `value`. */
export function input(spec, value, ctx) {
  const build = builders[spec.type ?? "text"];
  if (!build) throw new Error(`no field type ${spec.type}`);
  return build(spec, value, ctx);
}
