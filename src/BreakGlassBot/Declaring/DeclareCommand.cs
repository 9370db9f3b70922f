using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>"/breakglass &lt;summary&gt; [links]" declares at once; "/breakglass" alone opens the declaration form.</summary>
internal sealed class DeclareCommand(Declarations declarations, ChangeMessages messages, DeclarerPolicy declarers, DeclarationModal modal, ISlackApi slack,
    LinkHosts hosts, ILogger<DeclareCommand> log)
{
    /// <summary>
    /// A declaration by command is keyed by its trigger_id (one per invocation): the same request handled twice, by two
    /// replicas or after a replay the answer store missed, is one change.
    /// </summary>
    public const string SourceKeyPrefix = "command:";

    public async Task<CommandReply> DeclareAsync(SlashCommand command, string text, CancellationToken ct = default)
    {
        var check = await declarers.CheckAsync(command.UserId, ct);
        if (check.Refusal is { } refusal) return new CommandReply(refusal);
        var parsed = DeclarationText.Parse(text, hosts);
        if (parsed.Problems.Count > 0)
            return new CommandReply(":warning: " + string.Join("\n", parsed.Problems.Select(Blocks.Escape))
                + "\nType `/breakglass <summary> https://github.com/<owner>/<repo>/pull/<n> ABC-123`, or just `/breakglass` for the form.");
        if (parsed.Summary.Length < 3)
            return new CommandReply(":warning: Say what you are changing and why: `/breakglass <summary> [PR URL] [JIRA-KEY]`, e.g. "
                + "`/breakglass Roll back payments deploy https://github.com/acme/pay/pull/42 OPS-7`");
        var summary = parsed.Summary.Length > DeclarationText.MaxSummaryLength ? TextCut.Cut(parsed.Summary, DeclarationText.MaxSummaryLength, "") : parsed.Summary;
        var justification = parsed.Summary.Length > DeclarationText.MaxSummaryLength ? parsed.Summary : null;

        var (change, _) = await declarations.DeclareAsync(new DeclarationRequest(command.UserId, command.UserName, summary, justification, null, null,
            parsed.PullRequests, parsed.JiraKeys,
            SourceKey: string.IsNullOrEmpty(command.TriggerId) ? null : SourceKeyPrefix + command.TriggerId, command.ChannelId, check.Unconfirmed));
        return messages.Confirmation(change);
    }

    public async Task<CommandReply> OpenModalAsync(SlashCommand command, CancellationToken ct)
    {
        if ((await declarers.CheckAsync(command.UserId, ct)).Refusal is { } refusal) return new CommandReply(refusal);
        if (string.IsNullOrEmpty(command.TriggerId))
            return new CommandReply("Type `/breakglass <summary> [PR URL] [JIRA-KEY]` to declare.");
        // trigger_id expires 3 s after the click: open the modal now, inside the request, with a budget.
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(ct);
        budget.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await slack.OpenViewAsync(command.TriggerId, modal.Build(command.ChannelId), budget.Token);
            return new CommandReply("");
        }
        catch (Exception e) when (e is SlackApiException or OperationCanceledException)
        {
            log.LogWarning("views.open failed for {User}: {Error}", command.UserId, (e as SlackApiException)?.Error ?? "timeout");
            return new CommandReply(":warning: Slack could not open the form just now. Declare in one line instead: "
                + "`/breakglass <summary> [PR URL] [JIRA-KEY]`");
        }
    }
}
