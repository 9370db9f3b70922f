using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;

namespace BreakGlassBot.Slack;

/// <summary>
/// Slack's ids (users, channels, teams, events, message timestamps, trigger and view ids) are short tokens. One that
/// is not cannot have come from Slack, and would not fit an index key (LiteDB: 1,023 bytes): the request is malformed.
/// </summary>
public static class SlackIds
{
    public const int MaxLength = 255;

    public static bool Plausible(string? id) => id is null || (id.Length <= MaxLength && !id.Any(char.IsControl));

    public static bool AllPlausible(params ReadOnlySpan<string?> ids)
    {
        foreach (var id in ids) if (!Plausible(id)) return false;
        return true;
    }
}

/// <summary>A slash command as Slack posts it (application/x-www-form-urlencoded).</summary>
public sealed record SlashCommand(
    string Command, string Text, string UserId, string? UserName, string? ChannelId, string? ChannelName,
    string? TeamId, string? ResponseUrl, string? TriggerId, string? ApiAppId)
{
    public static bool TryParse(string form, [NotNullWhen(true)] out SlashCommand? command)
    {
        command = null;
        Dictionary<string, Microsoft.Extensions.Primitives.StringValues> fields;
        try { fields = new FormReader(form).ReadForm(); }
        catch (InvalidDataException) { return false; }
        string? F(string key) => fields.TryGetValue(key, out var v) && v.Count > 0 ? v[0] : null;
        var name = F("command");
        var user = F("user_id");
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(user)) return false;
        if (!SlackIds.AllPlausible(user, F("channel_id"), F("team_id"), F("trigger_id"), F("api_app_id"))) return false;
        // Slack escapes & < > in what people type (and, with should_escape, wraps mentions and links): stored as typed.
        command = new SlashCommand(name, SlackFormatting.Decode(F("text")), user, F("user_name"), F("channel_id"), F("channel_name"),
            F("team_id"), F("response_url"), F("trigger_id"), F("api_app_id"));
        return true;
    }
}

public sealed record SlackUserRef(string Id, string? Username = null, string? Name = null, string? TeamId = null);
public sealed record SlackChannelRef(string Id, string? Name = null);
public sealed record SlackText(string Type, string Text);
public sealed record SelectedOption(string? Value);

public sealed record ActionPayload(string ActionId, string? BlockId, string? Value, string? Type, string? ActionTs);

public sealed record StateValue(string? Type, string? Value, SelectedOption? SelectedOption, List<SelectedOption>? SelectedOptions);

public sealed record ViewState(Dictionary<string, Dictionary<string, StateValue>> Values);

public sealed record ViewPayload(string Id, string? Type, string? CallbackId, string? PrivateMetadata, string? Hash, ViewState? State)
{
    /// <summary>The value typed or picked in input block <paramref name="blockId"/>, whatever its element's action id.</summary>
    public string? Value(string blockId)
    {
        if (State?.Values is null || !State.Values.TryGetValue(blockId, out var elements)) return null;
        foreach (var element in elements.Values)
            return element.Value ?? element.SelectedOption?.Value;
        return null;
    }
}

public sealed record ContainerPayload(string? Type, string? MessageTs, string? ChannelId, string? ViewId, bool? IsEphemeral);
public sealed record MessagePayload(string? Ts, string? ThreadTs, string? Text);

/// <summary>Any interaction (block_actions, view_submission, view_closed) from the form field "payload".</summary>
public sealed record InteractionPayload(
    string Type, SlackUserRef User, string? TriggerId, string? ResponseUrl, string? ApiAppId,
    ViewPayload? View, List<ActionPayload>? Actions, ContainerPayload? Container, SlackChannelRef? Channel, MessagePayload? Message)
{
    public static bool TryParse(string form, [NotNullWhen(true)] out InteractionPayload? payload)
    {
        payload = null;
        string? json;
        try { json = new FormReader(form).ReadForm().TryGetValue("payload", out var v) ? v.ToString() : null; }
        catch (InvalidDataException) { return false; }
        if (string.IsNullOrEmpty(json)) return false;
        try { payload = JsonSerializer.Deserialize(json, SlackJson.Default.InteractionPayload); }
        catch (JsonException) { return false; }
        return payload is { Type.Length: > 0, User.Id.Length: > 0 }
            && SlackIds.AllPlausible(payload.User.Id, payload.View?.Id, payload.TriggerId, payload.Container?.ChannelId, payload.Channel?.Id, payload.ApiAppId);
    }
}

