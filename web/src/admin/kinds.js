// What the admin page edits: one spec per catalog kind, naming its API
// methods, its list columns and its form's fields (see fields.js). The
// server checks everything again; these specs only shape the forms.
import { h, label } from "../api.js";
import { Tier } from "../gen/hotline/v1/common_pb.js";

const secs = (name, text, section) => ({ name, label: text, type: "secs", section });
const calendars = (ctx) => ["", ...ctx.calendars];
const queues = (ctx) => ["", ...ctx.queues];

const skillLevels = {
  name: "skills",
  label: "Skills",
  type: "rows",
  addLabel: "Add skill",
  blank: () => ({ proficiency: 5 }),
  columns: [
    { name: "skill", label: "Skill", type: "choice", options: (ctx) => ctx.skills },
    { name: "proficiency", label: "Proficiency (1-10)", type: "int", min: 1, maxValue: 10, default: 5 },
  ],
};

export const KINDS = [
  {
    key: "agents",
    title: "Agents",
    noun: "agent",
    idField: "id",
    wrap: "agent",
    api: { list: "listAgentProfiles", items: "agents", create: "createAgentProfile", update: "updateAgentProfile", remove: "deleteAgentProfile" },
    columns: [
      ["Agent", (a) => a.id],
      ["Name", (a) => a.displayName],
      ["Skills", (a) => a.skills.map((s) => `${s.skill} ${s.proficiency}`).join(", ")],
      ["SIP phone", (a) => (a.hasSipPassword ? "yes" : "")],
      ["Status", (a) => (a.active ? "active" : "deactivated")],
    ],
    fields: [
      { name: "id", label: "Agent id (their sign-in name)", idOnly: true, max: 64 },
      { name: "displayName", label: "Display name", max: 128 },
      { name: "active", label: "Active (may sign in and take calls)", type: "bool", default: true },
      { name: "sipPassword", label: "SIP phone password", type: "password", placeholder: "unchanged (write-only)" },
      skillLevels,
    ],
  },
  {
    key: "skills",
    title: "Skills",
    noun: "skill",
    idField: "name",
    wrap: "skill",
    api: { list: "listSkills", items: "skills", create: "createSkill", update: "updateSkill", remove: "deleteSkill" },
    columns: [
      ["Skill", (s) => s.name],
      ["Description", (s) => s.description],
    ],
    fields: [
      { name: "name", label: "Skill", idOnly: true, max: 64 },
      { name: "description", label: "Description", type: "textarea" },
    ],
  },
  {
    key: "queues",
    title: "Queues",
    noun: "queue",
    idField: "name",
    wrap: "queue",
    api: { list: "listQueues", items: "queues", create: "createQueue", update: "updateQueue", remove: "deleteQueue" },
    columns: [
      ["Queue", (q) => q.name],
      ["Needs", (q) => q.requiredSkills.map((r) => `${r.skill} ${r.minProficiency}+${r.optional ? " (optional)" : ""}`).join(", ")],
      ["Strategy", (q) => q.strategy],
      ["Service level", (q) => `${q.serviceLevelTargetPercent || 80}% in ${q.serviceLevelSecs} s`],
      ["Hours", (q) => (q.hours ? `${q.hours} (closed: ${q.whenClosed})` : "always open")],
    ],
    fields: [
      { name: "name", label: "Queue", idOnly: true, max: 64, section: "Routing" },
      {
        name: "requiredSkills",
        label: "Required skills",
        type: "rows",
        section: "Routing",
        addLabel: "Add requirement",
        blank: () => ({ minProficiency: 1 }),
        columns: [
          { name: "skill", label: "Skill", type: "choice", options: (ctx) => ctx.skills },
          { name: "minProficiency", label: "At least (1-10)", type: "int", min: 1, maxValue: 10, default: 1 },
          { name: "optional", label: "Optional", type: "bool" },
        ],
      },
      { name: "strategy", label: "Strategy", type: "choice", section: "Routing", options: ["longest-idle", "most-proficient", "fewest-calls", "round-robin"] },
      {
        name: "tierPriority",
        label: "Head start by tier (seconds)",
        type: "group",
        section: "Routing",
        fields: [
          secs("keyAccountSecs", "Key account"),
          secs("potentialSecs", "Potential"),
          secs("regularSecs", "Regular"),
          secs("oneOffSecs", "One-off"),
        ],
      },
      {
        name: "relaxation",
        label: "Relaxation steps",
        type: "rows",
        section: "Routing",
        addLabel: "Add step",
        blank: () => ({ afterSecs: 30n, lowerProficiencyBy: 1 }),
        columns: [
          secs("afterSecs", "After (s)"),
          { name: "lowerProficiencyBy", label: "Lower by", type: "int", maxValue: 10 },
          { name: "dropOptionalSkills", label: "Drop optional", type: "bool" },
        ],
      },
      { name: "preferredAgentWaitSecs", label: "Wait for the preferred agent (s)", type: "secs", section: "Routing" },
      secs("ringTimeoutSecs", "Ring timeout (s)", "Offers"),
      { name: "maxConsecutiveMisses", label: "Missed offers before not ready", type: "int", section: "Offers" },
      secs("reofferDelaySecs", "Re-offer delay (s)", "Offers"),
      secs("wrapUpSecs", "Wrap-up time (s)", "Offers"),
      secs("serviceLevelSecs", "Service-level threshold (s)", "Limits"),
      { name: "serviceLevelTargetPercent", label: "Service-level target (% within the threshold; staffing plans for it)", type: "int", min: 1, maxValue: 100, default: 80, section: "Limits" },
      secs("maxQueueLen", "Most calls waiting", "Limits"),
      secs("maxWaitSecs", "Longest wait (s, 0 = none)", "Limits"),
      { name: "overflowQueue", label: "Overflow to", type: "choice", options: queues, none: "(none: the call ends)", section: "Limits" },
      { name: "whenNoAgents", label: "When no agent has the skills", type: "choice", options: ["wait", "overflow", "reject"], section: "Limits" },
      { name: "hours", label: "Open hours", type: "choice", options: calendars, none: "(always open)", section: "Hours" },
      { name: "whenClosed", label: "When closed", type: "choice", options: [["announce", "announce, then release"], ["callback", "book a callback for the opening"], ["overflow", "overflow"]], section: "Hours" },
      secs("callbackDeadlineSecs", "Callback promise (s)", "Callbacks"),
      { name: "callbackHours", label: "Promise counts hours of", type: "choice", options: calendars, none: "(around the clock)", section: "Callbacks" },
      secs("callbackUrgentBeforeSecs", "Urgent before the deadline (s)", "Callbacks"),
      { name: "callbackMaxAttempts", label: "Attempts", type: "int", section: "Callbacks" },
      secs("callbackOnAbandonAfterSecs", "Offer on abandon after (s, 0 = never)", "Callbacks"),
      { name: "callbackOnOpenWrapUp", label: "Book one when a call ends unresolved", type: "bool", section: "Callbacks" },
    ],
  },
  {
    key: "calendars",
    title: "Hours",
    noun: "calendar",
    idField: "id",
    wrap: "calendar",
    api: { list: "listCalendars", items: "calendars", create: "createCalendar", update: "updateCalendar", remove: "deleteCalendar" },
    columns: [
      ["Calendar", (c) => c.id],
      ["Time zone", (c) => c.timeZone],
      ["Open", (c) => c.open.map((s) => `${s.days.join(",")} ${s.from}-${s.to}`).join("; ")],
      ["Closed on", (c) => c.closed.map((d) => d.date).join(", ")],
    ],
    fields: [
      { name: "id", label: "Calendar", idOnly: true, max: 64 },
      { name: "description", label: "Description" },
      { name: "timeZone", label: "Time zone (IANA, e.g. Europe/Berlin)", list: "time-zones", max: 64 },
      {
        name: "open",
        label: "Open",
        type: "rows",
        addLabel: "Add opening",
        blank: () => ({ days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" }),
        columns: [
          { name: "days", label: "Days", type: "days" },
          { name: "from", label: "From (HH:MM)", max: 5 },
          { name: "to", label: "To (HH:MM, up to 24:00)", max: 5 },
        ],
      },
      {
        name: "closed",
        label: "Closed (holidays)",
        type: "rows",
        addLabel: "Add closure",
        columns: [
          { name: "date", label: "Date (YYYY-MM-DD)", max: 10 },
          { name: "label", label: "Why" },
        ],
      },
    ],
  },
  {
    key: "entry-points",
    title: "Entry points",
    noun: "entry point",
    idField: "number",
    wrap: "entryPoint",
    api: { list: "listEntryPoints", items: "entryPoints", create: "createEntryPoint", update: "updateEntryPoint", remove: "deleteEntryPoint" },
    columns: [
      ["Number", (e) => e.number],
      ["Queue", (e) => e.queue],
      ["Description", (e) => e.description],
    ],
    fields: [
      { name: "number", label: "Dialled number", idOnly: true, max: 32 },
      { name: "queue", label: "Queue", type: "choice", options: (ctx) => ctx.queues },
      { name: "description", label: "Description" },
    ],
  },
  {
    key: "keypad-menus",
    title: "Keypad menus",
    noun: "keypad menu",
    idField: "number",
    wrap: "keypadMenu",
    api: { list: "listKeypadMenus", items: "keypadMenus", create: "createKeypadMenu", update: "updateKeypadMenu", remove: "deleteKeypadMenu" },
    columns: [
      ["Number", (m) => m.number],
      ["Keys", (m) => m.options.map((o) => `${o.key}: ${o.entryPoint}`).join(", ")],
      ["Otherwise", (m) => m.defaultEntryPoint || "refused"],
      ["Prompt", (m) => m.prompt],
    ],
    fields: [
      { name: "number", label: "Dialled number", idOnly: true, max: 32 },
      { name: "description", label: "Description" },
      { name: "prompt", label: "Prompt (builtin, or a file in each node's prompts folder)", max: 128 },
      {
        name: "options",
        label: "Keys",
        type: "rows",
        addLabel: "Add key",
        columns: [
          { name: "key", label: "Key (0-9, * or #)", max: 1 },
          { name: "entryPoint", label: "Entry point", type: "choice", options: (ctx) => ctx.entryPoints },
        ],
      },
      { name: "timeoutSecs", label: "Wait for a key (s)", type: "secs" },
      { name: "defaultEntryPoint", label: "No key pressed", type: "choice", options: (ctx) => ["", ...ctx.entryPoints], none: "(refuse the call)" },
    ],
  },
  codes("reason-codes", "Not-ready reasons", "reason code", "reasonCode",
    { list: "listReasonCodes", items: "reasonCodes", create: "createReasonCode", update: "updateReasonCode", remove: "deleteReasonCode" }),
  codes("wrap-up-categories", "Wrap-up categories", "category", "wrapUpCategory",
    { list: "listWrapUpCategories", items: "wrapUpCategories", create: "createWrapUpCategory", update: "updateWrapUpCategory", remove: "deleteWrapUpCategory" }),
  {
    key: "customers",
    title: "Customers",
    noun: "customer",
    idField: "id",
    wrap: "customer",
    searchHint: "Search by id, name or number",
    api: { list: "listCustomers", items: "customers", create: "createCustomer", update: "updateCustomer", remove: "deleteCustomer" },
    columns: [
      ["Customer", (c) => c.id],
      ["Name", (c) => c.name],
      ["Tier", (c) => h("span", { class: `tier tier-${(Tier[c.tier] ?? "").toLowerCase()}` }, label(Tier, c.tier))],
      ["Numbers", (c) => c.numbers.join(", ")],
      ["Account manager", (c) => c.accountManager],
      ["Contract", (c) => (c.contract === "contract" && c.contractExpires ? `until ${c.contractExpires}` : c.contract)],
    ],
    // Tier changes in the list itself: the everyday edit.
    inline: "tier",
    fields: [
      { name: "id", label: "Customer id", idOnly: true, max: 64 },
      { name: "name", label: "Name" },
      { name: "tier", label: "Tier", type: "tier" },
      { name: "numbers", label: "Phone numbers", type: "strings", placeholder: "+4930123; +4930456" },
      { name: "accountManager", label: "Account manager (key accounts)", type: "choice", options: (ctx) => ["", ...ctx.agents], none: "(none)" },
      { name: "contract", label: "Maintenance contract", type: "choice", options: [["none", "none"], ["free-period", "free period"], ["contract", "paid contract"]] },
      { name: "contractExpires", label: "Contract expires (YYYY-MM-DD)", max: 10 },
    ],
  },
];

/** Reason codes and wrap-up categories share a shape. */
function codes(key, title, noun, wrap, api) {
  return {
    key,
    title,
    noun,
    idField: "code",
    wrap,
    api,
    columns: [
      ["Code", (c) => c.code],
      ["Label", (c) => c.label],
      ["Offered", (c) => (c.active ? "yes" : "no")],
    ],
    fields: [
      { name: "code", label: "Code", idOnly: true, max: 64 },
      { name: "label", label: "Label (what agents see)" },
      { name: "active", label: "Offered to agents", type: "bool", default: true },
    ],
  };
}
