using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>An emergency change's id, shown as BG-42.</summary>
public readonly record struct ChangeId(int Number)
{
    public override string ToString() => $"BG-{Number}";

    public static bool TryParse(string? text, out ChangeId id)
    {
        id = default;
        if (text is null) return false;
        var s = text.Trim();
        if (s.StartsWith("BG-", StringComparison.OrdinalIgnoreCase)) s = s[3..];
        else if (s.StartsWith('#')) s = s[1..];
        if (!int.TryParse(s, System.Globalization.NumberStyles.None, null, out var n) || n <= 0) return false;
        id = new ChangeId(n);
        return true;
    }
}

/// <summary>A GitHub pull request, parsed from its URL: https://host/owner/repo/pull/n.</summary>
public sealed partial record PullRequestRef(string Host, string Owner, string Repo, int Number)
{
    public string Url => $"https://{Host}/{Owner}/{Repo}/pull/{Number}";
    public override string ToString() => $"{Owner}/{Repo}#{Number}";

    public static bool TryParse(string? url, [NotNullWhen(true)] out PullRequestRef? pr)
    {
        pr = null;
        if (url is null) return false;
        var m = UrlPattern().Match(url);
        if (!m.Success || !int.TryParse(m.Groups["n"].ValueSpan, System.Globalization.NumberStyles.None, null, out var n) || n <= 0) return false;
        pr = new PullRequestRef(m.Groups["host"].Value.ToLowerInvariant(), m.Groups["owner"].Value, m.Groups["repo"].Value, n);
        return true;
    }

    // GitHub owner names: alphanumerics and single hyphens; repos also allow . and _.
    [GeneratedRegex(@"^https?://(?<host>[A-Za-z0-9.-]+(:\d+)?)/(?<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?<repo>[A-Za-z0-9._-]{1,100})/pull/(?<n>\d{1,9})(?:/[A-Za-z0-9/_-]*)?(?:[?#].*)?$")]
    private static partial Regex UrlPattern();
}

/// <summary>A Jira issue key such as OPS-123.</summary>
public readonly partial record struct JiraIssueKey(string Value)
{
    public override string ToString() => Value;

    public static bool TryParse(string? text, out JiraIssueKey key)
    {
        key = default;
        if (text is null || !KeyPattern().IsMatch(text)) return false;
        key = new JiraIssueKey(text);
        return true;
    }

    // Jira's default project key rule: an uppercase letter, then uppercase letters, digits or underscores.
    [GeneratedRegex(@"^[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8}$")]
    private static partial Regex KeyPattern();
}
