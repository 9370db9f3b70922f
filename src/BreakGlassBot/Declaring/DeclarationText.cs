using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Declaring;

/// <summary>What a user typed after /breakglass, split into summary and links.</summary>
public sealed record DeclarationText(string Summary, IReadOnlyList<PullRequestRef> PullRequests, IReadOnlyList<JiraIssueKey> JiraKeys, IReadOnlyList<string> Problems)
{
    public const int MaxSummaryLength = 300;

    /// <summary>
    /// Tokens that are PR URLs or Jira keys become links; the rest is the summary. Slack may wrap URLs
    /// as &lt;https://…&gt; or &lt;https://…|label&gt; (when the command escapes links): both are accepted.
    /// </summary>
    public static DeclarationText Parse(string text)
    {
        var prs = new List<PullRequestRef>();
        var keys = new List<JiraIssueKey>();
        var problems = new List<string>();
        var words = new List<string>();
        foreach (var raw in text.Split((char[])[' ', '\t', '\n', '\r', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            var token = Unwrap(raw);
            if (PullRequestRef.TryParse(token, out var pr)) { if (!prs.Contains(pr)) prs.Add(pr); }
            else if (JiraIssueKey.TryParse(token.TrimEnd('.', ';', ':'), out var key)) { if (!keys.Contains(key)) keys.Add(key); }
            else if (LooksLikePullRequestLink(token)) problems.Add($"'{Shorten(token)}' is not a pull request link (expected https://github.com/<owner>/<repo>/pull/<number>)");
            else words.Add(raw);
        }
        return new DeclarationText(string.Join(' ', words), prs, keys, problems);
    }

    /// <summary>Links typed one per line (or separated by spaces/commas) in the modal.</summary>
    public static (List<PullRequestRef> Prs, List<string> Bad) ParsePullRequests(string? text)
    {
        var prs = new List<PullRequestRef>();
        var bad = new List<string>();
        foreach (var token in Tokens(text))
            if (PullRequestRef.TryParse(Unwrap(token), out var pr)) { if (!prs.Contains(pr)) prs.Add(pr); }
            else bad.Add(Shorten(token));
        return (prs, bad);
    }

    public static (List<JiraIssueKey> Keys, List<string> Bad) ParseJiraKeys(string? text)
    {
        var keys = new List<JiraIssueKey>();
        var bad = new List<string>();
        foreach (var token in Tokens(text))
            if (JiraIssueKey.TryParse(token.ToUpperInvariant(), out var key)) { if (!keys.Contains(key)) keys.Add(key); }
            else bad.Add(Shorten(token));
        return (keys, bad);
    }

    static string[] Tokens(string? text) =>
        (text ?? "").Split((char[])[' ', '\t', '\n', '\r', ','], StringSplitOptions.RemoveEmptyEntries);

    static string Unwrap(string token)
    {
        if (token.Length > 2 && token[0] == '<' && token[^1] == '>')
        {
            token = token[1..^1];
            var bar = token.IndexOf('|');
            if (bar >= 0) token = token[..bar];
        }
        return token;
    }

    static bool LooksLikePullRequestLink(string token) =>
        token.StartsWith("http", StringComparison.OrdinalIgnoreCase)
        && (token.Contains("/pull", StringComparison.OrdinalIgnoreCase) || token.Contains("github", StringComparison.OrdinalIgnoreCase));

    static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
