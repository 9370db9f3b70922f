using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Declaring;

/// <summary>
/// The hosts whose links are accepted: GitHub:WebBaseUrl's, and Jira:BaseUrl's when set. A look-alike host
/// (github.com.evil.example) would be shown as a link to the attacker's page while the bot acts on the real PR.
/// </summary>
public sealed record LinkHosts(string GitHub, string? Jira)
{
    public static LinkHosts From(string gitHubWebBaseUrl, string? jiraBaseUrl) =>
        new(HostOf(gitHubWebBaseUrl) ?? "github.com", string.IsNullOrWhiteSpace(jiraBaseUrl) ? null : HostOf(jiraBaseUrl));

    static string? HostOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.Authority.ToLowerInvariant() : null;

    public bool IsGitHub(PullRequestRef pr) => pr.Host == GitHub;
}

/// <summary>What a user typed after /breakglass, split into summary and links.</summary>
public sealed partial record DeclarationText(string Summary, IReadOnlyList<PullRequestRef> PullRequests, IReadOnlyList<JiraIssueKey> JiraKeys, IReadOnlyList<string> Problems)
{
    public const int MaxSummaryLength = 300;

    /// <summary>
    /// PR URLs, Jira keys and Jira browse URLs become links; the rest is the summary. The text is decoded already
    /// (a link Slack wrapped is its address, or "label (address)"); a link still in angle brackets is accepted too.
    /// </summary>
    public static DeclarationText Parse(string text, LinkHosts hosts)
    {
        var prs = new List<PullRequestRef>();
        var keys = new List<JiraIssueKey>();
        var problems = new List<string>();
        var removed = new List<(int Start, int Length)>();
        foreach (var match in TokenPattern().EnumerateMatches(text))
        {
            var raw = text.Substring(match.Index, match.Length);
            var token = Unwrap(raw);
            // "OPS-7." at the end of a sentence: the key goes, the full stop stays.
            var bare = token.TrimEnd('.', ';', ':');
            var span = raw == token ? bare.Length : raw.Length;
            if (PullRequestRef.TryParse(token, out var pr))
            {
                if (!hosts.IsGitHub(pr)) problems.Add(NotOurHost(token, hosts.GitHub));
                else if (!prs.Contains(pr)) prs.Add(pr);
                removed.Add((match.Index, match.Length));
            }
            else if (BrowseUrlOnOtherHost(bare, hosts))
                problems.Add($"'{Shorten(bare)}' is not an issue on {hosts.Jira}: link issues by key (OPS-7) or by their address on {hosts.Jira}");
            else if (JiraIssueKey.TryParse(bare, out var key) || TryParseBrowseUrl(bare, out key))
            {
                if (!keys.Contains(key)) keys.Add(key);
                removed.Add((match.Index, span));
            }
            else if (LooksLikePullRequestLink(token))
                problems.Add($"'{Shorten(token)}' is not a pull request link (expected https://github.com/<owner>/<repo>/pull/<number>)");
        }
        return new DeclarationText(Remove(text, removed), prs, keys, problems);
    }

    /// <summary>
    /// The text without the removed spans, whitespace collapsed; separators left between links or at either end go too.
    /// </summary>
    static string Remove(string text, List<(int Start, int Length)> removed)
    {
        if (removed.Count == 0) return Whitespace().Replace(text, " ").Trim();
        var sb = new System.Text.StringBuilder(text.Length);
        var at = 0;
        foreach (var (start, length) in removed)
        {
            sb.Append(text.AsSpan(at, start - at)).Append(Gap);
            at = start + length;
        }
        sb.Append(text.AsSpan(at));
        var marked = sb.ToString();
        marked = AdjacentGaps().Replace(marked, Gap.ToString());
        marked = LeadingGap().Replace(marked, "");
        marked = TrailingGap().Replace(marked, "");
        marked = GapBeforePunctuation().Replace(marked, "");
        return Whitespace().Replace(marked.Replace(Gap, ' '), " ").Trim();
    }

