using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Declaring;

public static class LinkAuditTypes
{
    /// <summary>PRs and/or Jira issues linked to a change after it was declared. Data (space-separated refs, each key only when not empty): pull_requests, jira_issues, already_linked.</summary>
    public const string LinksAdded = "links_added";
}

/// <summary>
/// /breakglass link BG-n &lt;PR URL...&gt; [JIRA-KEY...]: links a PR or Jira issue after declaring (during an outage
/// the PR often does not exist yet).
/// </summary>
internal sealed class LinkChangeCommand(ChangeStore store, Permissions permissions, ReadAccess access, OutboxQueue outbox, IReevaluation tracker,
    IEnumerable<IDeclarationStepSource> stepSources, IEnumerable<IAccountLink> accounts, LinkHosts hosts, TimeProvider time,
    IEnumerable<ILinkCheck> linkChecks)
    : ISubCommand
{
    const string ChangeUsage = "`/breakglass link BG-n <PR URL...> [JIRA-KEY...]` link a pull request or Jira issue to a change after declaring it";
    readonly IAccountLink[] accounts = [.. accounts];

    public string Name => "link";
    public string Usage => string.Join('\n', [ChangeUsage, .. accounts.Select(a => a.Usage)]);

    /// <summary>"link BG-n ..." links to a change; "link &lt;system&gt; &lt;account&gt;" goes to that system's <see cref="IAccountLink"/>.</summary>
    public Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        if (IsFor(arguments)) return LinkReadableAsync(command, arguments, ct);
        var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // "link github" alone: the system proves the account itself (GitHub's device flow).
        if (words is [var system, ..] && words.Length <= 2 && accounts.FirstOrDefault(a => a.System.Equals(system, StringComparison.OrdinalIgnoreCase)) is { } link)
            return link.LinkAsync(command, words.Length == 2 ? words[1] : "", ct);
        return Task.FromResult(new CommandReply(":warning: Type `/breakglass link github` to link your GitHub account."
            + " To link a pull request or Jira issue to a change, type `/breakglass link BG-42 <PR URL> [JIRA-KEY]`."));
    }
    const string Example = "Type `/breakglass link BG-42 https://github.com/acme/pay/pull/42 OPS-7` (PR URLs, Jira keys or Jira issue URLs).";

    /// <summary>Whether the arguments of "link" name a change ("BG-42 ..."), rather than an account ("github octocat").</summary>
    public static bool IsFor(string arguments)
    {
        var first = arguments.Split((char[])[' ', '\t', '\n'], 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return first is not null && first.StartsWith("BG-", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Slack:Readers: a refusal or a missing change tells someone who may not read it nothing (the attempt is still decided as before).</summary>
    async Task<CommandReply> LinkReadableAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        var reply = await LinkToChangeAsync(command, arguments);
        var first = arguments.Split((char[])[' ', '\t', '\n'], 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        if (!access.Restricted || !ChangeId.TryParse(first, out var id) || reply.Text.StartsWith(":link:", StringComparison.Ordinal)) return reply;
        var readable = store.Get(id.Number) is { } change ? await access.MayReadAsync(command.UserId, change, ct) : await access.MayReadAllAsync(command.UserId, ct);
        return readable ? reply : new CommandReply(ReadAccess.Refusal(id));
    }

    async Task<CommandReply> LinkToChangeAsync(SlashCommand command, string arguments)
    {
        var parts = arguments.Trim().Split((char[])[' ', '\t', '\n'], 2, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || !ChangeId.TryParse(parts[0], out var id))
            return new CommandReply($":warning: '{Blocks.Escape(parts.FirstOrDefault() ?? "")}' is not a change id. " + Example);
        var parsed = DeclarationText.Parse(parts.Length > 1 ? parts[1] : "", hosts);
        if (parsed.Problems.Count > 0)
            return new CommandReply(":warning: " + string.Join("\n", parsed.Problems.Select(Blocks.Escape)) + "\nNothing was linked. " + Example);
        if (parsed.PullRequests.Count == 0 && parsed.JiraKeys.Count == 0)
            return new CommandReply($":warning: There is no pull request link or Jira key to link to {id} in that. " + Example);

        var now = time.GetUtcNow();
        var (updated, outcome) = await store.UpdateAsync(id.Number, c => Link(c, command.UserId, parsed, now));
        if (updated is null) return new CommandReply($":warning: There is no {id}. `/breakglass list mine` shows your changes.");
        if (outcome!.Refusal is { } refusal) return new CommandReply(refusal);
        var (added, already) = (outcome.Added, outcome.Already);
        if (added.Count == 0)
            return new CommandReply($":information_source: {LinksAddedNote.Sentence(already)} {(already.Count == 1 ? "is" : "are")} already linked to {id}; nothing was added.");

        outbox.Nudge();
        // The PR's review or the issue's status may already complete the review, or change what is missing: look now.
        tracker.Reevaluate(id.Number);
        var text = $":link: Linked {LinksAddedNote.Sentence(added)} to {id}"
            + (outcome.StepsAdded ? "; the bot labels and comments on them now." : ". (The bot is not connected to GitHub or Jira here, so it only records them.)")
            + (already.Count > 0 ? $" Already linked, so left as they were: {LinksAddedNote.Sentence(already)}." : "");
        return new CommandReply(text);
    }

    LinkRefusal? Refusal(EmergencyChange c, string user, IReadOnlyList<PullRequestRef> prs, DateTimeOffset now) =>
        linkChecks.Select(check => check.Check(c, user, prs, now)).FirstOrDefault(r => r is not null);

    /// <summary>What linking decided: a refusal, or what was added and what was already linked.</summary>
    sealed record LinkOutcome(string? Refusal, IReadOnlyList<string> Added, IReadOnlyList<string> Already, bool StepsAdded)
    {
        public static LinkOutcome Refused(string why) => new(why, [], [], false);
    }

    /// <summary>The links' write: may run again on the change as stored (group commit), so it decides from <paramref name="c"/> alone.</summary>
    Decision<LinkOutcome> Link(EmergencyChange c, string user, DeclarationText parsed, DateTimeOffset now)
    {
        if (!permissions.MayCancel(user, c))
        {
            return Decision<LinkOutcome>.Only(LinkOutcome.Refused($":no_entry: Only {Blocks.Mention(c.DeclaredBy)} (who declared it) or an admin may link things to {c.ChangeId}. "
                + $"Ask them, or mention the link in the change's thread."));
        }
        if (c.Status != ChangeStatus.Open)
        {
            return Decision<LinkOutcome>.Only(LinkOutcome.Refused(c.Status switch
            {
                ChangeStatus.Cancelled => $":no_entry_sign: {c.ChangeId} was cancelled" + (c.Cancellation is { } x ? $" by {Blocks.Mention(x.By)}: {Blocks.UserText(x.Reason)}" : "")
                    + ". Nothing can be linked to it; if the change did happen, declare it again with the links.",
                _ => $"{c.ChangeId} is already {c.Status.ToString().ToLowerInvariant()}: its review is complete and its record is closed to new links.",
            }));
        }
        // A PR is the same PR whatever the case of its owner and repository (as the outbox steps find it); a Jira key is
        // already linked when it is the key Jira answers with or the one first typed.
        var prs = parsed.PullRequests.Where(p => !c.PullRequests.Any(l => string.Equals(l.Ref.ToString(), p.ToString(), StringComparison.OrdinalIgnoreCase))).ToList();
        var keys = parsed.JiraKeys.Select(k => k.Value).Where(k => !c.JiraIssues.Any(i => i.Key == k || i.DeclaredKey == k)).ToList();
        List<string> already = [.. parsed.PullRequests.Except(prs).Select(p => p.ToString()), .. parsed.JiraKeys.Select(k => k.Value).Except(keys)];
        if (prs.Count == 0 && keys.Count == 0) return Decision<LinkOutcome>.Only(new LinkOutcome(null, [], already, false));
        if (Refusal(c, user, prs, now) is { } refused) return new([refused.Event], LinkOutcome.Refused(refused.Reply));

        c.PullRequests.AddRange(prs.Select(p => new LinkedPullRequest { Host = p.Host, Owner = p.Owner, Repo = p.Repo, Number = p.Number }));
        c.JiraIssues.AddRange(keys.Select(k => new LinkedJiraIssue { Key = k }));
        List<string> added = [.. prs.Select(p => p.ToString()), .. keys];
        var stepsAdded = false;
        foreach (var source in stepSources)
        {
            var steps = source.StepsForAddedLinks(c, prs, keys, now).ToList();
            c.Steps.AddRange(steps);
            stepsAdded |= steps.Count > 0;
        }
        OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, LinksAddedNote.Key(user, added));
        // Nobody approved what was just linked: approvals given before stop counting (kept, voided), and say so.
        var voidedEvents = OutboxQueue.VoidUncoveredApprovals(c, now, user);
        OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
        var data = new Dictionary<string, string>
        {
            ["pull_requests"] = string.Join(' ', prs.Select(p => p.ToString())),
            ["jira_issues"] = string.Join(' ', keys),
            ["already_linked"] = string.Join(' ', already),
        };
        // Only what there is: the store keeps an empty value as null.
        foreach (var empty in data.Where(kv => kv.Value.Length == 0).Select(kv => kv.Key).ToList()) data.Remove(empty);
        return new([new AuditEvent { ChangeNumber = c.Id, At = now, Actor = user, Type = LinkAuditTypes.LinksAdded, Data = data }, .. voidedEvents],
            new LinkOutcome(null, added, already, stepsAdded));
    }
}

/// <summary>The thread note "&lt;@user&gt; linked acme/pay#42 and OPS-7 to BG-n". Key: "links-added:&lt;user&gt;:&lt;ref&gt; &lt;ref&gt;...".</summary>
internal sealed class LinksAddedNote(ChangeMessages messages) : IThreadNoteSource
{
    const string Prefix = "links-added:";
    public IReadOnlyCollection<string> Names => ["links-added"];

    public static string Key(string user, IEnumerable<string> refs) => $"{Prefix}{user}:{string.Join(' ', refs)}";

    /// <summary>"a", "a and b", "a, b and c".</summary>
    public static string Sentence(IReadOnlyList<string> items) =>
        items.Count <= 1 ? string.Join("", items) : string.Join(", ", items.Take(items.Count - 1)) + " and " + items[^1];

    public string? Render(EmergencyChange change, string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var colon = key.IndexOf(':', Prefix.Length);
        if (colon < 0) return null;
        var user = key[Prefix.Length..colon];
        var refs = key[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(r =>
            change.PullRequests.FirstOrDefault(p => p.Ref.ToString() == r) is { } pr ? Blocks.Link(pr.Ref.Url, r)
            : r.Contains('#') ? Blocks.Escape(r) : messages.JiraLink(r)).ToList();
        return $":link: {Blocks.Mention(user)} linked {Sentence(refs)} to {change.ChangeId}.";
    }
}
