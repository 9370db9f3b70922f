// Run once by hand (not at test time): node extract-jira.js <path to @atlaskit/adf-schema>/dist/json-schema/v1/full.json > jira-excerpt.json
// The Jira part below is copied by hand from Atlassian's Jira Cloud platform description (swagger-v3.v3.json, see SOURCES.md):
// for each operation the bot calls, its path and query parameters and its request body, and the component schemas those
// bodies use, with descriptions and examples dropped. Components the bot never sends a member of (UserDetails, Visibility,
// EntityProperty, HistoryMetadata, IssueTransition) were not copied and stand as {} (anything).
// The ADF JSON schema (Atlassian's own, from @atlaskit/adf-schema) is merged into "definitions": the Jira description
// leaves ADF bodies untyped and says in prose that they are ADF; "overlay" states that prose as schema.
const fs = require("fs");
const adf = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const p = (name, schema, required = false, where = "query") => ({ name, in: where, required, schema });
const key = p("issueIdOrKey", { type: "string" }, true, "path");
const ref = name => ({ $ref: `#/definitions/${name}` });
const operations = [
  { method: "GET", path: "/rest/api/3/issue/{issueIdOrKey}", operationId: "getIssue", parameters: [key,
      p("fields", { items: { default: "*all", type: "string" }, type: "array" }), p("fieldsByKeys", { default: false, type: "boolean" }),
      p("expand", { type: "string" }), p("properties", { items: { default: "null", type: "string" }, type: "array" }),
      p("updateHistory", { default: false, type: "boolean" }), p("failFast", { default: false, type: "boolean" })], requestBody: null },
  { method: "PUT", path: "/rest/api/3/issue/{issueIdOrKey}", operationId: "editIssue", parameters: [key,
      p("notifyUsers", { default: true, type: "boolean" }), p("overrideScreenSecurity", { default: false, type: "boolean" }),
      p("overrideEditableFlag", { default: false, type: "boolean" }), p("returnIssue", { default: false, type: "boolean" }),
      p("expand", { default: "", type: "string" })],
    requestBody: { required: true, schema: ref("IssueUpdateDetails") } },
  { method: "POST", path: "/rest/api/3/issue", operationId: "createIssue", parameters: [p("updateHistory", { default: false, type: "boolean" })],
    requestBody: { required: true, schema: ref("IssueUpdateDetails"),
      overlay: { properties: { fields: { properties: { description: ref("doc_node") } } } } } },
  { method: "GET", path: "/rest/api/3/issue/{issueIdOrKey}/comment", operationId: "getComments", parameters: [key,
      p("startAt", { default: 0, format: "int64", type: "integer" }), p("maxResults", { default: 5000, format: "int32", type: "integer" }),
      p("orderBy", { enum: ["created", "-created", "+created"], type: "string" }), p("expand", { type: "string" })], requestBody: null },
  { method: "POST", path: "/rest/api/3/issue/{issueIdOrKey}/comment", operationId: "addComment", parameters: [key, p("expand", { type: "string" })],
    requestBody: { required: true, schema: ref("Comment"), overlay: { properties: { body: ref("doc_node") }, required: ["body"] } } },
  { method: "GET", path: "/rest/api/3/issue/{issueIdOrKey}/transitions", operationId: "getTransitions", parameters: [key,
      p("expand", { type: "string" }), p("transitionId", { type: "string" }), p("skipRemoteOnlyCondition", { default: false, type: "boolean" }),
      p("includeUnavailableTransitions", { default: false, type: "boolean" }), p("sortByOpsBarAndStatus", { default: false, type: "boolean" })],
    requestBody: null },
  { method: "POST", path: "/rest/api/3/issue/{issueIdOrKey}/transitions", operationId: "doTransition", parameters: [key],
    requestBody: { required: true, schema: ref("IssueUpdateDetails") } },
  { method: "GET", path: "/rest/api/3/search/jql", operationId: "searchAndReconsileIssuesUsingJql", parameters: [
      p("jql", { type: "string" }), p("nextPageToken", { type: "string" }), p("maxResults", { default: 50, format: "int32", type: "integer" }),
      p("fields", { items: { default: "id", type: "string" }, type: "array" }), p("expand", { type: "string" }),
      p("properties", { items: { type: "string" }, type: "array" }), p("fieldsByKeys", { default: false, type: "boolean" }),
      p("failFast", { default: false, type: "boolean" }), p("reconcileIssues", { items: { format: "int64", type: "integer" }, type: "array" })],
    requestBody: null },
];
const jira = {
  IssueUpdateDetails: { additionalProperties: true, type: "object", properties: {
    fields: { additionalProperties: {}, type: "object" },
    historyMetadata: { allOf: [ref("HistoryMetadata")] },
    properties: { items: ref("EntityProperty"), type: "array" },
    transition: { allOf: [ref("IssueTransition")] },
    update: { additionalProperties: { items: ref("FieldUpdateOperation"), type: "array" }, type: "object" } } },
  FieldUpdateOperation: { additionalProperties: false, type: "object", properties: { add: {}, copy: {}, edit: {}, remove: {}, set: {} } },
  Comment: { additionalProperties: true, type: "object", properties: {
    author: { allOf: [ref("UserDetails")], readOnly: true }, body: {},
    created: { format: "date-time", readOnly: true, type: "string" }, id: { readOnly: true, type: "string" },
    jsdAuthorCanSeeRequest: { readOnly: true, type: "boolean" }, jsdPublic: { readOnly: true, type: "boolean" },
    properties: { items: ref("EntityProperty"), type: "array" }, renderedBody: { readOnly: true, type: "string" },
    self: { readOnly: true, type: "string" }, updateAuthor: { allOf: [ref("UserDetails")], readOnly: true },
    updated: { format: "date-time", readOnly: true, type: "string" }, visibility: { allOf: [ref("Visibility")] } } },
  UserDetails: {}, Visibility: {}, EntityProperty: {}, HistoryMetadata: {}, IssueTransition: {},
};
for (const k of Object.keys(adf.definitions)) if (jira[k]) throw new Error("name clash: " + k);
process.stdout.write(JSON.stringify({
  source: { jira: "Jira Cloud platform REST API swagger-v3.v3.json, info.version 1001.0.0-SNAPSHOT (see SOURCES.md)",
            adf: "@atlaskit/adf-schema dist/json-schema/v1/full.json (draft-04 schema, evaluated as draft-07: it uses no keyword that differs)" },
  operations, definitions: { ...jira, ...adf.definitions },
}, null, 1) + "\n");