/// <summary>The Events API envelope (url_verification and event_callback).</summary>
public sealed record EventEnvelope(string Type, string? Challenge, string? TeamId, string? ApiAppId, string? EventId, long? EventTime, MessageEvent? Event)
{
    public static bool TryParse(string json, [NotNullWhen(true)] out EventEnvelope? envelope)
    {
        envelope = null;
        try { envelope = JsonSerializer.Deserialize(json, SlackJson.Default.EventEnvelope); }
        catch (JsonException) { return false; }
        // A message's text arrives formatted (&amp;, <@U…>, <https://…|…>): decoded once, here, to what the person typed.
        if (envelope?.Event is { Text: { } text } e) envelope = envelope with { Event = e with { Text = SlackFormatting.Decode(text) } };
        return envelope is { Type.Length: > 0 }
            && SlackIds.AllPlausible(envelope.EventId, envelope.TeamId, envelope.ApiAppId, envelope.Event?.User, envelope.Event?.Channel, envelope.Event?.Ts, envelope.Event?.ThreadTs);
    }
}

/// <summary>The inner event: a message, or app_home_opened (<see cref="Tab"/> "home" or "messages").</summary>
public sealed record MessageEvent(string Type, string? Subtype, string? User, string? BotId, string? Text, string? Ts, string? ThreadTs, string? Channel, string? ChannelType,
    string? Tab = null);

/// <summary>
/// Slack's message formatting at the edge. Slack sends text formatted: <c>&amp;amp; &amp;lt; &amp;gt;</c> for what was typed, and
/// references in angle brackets. <see cref="Decode"/> turns that into the text as the person saw it, which is what the bot
/// stores: entities decoded, links as their address (or "label (address)"), channels as #name, @here/@channel as words. A
/// user mention stays <c>&lt;@U…&gt;</c>, the one reference kept, since an id is the only faithful form of a mention;
/// <see cref="Plain"/> makes it "@U…" for places outside Slack. Text from modals arrives raw and is stored as it is.
/// </summary>
public static partial class SlackFormatting
{
    public static string Decode(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        if (text.AsSpan().IndexOfAny('<', '&') < 0) return text;
        return Formatted().Replace(text, m => m.Groups["entity"].Success ? Entities(m.Value) : Reference(m.Groups["ref"].Value));
    }

    /// <summary>Stored text for a place outside Slack (GitHub, Jira, exports): a mention reads "@U…".</summary>
    public static string Plain(string? text) =>
        string.IsNullOrEmpty(text) ? text ?? "" : text.Contains("<@", StringComparison.Ordinal) ? StoredMention().Replace(text, "@$1") : text;

    /// <summary>A user id as Slack writes it in a mention (U… or W…, upper-case letters and digits).</summary>
    public static bool IsUserId(string id) => UserId().IsMatch(id);

    static string Entities(string s) => s.Replace("&lt;", "<", StringComparison.Ordinal).Replace("&gt;", ">", StringComparison.Ordinal).Replace("&amp;", "&", StringComparison.Ordinal);

    static string Reference(string inner)
    {
        var bar = inner.IndexOf('|');
        var target = bar < 0 ? inner : inner[..bar];
        var label = bar < 0 ? null : Entities(inner[(bar + 1)..]);
        var hasLabel = !string.IsNullOrEmpty(label);
        if (target.StartsWith('@'))
            return IsUserId(target[1..]) ? $"<@{target[1..]}>" : "@" + (hasLabel ? label!.TrimStart('@') : target[1..]);
        if (target.StartsWith('#')) return "#" + (hasLabel ? label : target[1..]);
        if (target.StartsWith('!'))
        {
            var name = target[1..];
            var caret = name.IndexOf('^');
            var kind = caret < 0 ? name : name[..caret];
            return kind switch
            {
                "here" or "channel" or "everyone" or "group" => "@" + kind,
                "subteam" => "@" + (hasLabel ? label!.TrimStart('@') : name[(caret + 1)..]),
                _ => hasLabel ? label! : "",
            };
        }
        var url = Entities(target);
        if (url.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase))
            return hasLabel ? label! : url["mailto:".Length..];
        // Slack labels a typed address with what was typed ("example.com", or the address itself).
        if (!hasLabel || label == url || url.EndsWith("://" + label, StringComparison.OrdinalIgnoreCase) || url.EndsWith("://" + label + "/", StringComparison.OrdinalIgnoreCase))
            return url;
        return $"{label} ({url})";
    }

    [GeneratedRegex(@"<(?<ref>[^<>]*)>|(?<entity>&(?:amp|lt|gt);)")]
    private static partial Regex Formatted();

    [GeneratedRegex(@"<@([UW][A-Z0-9]+)>")]
    private static partial Regex StoredMention();

    [GeneratedRegex(@"^[UW][A-Z0-9]+$")]
    private static partial Regex UserId();
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowReadingFromString, MaxDepth = 64)]
[JsonSerializable(typeof(InteractionPayload))]
[JsonSerializable(typeof(EventEnvelope))]
internal sealed partial class SlackJson : JsonSerializerContext;