    // Marks where a link was. A control character nobody types; if someone sends one anyway it is read as a gap (a space at most).
    const char Gap = '\u0001';

    [System.Text.RegularExpressions.GeneratedRegex(@"\u0001(?:[\s,]*\u0001)+")]
    private static partial System.Text.RegularExpressions.Regex AdjacentGaps();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[\s,]*\u0001[\s,.;:]*")]
    private static partial System.Text.RegularExpressions.Regex LeadingGap();

    [System.Text.RegularExpressions.GeneratedRegex(@"[\s,]*\u0001[\s,]*$")]
    private static partial System.Text.RegularExpressions.Regex TrailingGap();

    [System.Text.RegularExpressions.GeneratedRegex(@"\s*\u0001\s*(?=[,.;:!?)])")]
    private static partial System.Text.RegularExpressions.Regex GapBeforePunctuation();

    /// <summary>A Jira issue's address: https://&lt;host&gt;[/&lt;context&gt;]/browse/&lt;KEY&gt;, with or without a query.</summary>
    static bool TryParseBrowseUrl(string token, out JiraIssueKey key)
    {
        key = default;
        var m = BrowseUrlPattern().Match(token);
        return m.Success && JiraIssueKey.TryParse(m.Groups["key"].Value.ToUpperInvariant(), out key);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"[^\s,]+")]
    private static partial System.Text.RegularExpressions.Regex TokenPattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"\s+")]
    private static partial System.Text.RegularExpressions.Regex Whitespace();

    [System.Text.RegularExpressions.GeneratedRegex(@"^https?://[^/\s?#]+(/[^\s?#]*)?/browse/(?<key>[A-Za-z][A-Za-z0-9_]{1,9}-[1-9][0-9]{0,8})/?([?#]\S*)?$", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex BrowseUrlPattern();

    /// <summary>Links typed one per line (or separated by spaces/commas) in the modal.</summary>
    public static (List<PullRequestRef> Prs, List<string> Bad) ParsePullRequests(string? text, LinkHosts hosts)
    {
        var prs = new List<PullRequestRef>();
        var bad = new List<string>();
        foreach (var token in Tokens(text))
            if (PullRequestRef.TryParse(Unwrap(token), out var pr) && hosts.IsGitHub(pr)) { if (!prs.Contains(pr)) prs.Add(pr); }
            else bad.Add(Shorten(token));
        return (prs, bad);
    }

    public static (List<JiraIssueKey> Keys, List<string> Bad) ParseJiraKeys(string? text, LinkHosts hosts)
    {
        var keys = new List<JiraIssueKey>();
        var bad = new List<string>();
        foreach (var token in Tokens(text))
            if (JiraIssueKey.TryParse(token.ToUpperInvariant(), out var key) || (!BrowseUrlOnOtherHost(Unwrap(token), hosts) && TryParseBrowseUrl(Unwrap(token), out key)))
            { if (!keys.Contains(key)) keys.Add(key); }
            else bad.Add(Shorten(token));
        return (keys, bad);
    }

    static string NotOurHost(string token, string host) =>
        $"'{Shorten(token)}' is not a pull request on {host}: only links to https://{host}/<owner>/<repo>/pull/<number> are accepted";

    /// <summary>A Jira browse address on a host other than Jira:BaseUrl's (only when that is set).</summary>
    static bool BrowseUrlOnOtherHost(string token, LinkHosts hosts) =>
        hosts.Jira is { } jira && BrowseUrlPattern().IsMatch(token) && Uri.TryCreate(token, UriKind.Absolute, out var u)
        && !string.Equals(u.Authority, jira, StringComparison.OrdinalIgnoreCase);

    static string[] Tokens(string? text) =>
        (text ?? "").Split((char[])[' ', '\t', '\n', '\r', ','], StringSplitOptions.RemoveEmptyEntries);

    static string Unwrap(string token)
    {
        // A link Slack sent with a label of its own is stored as "label (https://…)" (SlackFormatting.Decode).
        if (token.Length > 2 && token[0] == '(' && token[^1] == ')') token = token[1..^1];
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
