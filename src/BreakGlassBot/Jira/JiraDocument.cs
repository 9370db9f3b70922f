using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BreakGlassBot.Jira;

/// <summary>A piece of a paragraph: text, optionally a link.</summary>
public sealed record JiraInline(string Text, string? Href = null);

/// <summary>
/// A comment or description as paragraphs of text and links, rendered as Atlassian Document Format for Cloud
/// (REST v3 rejects plain strings) or as plain text for Data Center (REST v2 takes a string).
/// </summary>
public sealed record JiraDocument(IReadOnlyList<IReadOnlyList<JiraInline>> Paragraphs)
{
    public static JiraDocument Of(params IReadOnlyList<JiraInline>[] paragraphs) => new(paragraphs);
    public static IReadOnlyList<JiraInline> Line(string text) => [new JiraInline(text)];
    public static IReadOnlyList<JiraInline> Line(string label, string text, string? href = null) =>
        [new JiraInline(label + ": "), new JiraInline(text, href)];

    public JsonObject ToAdf() => new()
    {
        ["type"] = "doc",
        ["version"] = 1,
        ["content"] = new JsonArray([.. Paragraphs.Select(p => (JsonNode)new JsonObject
        {
            ["type"] = "paragraph",
            // ADF forbids empty text nodes.
            ["content"] = new JsonArray([.. p.Where(i => i.Text.Length > 0).Select(i => (JsonNode)TextNode(i))]),
        })]),
    };

    static JsonObject TextNode(JiraInline inline)
    {
        var node = new JsonObject { ["type"] = "text", ["text"] = inline.Text };
        if (inline.Href is not null)
            node["marks"] = new JsonArray(new JsonObject { ["type"] = "link", ["attrs"] = new JsonObject { ["href"] = inline.Href } });
        return node;
    }

    /// <summary>One line per paragraph; a link shows its address (Data Center turns bare URLs into links).</summary>
    public string ToPlainText() => string.Join("\n", Paragraphs.Select(p => string.Concat(p.Select(i =>
        i.Href is null || i.Href == i.Text ? (i.Href ?? i.Text) : $"{i.Text} ({i.Href})"))));

    /// <summary>The text of a comment body as Jira returns it: a string (v2) or an ADF document (v3).</summary>
    public static string TextOf(JsonElement body)
    {
        if (body.ValueKind == JsonValueKind.String) return body.GetString() ?? "";
        var sb = new StringBuilder();
        Collect(body, sb);
        return sb.ToString();
    }

    static void Collect(JsonElement node, StringBuilder sb)
    {
        if (node.ValueKind != JsonValueKind.Object) return;
        if (node.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) sb.Append(text.GetString());
        if (node.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
            foreach (var child in content.EnumerateArray()) Collect(child, sb);
        if (node.TryGetProperty("type", out var type) && type.GetString() is "paragraph" or "heading" or "hardBreak") sb.Append('\n');
    }
}
