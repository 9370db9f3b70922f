using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Slack;

/// <summary>
/// Small Block Kit builders. Anything a user typed goes through <see cref="UserText"/> (or <see cref="Escape"/>), and every
/// mrkdwn text object is <c>verbatim</c>: Slack then parses only the references the bot wrote (<c>&lt;@U…&gt;</c>, links,
/// dates), never a bare @here, @channel, #name or @name in what someone typed.
/// </summary>
public static partial class Blocks
{
    // Slack's limits: 3000 chars in a section's text, 150 in a plain_text label, 75 in a button.
    public const int SectionTextLimit = 3000;

    /// <summary>Escapes mrkdwn control characters so user text cannot ping @channel, link or break a block.</summary>
    public static string Escape(string text)
    {
        if (text.AsSpan().IndexOfAny('&', '<', '>') < 0) return text;
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
            sb.Append(c switch { '&' => "&amp;", '<' => "&lt;", '>' => "&gt;", _ => c.ToString() });
        return sb.ToString();
    }

    /// <summary>Cut on whole characters, and never inside a link or mention (<c>&lt;…&gt;</c>) or an entity (<c>&amp;amp;</c>): Slack would show the debris.</summary>
    public static string Truncate(string text, int max)
    {
        if (text.Length <= max) return text;
        var cut = TextCut.Cut(text, max);
        var kept = cut[..^1];
        var open = kept.LastIndexOf('<');
        if (open > kept.LastIndexOf('>')) kept = kept[..open];
        var amp = kept.LastIndexOf('&');
        if (amp >= 0 && amp > kept.LastIndexOf(';') && kept.Length - amp <= 8) kept = kept[..amp];
        return kept + "…";
    }

    /// <summary>
    /// Stored user text (see <see cref="SlackFormatting"/>) as mrkdwn: escaped, so nothing in it is a reference; a mention in
    /// it reads "@U…" and notifies nobody.
    /// </summary>
    public static string UserText(string? text) => Escape(SlackFormatting.Plain(text));

    /// <summary>
    /// A comment someone wrote in Slack (a thread reply) as mrkdwn: escaped like <see cref="UserText"/>, but the people they
    /// mentioned are shown as mentions again. Nothing else in it becomes a reference.
    /// </summary>
    public static string UserTextWithMentions(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var sb = new StringBuilder(text.Length + 16);
        var at = 0;
        foreach (Match m in StoredMention().Matches(text))
        {
            sb.Append(Escape(text[at..m.Index])).Append(m.Value);
            at = m.Index + m.Length;
        }
        return sb.Append(Escape(text[at..])).ToString();
    }

    [GeneratedRegex(@"<@[UW][A-Z0-9]+>")]
    private static partial Regex StoredMention();

    public static string Mention(string userId) => $"<@{userId}>";
    public static string Link(string url, string label) => $"<{url}|{Escape(label)}>";
    public static string Date(DateTimeOffset at) =>
        $"<!date^{at.ToUnixTimeSeconds()}^{{date_short_pretty}} {{time}}|{at.UtcDateTime:yyyy-MM-dd HH:mm} UTC>";

    public static JsonObject PlainText(string text, int max = 150) => new() { ["type"] = "plain_text", ["text"] = Truncate(text, max), ["emoji"] = true };
    // verbatim: Slack's automatic parsing would turn a typed "@here" into a ping and "#name" into a channel link.
    public static JsonObject Mrkdwn(string text) => new() { ["type"] = "mrkdwn", ["text"] = Truncate(text, SectionTextLimit), ["verbatim"] = true };

    public static JsonObject Header(string text) => new() { ["type"] = "header", ["text"] = PlainText(text) };

    public static JsonObject Section(string mrkdwn, string? blockId = null)
    {
        var block = new JsonObject { ["type"] = "section", ["text"] = Mrkdwn(mrkdwn) };
        if (blockId is not null) block["block_id"] = blockId;
        return block;
    }

    public static JsonObject Fields(params string[] fields) =>
        new() { ["type"] = "section", ["fields"] = new JsonArray([.. fields.Take(10).Select(f => (JsonNode)Mrkdwn(Truncate(f, 2000)))]) };

    public static JsonObject Context(string mrkdwn) =>
        new() { ["type"] = "context", ["elements"] = new JsonArray(Mrkdwn(Truncate(mrkdwn, 2000))) };

    public static JsonObject Divider() => new() { ["type"] = "divider" };

    public static JsonObject Actions(string blockId, params JsonObject[] elements) =>
        new() { ["type"] = "actions", ["block_id"] = blockId, ["elements"] = new JsonArray([.. elements]) };

    public static JsonObject Button(string text, string actionId, string value, string? style = null)
    {
        var button = new JsonObject { ["type"] = "button", ["text"] = PlainText(text, 75), ["action_id"] = actionId, ["value"] = value };
        if (style is not null) button["style"] = style;
        return button;
    }

    public static JsonObject Input(string blockId, string label, JsonObject element, bool optional = false, string? hint = null)
    {
        var block = new JsonObject { ["type"] = "input", ["block_id"] = blockId, ["label"] = PlainText(label), ["element"] = element, ["optional"] = optional };
        if (hint is not null) block["hint"] = PlainText(hint);
        return block;
    }

    public static JsonObject TextInput(string actionId, bool multiline = false, int? maxLength = null, string? placeholder = null)
    {
        var element = new JsonObject { ["type"] = "plain_text_input", ["action_id"] = actionId, ["multiline"] = multiline };
        if (maxLength is not null) element["max_length"] = maxLength;
        if (placeholder is not null) element["placeholder"] = PlainText(placeholder);
        return element;
    }

    public static JsonObject StaticSelect(string actionId, params (string Text, string Value)[] options) => new()
    {
        ["type"] = "static_select",
        ["action_id"] = actionId,
        ["options"] = new JsonArray([.. options.Select(o => (JsonNode)new JsonObject { ["text"] = PlainText(o.Text, 75), ["value"] = o.Value })]),
    };

    public static JsonObject Modal(string callbackId, string title, string submit, IEnumerable<JsonObject> blocks, string? privateMetadata = null)
    {
        var view = new JsonObject
        {
            ["type"] = "modal",
            ["callback_id"] = callbackId,
            ["title"] = PlainText(title, 24),
            ["submit"] = PlainText(submit, 24),
            ["close"] = PlainText("Cancel", 24),
            ["blocks"] = new JsonArray([.. blocks]),
        };
        if (privateMetadata is not null) view["private_metadata"] = privateMetadata;
        return view;
    }

    public static JsonArray List(params JsonObject?[] blocks) => new([.. blocks.Where(b => b is not null)]);
}
