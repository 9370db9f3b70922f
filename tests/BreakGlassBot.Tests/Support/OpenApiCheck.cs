using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// Checks a request against an excerpt of the service's own OpenAPI description (Fixtures/openapi, with SOURCES.md): the
/// operation (method and path template) must be in it, the path and query parameters must fit their schemas and be known,
/// and the JSON body must fit the operation's request body schema. The fakes run every request through it.
/// </summary>
public sealed class OpenApiCheck
{
    sealed record Operation(string Method, string Template, Regex Pattern, int Literals, IReadOnlyList<JsonObject> Parameters, bool BodyRequired, JsonSchema? Body);

    readonly List<Operation> operations = [];

    public static OpenApiCheck GitHub => github.Value;
    public static OpenApiCheck Jira => jira.Value;
    static readonly Lazy<OpenApiCheck> github = new(() => new OpenApiCheck("openapi/github-excerpt.json"));
    static readonly Lazy<OpenApiCheck> jira = new(() => new OpenApiCheck("openapi/jira-excerpt.json"));

    public OpenApiCheck(string fixture)
    {
        var excerpt = Fixtures.Object(fixture);
        var definitions = excerpt["definitions"] as JsonObject;
        foreach (var node in excerpt["operations"]!.AsArray())
        {
            var op = node!.AsObject();
            var template = op["path"]!.GetValue<string>();
            var segments = template.Split('/');
            var pattern = string.Join('/', segments.Select(s => s.StartsWith('{') ? $"(?<{s[1..^1]}>[^/]+)" : Regex.Escape(s)));
            JsonSchema? body = null;
            var bodyRequired = false;
            if (op["requestBody"] is JsonObject requestBody)
            {
                bodyRequired = requestBody["required"]?.GetValue<bool>() == true;
                JsonArray all = [requestBody["schema"]!.DeepClone()];
                if (requestBody["overlay"] is { } overlay) all.Add(overlay.DeepClone());
                var root = new JsonObject { ["$schema"] = "http://json-schema.org/draft-07/schema#", ["allOf"] = all };
                if (definitions is not null) root["definitions"] = definitions.DeepClone();
                body = JsonSchema.FromText(root.ToJsonString(), new BuildOptions { Dialect = Dialect.Draft07 });
            }
            operations.Add(new Operation(op["method"]!.GetValue<string>(), template, new Regex("^" + pattern + "$"),
                segments.Count(s => !s.StartsWith('{')), [.. op["parameters"]!.AsArray().Select(p => p!.AsObject())], bodyRequired, body));
        }
    }

    /// <summary>What is wrong with <paramref name="request"/> (at <paramref name="path"/>, without a server prefix) by the description.</summary>
    public async Task<IReadOnlyList<string>> CheckAsync(HttpRequest request, string path)
    {
        request.EnableBuffering();
        request.Body.Position = 0;
        var body = await new StreamReader(request.Body, leaveOpen: true).ReadToEndAsync();
        request.Body.Position = 0;
        return Check(request.Method, path, request.Query, body);
    }

    /// <summary>What is wrong with the request by the description; empty when nothing is.</summary>
    public IReadOnlyList<string> Check(string method, string path, IQueryCollection query, string body)
    {
        // The most literal template wins: /issue/{key} must not take /issue/{key}/comment, nor a {param} a fixed segment.
        var matches = operations.Select(o => (Op: o, Match: o.Pattern.Match(path))).Where(x => x.Match.Success)
            .OrderByDescending(x => x.Op.Literals).ToList();
        if (matches.Count == 0) return [$"{method} {path}: no operation of the description has this path"];
        if (matches.FirstOrDefault(x => x.Op.Method.Equals(method, StringComparison.OrdinalIgnoreCase)) is not { Op: not null } found)
            return [$"{method} {path}: the description has no {method} for {matches[0].Op.Template}"];
        var (op, match) = found;
        var problems = new List<string>();
        var at = $"{op.Method} {op.Template}";
        foreach (var p in op.Parameters.Where(p => p["in"]!.GetValue<string>() == "path"))
        {
            var name = p["name"]!.GetValue<string>();
            CheckValue(at, "path parameter " + name, Uri.UnescapeDataString(match.Groups[name].Value), p["schema"]!.AsObject(), problems);
        }
        var known = op.Parameters.Where(p => p["in"]!.GetValue<string>() == "query").ToDictionary(p => p["name"]!.GetValue<string>());
        foreach (var (name, values) in query)
        {
            if (!known.TryGetValue(name, out var p)) { problems.Add($"{at}: unknown query parameter '{name}'"); continue; }
            foreach (var value in values) CheckValue(at, "query parameter " + name, value ?? "", p["schema"]!.AsObject(), problems);
        }
        foreach (var (name, p) in known)
            if (p["required"]?.GetValue<bool>() == true && !query.ContainsKey(name)) problems.Add($"{at}: required query parameter '{name}' is missing");

        if (string.IsNullOrWhiteSpace(body))
        {
            if (op.BodyRequired) problems.Add($"{at}: the request body is required");
            return problems;
        }
        if (op.Body is null) { problems.Add($"{at}: the operation takes no request body, but one was sent"); return problems; }
        JsonElement json;
        try { json = JsonDocument.Parse(body).RootElement.Clone(); }
        catch (JsonException e) { problems.Add($"{at}: the body is not JSON ({e.Message})"); return problems; }
        var result = op.Body.Evaluate(json, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (!result.IsValid)
        {
            var errors = (result.Details ?? []).Where(d => d.Errors is not null)
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).Distinct().Take(8).ToList();
            problems.Add($"{at}: the body does not fit the request schema: " + (errors.Count == 0 ? "invalid" : string.Join("; ", errors)));
        }
        return problems;
    }

    /// <summary>Parameters arrive as text: their schema's type says how the service reads them (arrays: comma-separated).</summary>
    static void CheckValue(string at, string what, string value, JsonObject schema, List<string> problems)
    {
        var type = schema["type"]?.GetValue<string>();
        if (type == "array")
        {
            var items = schema["items"] as JsonObject ?? [];
            foreach (var item in value.Split(',')) CheckValue(at, what, item, items, problems);
            return;
        }
        var ok = type switch
        {
            "integer" => long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
            "number" => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
            "boolean" => value is "true" or "false",
            _ => true,
        };
        if (!ok) problems.Add($"{at}: {what} '{value}' is not {type}");
        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => a?.ToString() == value))
            problems.Add($"{at}: {what} '{value}' is not one of {allowed.ToJsonString()}");
    }
}
